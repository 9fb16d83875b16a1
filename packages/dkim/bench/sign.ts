// `pnpm --filter @smtpkit/dkim bench`: DKIM signing cost beside mailauth (npm), each measurement in its own
// child process (honest peak RSS), as ratios:
//   - the ~2 KB message: µs per message, RSA-2048 and Ed25519, relaxed/relaxed;
//   - a 100 MiB message with two signatures (RSA + Ed25519): MiB/s and peak RSS; smtpkit reads it twice
//     (sign, then the stream a send reads), mailauth holds it in memory; one SHA-256 pass is the floor.
// DKIM_BENCH_QUICK=1 runs tiny sizes (proves the harness works). The script builds dist first.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';

const quick = process.env.DKIM_BENCH_QUICK === '1';
const MiB = 1024 * 1024;
const count = quick ? 200 : 3000;
const bytes = (quick ? 4 : 100) * MiB;
const runs = quick ? 1 : 3;
const worker = fileURLToPath(new URL('./worker.mjs', import.meta.url));

interface Small { library: string; usPerMessage: { rsa: number; ed25519: number }; peakRssMb: number }
interface Large { library: string; mibPerSecond: number; peakRssMb: number }

function measure<T>(...args: string[]): T {
  return JSON.parse(execFileSync(process.execPath, [worker, ...args], { encoding: 'utf8', timeout: 15 * 60_000 })) as T;
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

const small: Record<string, Small[]> = { smtpkit: [], mailauth: [] };
const large: Record<string, Large[]> = { smtpkit: [], mailauth: [], sha256: [] };
for (let i = 0; i < runs; i++) {
  for (const lib of i % 2 === 0 ? ['smtpkit', 'mailauth'] : ['mailauth', 'smtpkit']) (small[lib] as Small[]).push(measure<Small>('small', lib, String(count)));
  for (const lib of ['smtpkit', 'mailauth', 'sha256']) (large[lib] as Large[]).push(measure<Large>('large', lib, String(bytes)));
}
const us = (lib: string, alg: 'rsa' | 'ed25519'): number => median((small[lib] as Small[]).map((r) => r.usPerMessage[alg]));
const mibs = (lib: string): number => median((large[lib] as Large[]).map((r) => r.mibPerSecond));
const rss = (lib: string): number => Math.max(...(large[lib] as Large[]).map((r) => r.peakRssMb));

const table = [
  '| case | smtpkit | mailauth | ratio (mailauth / smtpkit cost) |',
  '|---|---|---|---|',
  `| ~2 KB, RSA-2048: µs/message | ${us('smtpkit', 'rsa').toFixed(0)} | ${us('mailauth', 'rsa').toFixed(0)} | **${(us('mailauth', 'rsa') / us('smtpkit', 'rsa')).toFixed(2)}x** |`,
  `| ~2 KB, Ed25519: µs/message | ${us('smtpkit', 'ed25519').toFixed(0)} | ${us('mailauth', 'ed25519').toFixed(0)} | **${(us('mailauth', 'ed25519') / us('smtpkit', 'ed25519')).toFixed(2)}x** |`,
  `| ${bytes / MiB} MiB, RSA + Ed25519: MiB/s | ${mibs('smtpkit').toFixed(0)} (two passes) | ${mibs('mailauth').toFixed(0)} | **${(mibs('smtpkit') / mibs('mailauth')).toFixed(2)}x** |`,
  `| ${bytes / MiB} MiB: peak RSS MB | ${rss('smtpkit').toFixed(0)} | ${rss('mailauth').toFixed(0)} | **${(rss('mailauth') / rss('smtpkit')).toFixed(1)}x** less |`,
  `| ${bytes / MiB} MiB: one SHA-256 pass (floor), MiB/s | ${mibs('sha256').toFixed(0)} | | smtpkit at **${(mibs('smtpkit') / mibs('sha256')).toFixed(2)}x** of the floor |`,
].join('\n');
console.log(table);
if (!quick) {
  writeFileSync(
    fileURLToPath(new URL('./results.md', import.meta.url)),
    `# DKIM signing: smtpkit vs mailauth\n\nMedians of ${runs} child processes each (${count} signatures per small run, after 200 unmeasured); ` +
      `Node ${process.version}, ${cpus().length} CPUs, ${new Date().toISOString().slice(0, 10)}.\n\n${table}\n`,
  );
}
