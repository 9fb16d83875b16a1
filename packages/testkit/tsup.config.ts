import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', 'browser-cli': 'src/browser-cli.ts' },
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  dts: true,
  sourcemap: true,
  clean: true,
  // A test-only devDependency: loaded from node_modules at run time, never bundled.
  external: ['oidc-provider'],
});
