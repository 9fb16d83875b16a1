import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createQueue, fileStore, redisStore, type MessageStatus, type Queue, type WorkerStep } from '../src/index.js';
import { seededRandom, startLedgerSink, type SinkFaults } from '../test/support/ledger-sink.js';
import { startRedis, type PrivateRedis } from '../test/support/redis.js';
import { checkRound, type Violation } from './oracle.js';
import { startProxy, type CuttableProxy } from './proxy.js';

const here = dirname(fileURLToPath(import.meta.url));
const STEPS: WorkerStep[] = ['claimed', 'rcpt-done', 'data-ended', 'replied', 'persisted'];
const KINDS = ['ok', 'ok', 'ok', 'defer1', 'defer2', 'bounce', 'slow', 'defer99'];
const QUIESCENCE_TIMEOUT = 90_000;
const SESSION_LIMIT = 2;

/** Which store a round runs on. */
export type ChaosStore = 'file' | 'redis';

/** What one round did and found. */
export interface RoundReport {
  seed: number;
  store: ChaosStore;
  messages: number;
  recipients: number;
  delivered: number;
  /** Workers SIGKILLed (at hook points or by the runner). */
  kills: number;
  /** Redis SIGKILLed and restarted from its AOF; worker↔Redis connections cut. */
  redisKills: number;
  cuts: number;
  /** Redis enqueues cut between storing the message and adding its jobs. */
  enqueueCuts: number;
  ambiguous: number;
  duplicates: number;
  /** Longest time from the delivering worker's death to the next worker's start, ms (file spool). */
  maxResumeMs: number;
  violations: Violation[];
  ms: number;
}

interface Child {
  process: ChildProcess;
  exited: Promise<void>;
}

/** The id the queue gives the DSN of message `id` (its idempotency key is `dsn:<id>`). */
function dsnIdOf(id: string): string {
  return `k${createHash('sha256').update(`dsn:${id}`).digest('hex').slice(0, 26)}`;
}

let bundled: Promise<string> | undefined;

/**
 * The worker program, bundled once per runner process (the package's own sources; its dependencies stay imports):
 * a round starts and replaces many workers, and a bundle starts in about half the time of the TypeScript loader,
 * which also shortens every replacement's start after a kill.
 */
function workerScript(): Promise<string> {
  bundled ??= (async () => {
    const outDir = join(here, '..', 'node_modules', '.cache', 'smtpkit-chaos', String(process.pid));
    process.once('exit', () => rmSync(outDir, { recursive: true, force: true }));
    const { build } = await import('tsup');
    await build({
      entry: { worker: join(here, 'worker.ts') }, outDir, format: ['esm'], platform: 'node', target: 'node20', config: false,
      silent: true, dts: false, sourcemap: false, splitting: false, outExtension: () => ({ js: '.mjs' }),
    });
    return join(outDir, 'worker.mjs');
  })();
  return bundled;
}

function startWorker(script: string, args: object, onOwner: (child: ChildProcess, at: number) => void): Child {
  const child = spawn(process.execPath, [script, JSON.stringify(args)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    cwd: join(here, '..'),
  });
  child.stdout?.setEncoding('utf8').on('data', (text: string) => {
    for (const m of text.matchAll(/^owner (\d+)$/gm)) onOwner(child, Number(m[1]));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { process: child, exited };
}

async function statusesOf(queue: Queue, ids: string[]): Promise<MessageStatus[]> {
  const out: MessageStatus[] = [];
  for (const id of ids) {
    for (const candidate of [id, dsnIdOf(id)]) {
      const s = await queue.status(candidate);
      if (s !== undefined) out.push(s);
    }
  }
  return out;
}

/**
 * One chaos round, determined by `seed` (the faults, the messages, the kill points): 2–4 worker processes share a
 * spool or a Redis, the runner queues messages before and during the round, workers die at hook points or by the
 * runner's SIGKILL and are replaced; on Redis, Redis itself is SIGKILLed and restarted from its AOF and the
 * workers' connections are cut through a loopback proxy. After quiescence the oracle checks the store against the
 * sink's ledger.
 */
export async function runRound(seed: number, store: ChaosStore = 'file'): Promise<RoundReport> {
  const script = await workerScript();
  const started = Date.now();
  const random = seededRandom(seed);
  const work = await mkdtemp(join(tmpdir(), `smtpkit-chaos-${store}-${seed}-`));
  const spool = join(work, 'spool');
  const faults: SinkFaults = {
    greeting421: random() < 0.3 ? 0.1 : 0,
    dropAfterDot: random() < 0.4 ? 0.08 : 0,
    dropBeforeAccept: random() < 0.3 ? 0.05 : 0,
    delayReply: random() < 0.2 ? 0.05 : 0,
    delayMs: 1500,
    ...(random() < 0.3 ? { maxRecipients: 2 } : {}),
  };
  const sink = await startLedgerSink({ faults, seed: seed ^ 0x5eed, ledgerPath: join(work, 'ledger.jsonl') });
  let redis: PrivateRedis | undefined;
  let proxy: CuttableProxy | undefined;
  if (store === 'redis') {
    redis = await startRedis();
    proxy = await startProxy(redis.port);
  }
  const prefix = `chaos${seed}`;
  const workerCount = 2 + Math.floor(random() * 3);
  const children = new Set<Child>();
  let kills = 0;
  let redisKills = 0;
  let cuts = 0;
  const owners: number[] = [];
  const ownerKills: number[] = [];
  let owner: ChildProcess | undefined;
  let spawned = 0;
  let storm = true;
  const spawnOne = (): void => {
    // During the storm most workers die at a hook point; replacements after it are left alone so the round settles.
    const killStep = storm && random() < 0.8 ? STEPS[Math.floor(random() * STEPS.length)] : undefined;
    const child = startWorker(
      script,
      {
        store, spool, redis: `redis://127.0.0.1:${proxy?.port ?? 0}`, prefix, port: sink.port, seed: seed * 31 + spawned++,
        killStep, killChance: 0.05, sessions: SESSION_LIMIT,
      },
      (process, at) => {
        owners.push(at);
        owner = process;
      },
    );
    children.add(child);
    void child.exited.then(() => {
      children.delete(child);
      if (child.process.signalCode === 'SIGKILL') {
        kills++;
        if (store === 'file' && owner === child.process) ownerKills.push(Date.now());
      }
    });
  };
  // On Redis some enqueues are cut between storing the message and adding its jobs, as if the producer died there:
  // the workers' repair sweep must find them.
  let cutEnqueue: string | undefined;
  let enqueueCuts = 0;
  const producer = await createQueue({
    store: store === 'redis'
      ? redisStore({
        url: (redis as PrivateRedis).url, prefix,
        onEnqueueStep: (_step, id) => {
          if (random() >= 0.1) return;
          cutEnqueue = id;
          throw new Error('chaos: enqueue cut before its jobs were added');
        },
      })
      : fileStore({ dir: spool }),
  });
  const queued: Array<{ id: string; key: string; from: string }> = [];
  let n = 0;
  const enqueueSome = async (count: number): Promise<void> => {
    for (let i = 0; i < count; i++, n++) {
      const key = `<s${seed}-m${n}@chaos.test>`;
      const rcpts = Array.from({ length: 1 + Math.floor(random() * 5) }, (_, j) => `${KINDS[Math.floor(random() * KINDS.length)]}-${n}-${j}@dest.test`);
      const from = random() < 0.1 ? '' : `sender-${n}@chaos.test`;
      const raw = `From: sender@chaos.test\r\nTo: list@dest.test\r\nSubject: chaos ${seed}/${n}\r\nMessage-ID: ${key}\r\n\r\nround ${seed} message ${n}\r\n`;
      cutEnqueue = undefined;
      try {
        const { id } = await producer.enqueue({ from, to: rcpts, raw });
        queued.push({ id, key, from });
      } catch (error) {
        if (cutEnqueue === undefined) throw error;
        enqueueCuts++;
        queued.push({ id: cutEnqueue, key, from });
      }
    }
  };
  let report: RoundReport | undefined;
  try {
    await enqueueSome(10 + Math.floor(random() * 10));
    for (let i = 0; i < workerCount; i++) spawnOne();
    const deadline = Date.now() + QUIESCENCE_TIMEOUT;
    let statuses: MessageStatus[] = [];
    for (let tick = 0; Date.now() < deadline; tick++) {
      if (tick < 6 && random() < 0.5) await enqueueSome(1 + Math.floor(random() * 3));
      if (tick < 10 && random() < 0.2) [...children][Math.floor(random() * children.size)]?.process.kill('SIGKILL');
      if (redis !== undefined && tick < 10 && random() < 0.1) {
        await redis.kill();
        redisKills++;
        await sleep(100 + Math.floor(random() * 400));
        await redis.restart();
      }
      if (proxy !== undefined && tick < 10 && random() < 0.2) {
        proxy.cut();
        cuts++;
      }
      if (tick === 10) storm = false;
      while (children.size < workerCount && spawned < workerCount + 40) spawnOne();
      await sleep(200);
      if (tick >= 10) {
        statuses = await statusesOf(producer, queued.map((q) => q.id));
        const byId = new Map(statuses.map((s) => [s.id, s]));
        // Settled: every message final, and every DSN owed queued and final too.
        const settled = queued.every((q) => {
          const s = byId.get(q.id);
          if (s === undefined || !s.final) return false;
          const owesDsn = q.from !== '' && s.recipients.some((r) => r.state === 'bounced' || r.state === 'expired');
          return !owesDsn || byId.get(dsnIdOf(q.id))?.final === true;
        });
        if (settled && (store === 'redis' || (await readdir(join(spool, 'incoming'))).length === 0)) break;
      }
    }
    const result = checkRound({ statuses, ledger: sink.entries, queued, maxSessions: sink.maxSessions, sessionLimit: SESSION_LIMIT, dsnIdOf });
    let maxResumeMs = 0;
    for (const k of ownerKills) {
      const next = owners.find((o) => o > k);
      if (next !== undefined) maxResumeMs = Math.max(maxResumeMs, next - k);
    }
    report = {
      seed, store, messages: queued.length, recipients: statuses.reduce((a, s) => a + s.recipients.length, 0), delivered: result.delivered,
      kills, redisKills, cuts, enqueueCuts, ambiguous: result.ambiguous, duplicates: result.duplicates, maxResumeMs, violations: result.violations,
      ms: Date.now() - started,
    };
    return report;
  } finally {
    for (const c of children) c.process.kill('SIGKILL');
    await Promise.all([...children].map((c) => c.exited));
    await producer.close();
    await sink.close();
    await proxy?.close();
    await redis?.stop();
    if (report !== undefined && report.violations.length === 0) await rm(work, { recursive: true, force: true });
  }
}
