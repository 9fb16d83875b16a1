// Reads test logs and prints what they counted, ending with one closing "N passed, N failed" total.
//
//   node scripts/test-summary.mjs LOG                      # the output of `pnpm test` (turbo-prefixed vitest)
//   node scripts/test-summary.mjs node20=LOG bun=LOG …     # the runtime matrix: one log per runtime
//
// A turbo log gives one line per package (and wire's coverage line); a log of the runtime end-to-end suite
// (apps/runtime-e2e) gives its own closing count. A log that counted nothing counts as one failure, so a
// runtime that never ran cannot pass unseen.
import { readFileSync } from 'node:fs';

function countsOf(text) {
  const counts = { passed: 0, failed: 0, skipped: 0 };
  for (const [, n, what] of text.matchAll(/(\d+) (passed|failed|skipped|todo)/g)) {
    if (what === 'todo') counts.skipped += Number(n);
    else counts[what] += Number(n);
  }
  return counts;
}

function format(c) {
  return `${c.passed} passed, ${c.failed} failed${c.skipped ? `, ${c.skipped} skipped` : ''}`;
}

/** Per-package counts of a turbo log, or the closing count of an end-to-end log. */
function read(file) {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    // a missing log counts nothing, like an empty one
  }
  text = text.replace(/\x1b\[[0-9;]*m/g, '');
  const perPackage = new Map();
  let coverage = '';
  let closing = null;
  for (const line of text.split('\n')) {
    const m = /^(\S+?):test:\s+Tests\s+(.*)$/.exec(line);
    if (m) perPackage.set(m[1], countsOf(m[2]));
    const c = /^@smtpkit\/wire:test:\s+(Lines\s+:.*)$/.exec(line);
    if (c) coverage = c[1];
    if (/^\d+ passed, \d+ failed(, \d+ skipped)?$/.test(line.trim())) closing = countsOf(line);
  }
  if (perPackage.size === 0 && closing) perPackage.set('end-to-end', closing);
  return { perPackage, coverage };
}

const args = process.argv.slice(2);
const runs = args.map((arg) => {
  const eq = arg.indexOf('=');
  return eq > 0 ? { label: arg.slice(0, eq), file: arg.slice(eq + 1) } : { label: '', file: arg };
});
const total = { passed: 0, failed: 0, skipped: 0 };
const lines = [];
for (const { label, file } of runs) {
  const { perPackage, coverage } = read(file);
  const sum = { passed: 0, failed: 0, skipped: 0 };
  const prefix = label ? `${label} ` : '';
  if (perPackage.size === 0) {
    sum.failed = 1;
    console.log(`${prefix}(no test counted: the run did not start or did not finish)`.trim());
  }
  for (const [pkg, c] of perPackage) {
    console.log(`${prefix}${pkg.padEnd(label ? 22 : 20)} ${format(c)}`);
    for (const k of Object.keys(sum)) sum[k] += c[k];
  }
  if (coverage) console.log(`${prefix}@smtpkit/wire coverage: ${coverage}`);
  if (label) lines.push(`${label.padEnd(8)} ${format(sum)}`);
  for (const k of Object.keys(total)) total[k] += sum[k];
}
if (lines.length > 1) {
  console.log('\n=== per runtime');
  for (const l of lines) console.log(l);
}
console.log(format(total));
