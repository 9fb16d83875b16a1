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
  // @smtpkit/inbox stays a dependency: it serves its web page from its own package folder.
  noExternal: [/^(?!@smtpkit\/inbox(\/|$))/],
  external: ['@smtpkit/inbox'],
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
});
