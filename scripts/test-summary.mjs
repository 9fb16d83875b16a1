// Reads the output of `pnpm test` (turbo-prefixed vitest output) and prints one line per package with its
// test counts, wire's coverage line, and a closing "N passed, N failed" total.
import { readFileSync } from 'node:fs';

const text = readFileSync(process.argv[2], 'utf8').replace(/\x1b\[[0-9;]*m/g, '');
const perPackage = new Map();
let coverage = '';
for (const line of text.split('\n')) {
  const m = /^(\S+?):test:\s+Tests\s+(.*)$/.exec(line);
  if (m) {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    for (const [, n, what] of m[2].matchAll(/(\d+) (passed|failed|skipped|todo)/g)) {
      if (what === 'todo') counts.skipped += Number(n);
      else counts[what] += Number(n);
    }
    perPackage.set(m[1], counts);
  }
  const c = /^@smtpkit\/wire:test:\s+(Lines\s+:.*)$/.exec(line);
  if (c) coverage = c[1];
}
let passed = 0, failed = 0, skipped = 0;
console.log('\n=== test summary');
for (const [pkg, c] of perPackage) {
  console.log(`${pkg.padEnd(20)} ${c.passed} passed, ${c.failed} failed${c.skipped ? `, ${c.skipped} skipped` : ''}`);
  passed += c.passed; failed += c.failed; skipped += c.skipped;
}
if (coverage) console.log(`@smtpkit/wire coverage: ${coverage}`);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
