import { defineConfig } from 'tsup';

export default defineConfig({
  // run.ts runs under the runtime being tested; servers.ts always under Node (see README.md).
  entry: ['src/run.ts', 'src/servers.ts'],
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  dts: false,
  sourcemap: true,
  clean: true,
});
