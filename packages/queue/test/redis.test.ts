import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createQueue, redisStore, type Queue } from '../src/index.js';
import { startLedgerSink, type LedgerSink } from './support/ledger-sink.js';
import { startRedis, type PrivateRedis } from './support/redis.js';
import { collect, rawMessage } from './support/helpers.js';

const fast = { schedule: [50, 100], giveUpAfter: 10_000, jitter: 0.1 };
let prefixes = 0;

describe('redisStore on BullMQ against a private redis-server and the ledger sink', () => {
  let redis: PrivateRedis;
  let sink: LedgerSink;
  const cleanups: Array<() => Promise<void>> = [];
  beforeAll(async () => {
    redis = await startRedis();
    sink = await startLedgerSink();
  });
  afterAll(async () => {
    await sink?.close();
    await redis?.stop();
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function open(options: Partial<Parameters<typeof createQueue>[0]> = {}): Promise<Queue> {
    const queue = await createQueue({
      store: redisStore({ url: redis.url, prefix: `t${++prefixes}`, lockDuration: 2000 }),
      retry: fast, dsn: { reportingMta: 'queue.example.org', from: 'MAILER-DAEMON@example.org' }, ...options,
    });
    cleanups.push(() => queue.close());
    return queue;
  }

  it('delivers, retries only the 4xx recipient, bounces the 5xx one and sends one DSN', async () => {
    const queue = await open();
    const seen = collect(queue, 2);
    const { id } = await queue.enqueue({ from: 'sender@example.org', to: ['ok@r.test', 'defer2-a@r.test', 'bounce-b@r.test'], raw: rawMessage('r1') });
    const w = queue.worker({ deliver: { host: '127.0.0.1', port: sink.port, tls: 'none' } });
    await seen.done;
    await w.close();
    const status = await queue.status(id);
    const byRcpt = Object.fromEntries(status!.recipients.map((r) => [r.recipient, r]));
    expect(byRcpt['ok@r.test']).toMatchObject({ state: 'delivered', attempts: 1, reply: { code: 250 } });
    expect(byRcpt['defer2-a@r.test']).toMatchObject({ state: 'delivered', attempts: 3 });
    expect(byRcpt['bounce-b@r.test']).toMatchObject({ state: 'bounced', reply: { code: 550 } });
    expect(sink.entries.filter((e) => e.key === '<r1@example.org>').map((e) => e.rcpt).sort()).toEqual(['defer2-a@r.test', 'ok@r.test']);
    expect(sink.entries.filter((e) => e.key === `dsn:${id}`).map((e) => e.rcpt)).toEqual(['sender@example.org']);
  });

  it('carries several jobs over one relay session, up to messagesPerSession', async () => {
    const queue = await open({ limits: { default: { sessions: 1, messagesPerSession: 5 } } });
    const seen = collect(queue, 10);
    for (let i = 0; i < 10; i++) await queue.enqueue({ from: 's@example.org', to: [`ok-reuse-${i}@r.test`], raw: rawMessage(`reuse-${i}`) });
    const before = sink.connections.length;
    const w = queue.worker({ concurrency: 1, deliver: { host: '127.0.0.1', port: sink.port, tls: 'none' } });
    await seen.done;
    await w.close();
    const sessions = sink.connections.length - before;
    expect(sink.entries.filter((e) => e.rcpt.startsWith('ok-reuse-'))).toHaveLength(10);
    // 10 messages, at most 5 a session: 2 sessions when every job follows the last within the idle time.
    expect(sessions).toBeGreaterThanOrEqual(2);
    expect(sessions).toBeLessThanOrEqual(4);
  });

  it('a repeated idempotency key queues nothing', async () => {
    const queue = await open();
    const a = await queue.enqueue({ from: 'a@example.org', to: ['ok@r.test'], raw: rawMessage('r2'), idempotencyKey: 'k-1' });
    const b = await queue.enqueue({ from: 'a@example.org', to: ['ok@r.test'], raw: rawMessage('r2b'), idempotencyKey: 'k-1' });
    expect(b).toEqual({ id: a.id, duplicate: true });
  });

  it('refuses a Redis that may evict or lose data, unless told', async () => {
    const { Redis } = await import('ioredis');
    const admin = new Redis(redis.url);
    await admin.config('SET', 'maxmemory-policy', 'allkeys-lru');
    try {
      await expect(createQueue({ store: redisStore({ url: redis.url, prefix: 'x' }) })).rejects.toThrow(/maxmemory-policy allkeys-lru/);
      const q = await createQueue({ store: redisStore({ url: redis.url, prefix: 'x', dangerouslyAllowVolatileRedis: true }) });
      await q.close();
    } finally {
      await admin.config('SET', 'maxmemory-policy', 'noeviction');
      admin.disconnect();
    }
  });
});
