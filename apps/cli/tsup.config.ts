import { defineConfig } from 'tsup';

// The CLI is bundled (its dependencies included) so a cold start loads one file.
export default defineConfig({
  entry: { cli: 'src/cli.ts' },
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  dts: false,
  sourcemap: true,
  clean: true,
  // @smtpkit/inbox serves its web page from its own package folder; BullMQ loads its Lua scripts from its own files.
  noExternal: [/^(?!(?:@smtpkit\/inbox|bullmq|ioredis)(?:\/|$))/],
  external: ['@smtpkit/inbox', 'bullmq', 'ioredis'],
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
});
