// pnpm --filter @smtpkit/queue bench    (SMTPKIT_BENCH_QUICK=1: a smoke run with tiny sizes;
// SMTPKIT_BENCH_ONLY=deliveries,enqueue,redis: a subset)
//
// The queue's measured goals, side by side with the peer where there is one:
//   1. deliveries per second through the file spool to a loopback sink, against Postfix 3.7 relaying to the same sink
//   2. durable fileStore enqueues per second (each one fsynced before it resolves)
//   3. Redis memory per queued job, bodies outside Redis (blobDir)
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPool } from '@smtpkit/client';
import { startPostfix } from '@smtpkit/testkit';
import { createQueue, fileStore, redisStore } from '../src/index.js';
import { startLedgerSink } from '../test/support/ledger-sink.js';
import { startRedis } from '../test/support/redis.js';

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

/** Messages accepted durably and relayed to the sink per second: enqueue while the worker delivers. */
async function queueDeliveries(): Promise<number> {
  const sink = await startLedgerSink();
  const dir = await mkdtemp(join(tmpdir(), 'smtpkit-bench-spool-'));
  const queue = await createQueue({ store: fileStore({ dir }) });
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

/** Durable enqueues per second into the file spool: one at a time, and 16 at once (they share fsyncs). */
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

const ONLY = new Set((process.env.SMTPKIT_BENCH_ONLY ?? 'deliveries,enqueue,redis').split(','));
const rows: string[] = [];
if (ONLY.has('deliveries')) {
  const postfix = await postfixDeliveries();
  const ours = await queueDeliveries();
  rows.push(`| deliveries/s, spool → loopback sink (${N} × ~2 KB, 8 sessions) | ${ours.toFixed(0)} | Postfix 3.7 relaying to the same sink: ${postfix.toFixed(0)} | ${(ours / postfix).toFixed(2)}× | ≥ 1.00× |`);
}
if (ONLY.has('enqueue')) {
  const one = await enqueueRate(1);
  const many = await enqueueRate(16);
  rows.push(`| durable fileStore enqueues/s, 1 in flight | ${one.toFixed(0)} | — | — | ≥ 500 |`);
  rows.push(`| durable fileStore enqueues/s, 16 in flight | ${many.toFixed(0)} | — | — | ≥ 500 |`);
}
if (ONLY.has('redis')) {
  const bytes = await redisBytesPerJob();
  rows.push(`| Redis memory per queued job, bodies outside | ${bytes.toFixed(0)} B | — | — | ≤ 2048 B |`);
}
const table = [
  '| measure | @smtpkit/queue | peer | ratio | goal |',
  '|---|---|---|---|---|',
  ...rows,
].join('\n');
console.log(table);
if (!QUICK) {
  await writeFile(new URL('./results.md', import.meta.url), `# @smtpkit/queue benchmarks\n\n${new Date().toISOString()}, ${process.version}\n\n${table}\n`);
}
