// pnpm --filter @smtpkit/queue bench    (SMTPKIT_BENCH_QUICK=1: a smoke run with tiny sizes;
// SMTPKIT_BENCH_ONLY=deliveries,enqueue,redis,mixed,resume,redis-deliveries: a subset; only a full run writes
// bench/results.md)
//
// The queue's measured goals, side by side with the peer where there is one:
//   1. deliveries per second through the file spool to a loopback sink, against Postfix 3.7 relaying to the same sink
//   2. durable fileStore enqueues per second (each one fsynced before it resolves)
//   3. Redis memory per queued job, bodies outside Redis (blobDir)
//   4. how long a SIGKILLed worker's job waits before another worker process delivers it, both stores
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPool } from '@smtpkit/client';
import { startPostfix } from '@smtpkit/testkit';
import { createQueue, fileStore, redisStore } from '../src/index.js';
import { startLedgerSink } from '../test/support/ledger-sink.js';
import { startRedis } from '../test/support/redis.js';
import { resumeAfterKill } from './resume.js';

const QUICK = process.env.SMTPKIT_BENCH_QUICK === '1';
const N = QUICK ? 200 : 3000;
const BODY = `${'x'.repeat(76)}\r\n`.repeat(24); // ~2 KB

function message(i: number): string {
  return `From: bench@bench.test\r\nTo: rcpt@relay.test\r\nSubject: bench ${i}\r\nMessage-ID: <b${i}-${Date.now()}@bench.test>\r\n\r\n${BODY}`;
}

async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('bench: timed out waiting for the sink');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Messages accepted durably and relayed to the sink per second: enqueue while the worker delivers (file spool, or
 * Redis with one worker process of concurrency 8 carrying up to `messagesPerSession` messages per session).
 */
async function queueDeliveries(kind: 'file' | 'redis'): Promise<number> {
  const sink = await startLedgerSink();
  const dir = await mkdtemp(join(tmpdir(), 'smtpkit-bench-spool-'));
  const redis = kind === 'redis' ? await startRedis() : undefined;
  const queue = await createQueue({
    store: redis !== undefined ? redisStore({ url: redis.url, prefix: 'deliveries' }) : fileStore({ dir }),
    ...(redis !== undefined ? { limits: { default: { sessions: 8, messagesPerSession: 100 } } } : {}),
  });
  try {
    const worker = queue.worker({ concurrency: 8, deliver: { host: '127.0.0.1', port: sink.port, tls: 'none' } });
    await worker.ready;
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < N) await queue.enqueue({ from: 'bench@bench.test', to: ['rcpt@relay.test'], raw: message(next++) });
      }),
    );
    await until(() => sink.entries.length >= N, 600_000);
    const seconds = (performance.now() - started) / 1000;
    await worker.close();
    return N / seconds;
  } finally {
    await queue.close();
    await sink.close();
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The same through Postfix 3.7: smtpd takes each message into its queue, qmgr/smtp relay it to the sink. */
async function postfixDeliveries(): Promise<number> {
  const sink = await startLedgerSink();
  const postfix = await startPostfix({
    domains: ['local.test'],
    extraMainCf: {
      relay_domains: 'relay.test',
      relayhost: `[127.0.0.1]:${sink.port}`,
      relay_transport: 'smtp',
      default_transport: 'smtp',
      smtp_tls_security_level: 'none',
      smtp_helo_name: 'postfix.bench.test',
      smtp_destination_concurrency_limit: '8',
      default_destination_concurrency_limit: '8',
      relay_destination_concurrency_limit: '8',
    },
  });
  const pool = createPool({ host: '127.0.0.1', port: postfix.port, tls: 'none', maxConnections: 8 });
  try {
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < N) await pool.send({ from: 'bench@bench.test', to: ['rcpt@relay.test'], data: message(next++) });
      }),
    );
    await until(() => sink.entries.length >= N, 600_000);
    return N / ((performance.now() - started) / 1000);
  } finally {
    await pool.close();
    await postfix.stop();
    await sink.close();
  }
}

/** Durable enqueues per second into the file spool: one at a time, 4 and 16 at once (they share fsyncs). */
async function enqueueRate(inFlight: number): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'smtpkit-bench-spool-'));
  const queue = await createQueue({ store: fileStore({ dir }) });
  try {
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < N) await queue.enqueue({ from: 'bench@bench.test', to: ['rcpt@relay.test'], raw: message(next++) });
      }),
    );
    return N / ((performance.now() - started) / 1000);
  } finally {
    await queue.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Redis `used_memory` per queued job (one message, one recipient, its BullMQ job), bodies in `blobDir`. */
async function redisBytesPerJob(): Promise<number> {
  const redis = await startRedis();
  const blobDir = await mkdtemp(join(tmpdir(), 'smtpkit-bench-blobs-'));
  const { Redis } = await import('ioredis');
  const admin = new Redis(redis.url);
  const queue = await createQueue({ store: redisStore({ url: redis.url, prefix: 'bench', blobDir, inlineBodyMax: 0 }) });
  try {
    await queue.enqueue({ from: 'bench@bench.test', to: ['rcpt@relay.test'], raw: message(-1) }); // scripts, queue keys
    const used = async (): Promise<number> => Number(/used_memory:(\d+)/.exec(await admin.info('memory'))?.[1] ?? 0);
    const before = await used();
    for (let i = 0; i < N; i++) await queue.enqueue({ from: 'bench@bench.test', to: [`rcpt${i}@relay.test`], raw: message(i) });
    return ((await used()) - before) / N;
  } finally {
    await queue.close();
    admin.disconnect();
    await redis.stop();
    await rm(blobDir, { recursive: true, force: true });
  }
}

/**
 * Mixed 250/4xx: every message goes to `ok-i` (250) and `defer1-i` (451 once, then 250). Counts copies the sink got
 * beyond one per recipient (re-sends after a 250) and recipients it never got, for @smtpkit/queue and for the usual
 * nodemailer + BullMQ recipe (one job per message; a rejected recipient throws so BullMQ retries the job).
 */
async function mixedRuns(): Promise<{ ours: { resent: number; lost: number }; recipe: { resent: number; lost: number } }> {
  const count = QUICK ? 20 : 200;
  const tally = (entries: Array<{ key: string; rcpt: string }>, prefix: string) => {
    const copies = new Map<string, number>();
    for (const e of entries) copies.set(`${e.key} ${e.rcpt}`, (copies.get(`${e.key} ${e.rcpt}`) ?? 0) + 1);
    let resent = 0;
    let lost = 0;
    for (let i = 0; i < count; i++) {
      for (const rcpt of [`ok-${prefix}${i}@relay.test`, `defer1-${prefix}${i}@relay.test`]) {
        const n = copies.get(`<${prefix}${i}@bench.test> ${rcpt}`) ?? 0;
        if (n === 0) lost++;
        else resent += n - 1;
      }
    }
    return { resent, lost };
  };
  const raw = (prefix: string, i: number) => `From: bench@bench.test\r\nTo: list@relay.test\r\nSubject: mixed ${i}\r\nMessage-ID: <${prefix}${i}@bench.test>\r\n\r\n${BODY}`;
  const distinct = (prefix: string): number => new Set(sink.entries.filter((e) => e.key.startsWith(`<${prefix}`)).map((e) => `${e.key} ${e.rcpt}`)).size;
  const redis = await startRedis();
  const sink = await startLedgerSink();
  try {
    const queue = await createQueue({ store: redisStore({ url: redis.url, prefix: 'mixed' }), retry: { schedule: [50], giveUpAfter: 60_000 } });
    const w = queue.worker({ concurrency: 8, deliver: { host: '127.0.0.1', port: sink.port, tls: 'none' } });
    for (let i = 0; i < count; i++) await queue.enqueue({ from: 'bench@bench.test', to: [`ok-q${i}@relay.test`, `defer1-q${i}@relay.test`], raw: raw('q', i) });
    await until(() => distinct('q') >= 2 * count, 300_000);
    await w.close();
    await queue.close();

    const { Queue, Worker } = await import('bullmq');
    const nodemailer = await import('nodemailer');
    const transporter = nodemailer.createTransport({ host: '127.0.0.1', port: sink.port, secure: false, ignoreTLS: true, pool: true, maxConnections: 8 });
    const connection = { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null };
    const jobs = new Queue('recipe', { connection });
    const worker = new Worker('recipe', async (job) => {
      const info = await transporter.sendMail({ envelope: { from: 'bench@bench.test', to: job.data.to }, raw: job.data.raw });
      if (info.rejected.length > 0) throw new Error(`rejected: ${info.rejected.join(', ')}`);
    }, { connection, concurrency: 8 });
    for (let i = 0; i < count; i++) {
      await jobs.add('send', { to: [`ok-r${i}@relay.test`, `defer1-r${i}@relay.test`], raw: raw('r', i) }, { attempts: 5, backoff: { type: 'fixed', delay: 50 } });
    }
    await until(() => distinct('r') >= 2 * count, 300_000);
    await worker.close();
    await jobs.close();
    transporter.close();
    return { ours: tally(sink.entries, 'q'), recipe: tally(sink.entries, 'r') };
  } finally {
    await sink.close();
    await redis.stop();
  }
}

const ONLY = new Set((process.env.SMTPKIT_BENCH_ONLY ?? 'deliveries,redis-deliveries,enqueue,redis,mixed,resume').split(','));
const rows: string[] = [];
if (ONLY.has('deliveries')) {
  const postfix = await postfixDeliveries();
  const ours = await queueDeliveries('file');
  rows.push(`| deliveries/s, spool → loopback sink (${N} × ~2 KB, 8 sessions) | ${ours.toFixed(0)} | Postfix 3.7 relaying to the same sink: ${postfix.toFixed(0)} | ${(ours / postfix).toFixed(2)}× | ≥ 1.00× |`);
}
if (ONLY.has('redis-deliveries')) {
  const redis = await queueDeliveries('redis');
  rows.push(`| deliveries/s, Redis → loopback sink (${N} × ~2 KB, 1 worker, concurrency 8, 8 sessions) | ${redis.toFixed(0)} | — | — | — |`);
}
if (ONLY.has('enqueue')) {
  for (const inFlight of [1, 4, 16]) {
    const rate = await enqueueRate(inFlight);
    rows.push(`| durable fileStore enqueues/s, ${inFlight} in flight | ${rate.toFixed(0)} | — | — | ≥ 500 |`);
  }
}
if (ONLY.has('redis')) {
  const bytes = await redisBytesPerJob();
  rows.push(`| Redis memory per queued job, bodies outside | ${bytes.toFixed(0)} B | — | — | ≤ 2048 B |`);
}
if (ONLY.has('mixed')) {
  const mixed = await mixedRuns();
  rows.push(`| re-sends after a 250 / lost recipients, mixed 250+4xx (${QUICK ? 20 : 200} messages) | ${mixed.ours.resent} / ${mixed.ours.lost} | nodemailer + BullMQ recipe: ${mixed.recipe.resent} / ${mixed.recipe.lost} | — | 0 / 0 |`);
}
if (ONLY.has('resume')) {
  const trials = QUICK ? 3 : 10;
  for (const store of ['file', 'redis'] as const) {
    const { median, max } = await resumeAfterKill(store, trials);
    rows.push(`| a SIGKILLed worker's job delivered by another worker, ${store} store (${trials} kills) | median ${median} ms, worst ${max} ms | — | — | ≤ 5000 ms |`);
  }
}
const table = [
  '| measure | @smtpkit/queue | peer | ratio | goal |',
  '|---|---|---|---|---|',
  ...rows,
].join('\n');
console.log(table);
if (!QUICK && process.env.SMTPKIT_BENCH_ONLY === undefined) {
  await writeFile(new URL('./results.md', import.meta.url), `# @smtpkit/queue benchmarks\n\n${new Date().toISOString()}, ${process.version}\n\n${table}\n`);
}
