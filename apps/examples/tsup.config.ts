import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/lab.ts', 'src/campus.ts', 'src/external.ts', 'src/rich.ts', 'src/demo.ts', 'src/queue-scale-out.ts'],
  // The Redis store's peers stay outside the bundle (BullMQ reads its Lua scripts from its own files).
  external: ['bullmq', 'ioredis'],
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  dts: false,
  sourcemap: true,
  clean: true,
  // each entry runs as a program (`node dist/lab.js`): no shared chunks, so its main check sees its own URL
  splitting: false,
});
