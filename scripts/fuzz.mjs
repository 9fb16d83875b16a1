#!/usr/bin/env node
// Long fuzzing run: the property-based tests that `pnpm test` runs briefly, with raised bounds.
//
//   pnpm fuzz                       # FUZZ_RUNS=5000 per property, at most FUZZ_TIME_MS=300000 each
//   FUZZ_RUNS=50000 FUZZ_TIME_MS=1800000 pnpm fuzz
//   FUZZ_SEED=123456 pnpm fuzz      # replay the seed a failing run printed
//
// Every property prints its seed. A failure found here becomes a named regression test beside the
// property (see docs/SECURITY.md).
import { spawnSync } from 'node:child_process';

const env = { ...process.env };
env.FUZZ_RUNS ??= '5000';
env.FUZZ_TIME_MS ??= '300000';

/** [package, test files] — each package runs only its fuzz files. */
const targets = [
  ['@smtpkit/client', ['test/fuzz']],
  ['@smtpkit/mime', ['test/fuzz.test.ts']],
];

function run(args) {
  const r = spawnSync('pnpm', args, { stdio: 'inherit', env });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

console.log(`fuzz: FUZZ_RUNS=${env.FUZZ_RUNS} FUZZ_TIME_MS=${env.FUZZ_TIME_MS}${env.FUZZ_SEED ? ` FUZZ_SEED=${env.FUZZ_SEED}` : ''}`);
// The tests import the workspace packages from their build output.
let status = run(['exec', 'turbo', 'run', 'build', '--filter=@smtpkit/client...', '--filter=@smtpkit/mime...', '--output-logs=errors-only']);
if (status !== 0) process.exit(status);

const testTimeout = String(Number(env.FUZZ_TIME_MS) + 60_000);
for (const [name, files] of targets) {
  const code = run(['--filter', name, 'exec', 'vitest', 'run', '--testTimeout', testTimeout, ...files]);
  if (code !== 0) status = code;
}
process.exit(status);
