// `pnpm --filter @smtpkit/mime bench`: build a message with a large attachment into a discarding sink,
// smtpkit beside nodemailer's MailComposer, each measurement in its own child process (honest peak RSS).
// Throughput is attachment MiB per second of wall time. MIME_BENCH_SIZES=10,100 (MiB) picks sizes;
// MIME_BENCH_RUNS=3 repeats each (the median is reported). The script builds dist first.
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';

interface Result {
  library: string;
  size: number;
  output: number;
  seconds: number;
  mibPerSecond: number;
  cpuSeconds: number;
  mibPerCpuSecond: number;
  peakRssMb: number;
}

const MiB = 1024 * 1024;
const sizes = (process.env.MIME_BENCH_SIZES ?? '10,100,1024').split(',').map((s) => Number(s) * MiB);
const runs = Number(process.env.MIME_BENCH_RUNS ?? 3);
const worker = fileURLToPath(new URL('./worker.mjs', import.meta.url));
const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));
if (!existsSync(dist)) throw new Error('build first: pnpm --filter @smtpkit/mime build');

function measure(library: string, size: number): Result {
  const out = execFileSync(process.execPath, [worker, library, String(size)], { encoding: 'utf8', timeout: 15 * 60_000 });
  return JSON.parse(out) as Result;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

const baseline = measure('baseline', 0);
console.log(`node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}); idle worker peak RSS ${baseline.peakRssMb.toFixed(0)} MB`);
const rows: string[] = [];
for (const size of sizes) {
  const results: Record<string, Result[]> = { smtpkit: [], nodemailer: [] };
  const n = size >= 1024 * MiB ? Math.min(runs, 2) : runs;
  for (let i = 0; i < n; i++) {
    // Alternate who goes first, so neither always gets a cold or a warm machine.
    for (const library of i % 2 === 0 ? ['smtpkit', 'nodemailer'] : ['nodemailer', 'smtpkit']) {
      const r = measure(library, size);
      (results[library] as Result[]).push(r);
      console.log(
        `  ${library.padEnd(10)} ${String(size / MiB).padStart(5)} MiB  ${r.mibPerSecond.toFixed(0).padStart(5)} MiB/s  ${r.mibPerCpuSecond.toFixed(0).padStart(5)} MiB/CPU-s  peak RSS ${r.peakRssMb.toFixed(0)} MB`,
      );
    }
  }
  const ours = median((results.smtpkit as Result[]).map((r) => r.mibPerSecond));
  const theirs = median((results.nodemailer as Result[]).map((r) => r.mibPerSecond));
  const oursCpu = median((results.smtpkit as Result[]).map((r) => r.mibPerCpuSecond));
  const theirsCpu = median((results.nodemailer as Result[]).map((r) => r.mibPerCpuSecond));
  const oursRss = Math.max(...(results.smtpkit as Result[]).map((r) => r.peakRssMb));
  const theirsRss = Math.max(...(results.nodemailer as Result[]).map((r) => r.peakRssMb));
  rows.push(
    `| ${size / MiB} MiB | ${ours.toFixed(0)} | ${theirs.toFixed(0)} | **${(ours / theirs).toFixed(1)}x** | ${oursCpu.toFixed(0)} | ${theirsCpu.toFixed(0)} | **${(oursCpu / theirsCpu).toFixed(1)}x** | ${oursRss.toFixed(0)} | ${theirsRss.toFixed(0)} |`,
  );
}
const table = [
  '| attachment | smtpkit MiB/s | nodemailer MiB/s | ratio | smtpkit MiB/CPU-s | nodemailer MiB/CPU-s | CPU ratio | smtpkit peak RSS MB | nodemailer peak RSS MB |',
  '|---|---|---|---|---|---|---|---|---|',
  ...rows,
].join('\n');
console.log(`\n${table}`);
const results = fileURLToPath(new URL('./results.md', import.meta.url));
writeFileSync(
  results,
  `# buildMessage vs nodemailer MailComposer\n\nText + HTML + one attachment streamed from a generator of 64 KiB chunks into a discarding sink; ` +
    `each cell is the median of ${runs} child processes (at most 2 for 1 GiB); peak RSS is the largest seen. MiB/s is wall time, MiB/CPU-s is user+system CPU time (steadier on a busy machine); module loading is excluded and each library first builds one 64 MiB message (measured warm, steady state). Idle worker peak RSS: ${baseline.peakRssMb.toFixed(0)} MB. ` +
    `Node ${process.version}, ${cpus().length} CPUs, ${new Date().toISOString().slice(0, 10)}.\n\n${table}\n`,
);
