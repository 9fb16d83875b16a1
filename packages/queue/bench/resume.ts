// How long a killed worker's job waits before another worker delivers it: a worker process is SIGKILLed in the
// middle of a session (after its RCPTs were accepted), a second worker process is already running; the time is
// from the kill to the sink's ledger entry for the recipient the dead worker was carrying.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createQueue, fileStore, redisStore, type Queue } from '../src/index.js';
import { startLedgerSink, type LedgerSink } from '../test/support/ledger-sink.js';
import { startRedis, type PrivateRedis } from '../test/support/redis.js';

const chaosWorker = join(dirname(fileURLToPath(import.meta.url)), '..', 'chaos', 'worker.ts');

interface WorkerProcess {
  child: ChildProcess;
  /** Resolves with the first line starting with `word`, split on spaces. */
  line(word: string, timeoutMs: number): Promise<string[]>;
  exited: Promise<void>;
}

function startWorker(args: object): WorkerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', chaosWorker, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'inherit'], cwd: join(dirname(chaosWorker), '..') });
  const lines: string[][] = [];
  const waiters: Array<() => void> = [];
  let text = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    text += chunk;
    for (let eol = text.indexOf('\n'); eol >= 0; eol = text.indexOf('\n')) {
      lines.push(text.slice(0, eol).split(' '));
      text = text.slice(eol + 1);
    }
    for (const w of waiters.splice(0)) w();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    exited,
    async line(word, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = lines.find((l) => l[0] === word);
        if (found !== undefined) return found;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`bench: no "${word}" line from a worker within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(left, 100));
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
  };
}

async function until<T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`bench: ${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** One kill and takeover; returns ms from the kill to the delivery by the other worker. */
async function once(store: 'file' | 'redis', sink: LedgerSink, redis: PrivateRedis | undefined, trial: number): Promise<number> {
  const work = await mkdtemp(join(tmpdir(), 'smtpkit-bench-resume-'));
  const prefix = `resume${trial}`;
  const common = {
    store, spool: join(work, 'spool'), redis: redis?.url ?? '', prefix, port: sink.port, sessions: 8, killChance: 1,
    // The product's own lock duration (BullMQ job lock, redisStore default) and retry schedule are what is measured.
    lockDuration: 3000, realRetry: true,
  };
  const producer: Queue = await createQueue({ store: store === 'redis' ? redisStore({ url: redis!.url, prefix }) : fileStore({ dir: common.spool }) });
  const victim = startWorker({ ...common, seed: trial, killStep: 'rcpt-done' });
  let other: WorkerProcess | undefined;
  try {
    await victim.line('owner', 30_000);
    other = startWorker({ ...common, seed: trial + 1000 });
    // The file spool's second process waits for the lock (it reports `owner` only once it holds it).
    await other.line(store === 'file' ? 'started' : 'owner', 30_000);
    for (let i = 0; i < 50; i++) {
      await producer.enqueue({ from: 'bench@bench.test', to: [`ok-${trial}-${i}@relay.test`], raw: `Subject: resume ${trial}/${i}\r\nMessage-ID: <resume-${trial}-${i}@bench.test>\r\n\r\nx\r\n` });
      const killed = await victim.line('kill', 1000).catch(() => undefined);
      if (killed === undefined) continue;
      const at = Number(killed[1]);
      const rcpts = JSON.parse(killed[2] ?? '[]') as string[];
      const delivered = await until(() => sink.entries.find((e) => e.rcpt === rcpts[0])?.at, 60_000, `the killed worker's recipient was not delivered`);
      return delivered - at;
    }
    throw new Error('bench: the worker that was to die never took a job');
  } finally {
    victim.child.kill('SIGKILL');
    other?.child.kill('SIGKILL');
    await Promise.all([victim.exited, other?.exited]);
    await producer.close();
    await rm(work, { recursive: true, force: true });
  }
}

/** Resume times over `trials` kills for one store, ms: median and worst. */
export async function resumeAfterKill(store: 'file' | 'redis', trials: number): Promise<{ median: number; max: number }> {
  const sink = await startLedgerSink();
  const redis = store === 'redis' ? await startRedis() : undefined;
  try {
    const times: number[] = [];
    for (let t = 0; t < trials; t++) times.push(await once(store, sink, redis, t));
    times.sort((a, b) => a - b);
    return { median: times[Math.floor(times.length / 2)] ?? 0, max: times[times.length - 1] ?? 0 };
  } finally {
    await sink.close();
    await redis?.stop();
  }
}
