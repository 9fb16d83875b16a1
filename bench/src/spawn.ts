import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { RESULT_MARKER, type Job, type JobResult } from './jobs.js';

const WORKER = fileURLToPath(new URL('./worker.js', import.meta.url));

/** Output of a child process that ran to its end (or was killed at its time limit). */
interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
  wallMs: number;
  timedOut: boolean;
}

/** Spawns a command, collects its output, kills it (and only it) once `timeoutMs` has passed. */
export async function run(
  command: string,
  args: readonly string[],
  timeoutMs: number,
  stdout: 'pipe' | 'ignore' = 'pipe',
): Promise<Finished> {
  const t0 = performance.now();
  const child = spawn(command, args, { stdio: ['ignore', stdout, 'pipe'] });
  let out = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c) => resolve(c));
  }).finally(() => clearTimeout(timer));
  return { code, stdout: out, stderr, wallMs: performance.now() - t0, timedOut };
}

function failure(what: string, f: Finished, timeoutMs: number): Error {
  if (f.timedOut) return new Error(`${what}: no result within ${Math.round(timeoutMs / 1000)} s`);
  const detail = (f.stderr.trim().split('\n').pop() ?? '').slice(0, 200);
  return new Error(`${what}: exit ${f.code}${detail ? ` (${detail})` : ''}`);
}

/** Runs one Job in a fresh Node process; `nodeFlags` (e.g. --cpu-prof) go before the script. */
export async function runJob(job: Job, timeoutMs: number, nodeFlags: readonly string[] = []): Promise<JobResult> {
  const f = await run(process.execPath, [...nodeFlags, WORKER, JSON.stringify(job)], timeoutMs);
  const line = f.stdout.split('\n').find((l) => l.startsWith(RESULT_MARKER));
  if (f.code !== 0 || !line) throw failure(`${job.client} ${job.kind}`, f, timeoutMs);
  return JSON.parse(line.slice(RESULT_MARKER.length)) as JobResult;
}

/** A native command measured from outside: wall clock here, CPU and peak RSS from GNU time. */
export interface NativeResult {
  wallMs: number;
  cpuUs: number;
  maxRssKiB: number;
}

/** Runs `command` under `/usr/bin/time` (its getrusage of the child), stdout discarded. */
export async function runNative(command: string, args: readonly string[], timeoutMs: number): Promise<NativeResult> {
  const f = await run('/usr/bin/time', ['-f', '@@rusage %U %S %M', command, ...args], timeoutMs, 'ignore');
  const line = f.stderr.split('\n').find((l) => l.startsWith('@@rusage '));
  if (f.code !== 0 || !line) throw failure(command, f, timeoutMs);
  const [user, system, rss] = line.slice('@@rusage '.length).split(' ').map(Number);
  return { wallMs: f.wallMs, cpuUs: ((user ?? NaN) + (system ?? NaN)) * 1e6, maxRssKiB: rss ?? NaN };
}
