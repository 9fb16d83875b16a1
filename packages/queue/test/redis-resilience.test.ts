import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { createConnection, createServer, type AddressInfo } from 'node:net';
import { startProxy, type CuttableProxy } from '../chaos/proxy.js';
import { createQueue, redisStore, type Queue } from '../src/index.js';
import { startLedgerSink, type LedgerSink } from './support/ledger-sink.js';
import { startRedis, type PrivateRedis } from './support/redis.js';
import { collect, rawMessage } from './support/helpers.js';

const fast = { schedule: [50, 100], giveUpAfter: 60_000, jitter: 0.1 };

// A worker whose every Redis connection (its store's, BullMQ's queues', its workers' blocking ones) goes through a
// loopback proxy that the test cuts, while Redis itself is SIGKILLed and restarted from its AOF: the worker process
// must survive (no unhandled 'error' event or rejection, which vitest reports as a failure) and keep delivering.
describe('a Redis worker survives cut connections and a Redis restart', () => {
  let redis: PrivateRedis;
  let proxy: CuttableProxy;
  let sink: LedgerSink;
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown): void => {
    unhandled.push(e);
  };
  beforeAll(async () => {
    redis = await startRedis();
    proxy = await startProxy(redis.port);
    sink = await startLedgerSink();
    process.on('unhandledRejection', onUnhandled);
  });
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await sink?.close();
    await proxy?.close();
    await redis?.stop();
  });

  it('keeps delivering in the same process, each recipient exactly once', async () => {
    const producer: Queue = await createQueue({ store: redisStore({ url: redis.url, prefix: 'cut' }), retry: fast });
    const worker: Queue = await createQueue({
      store: redisStore({ url: `redis://127.0.0.1:${proxy.port}`, prefix: 'cut', lockDuration: 2000 }), retry: fast,
    });
    const errors: unknown[] = [];
    worker.on('error', (e) => errors.push(e));
    const seen = collect(worker, 30, 60_000);
    const w = worker.worker({ concurrency: 4, deliver: { host: '127.0.0.1', port: sink.port, tls: 'none' } });
    await w.ready;
    const ids: string[] = [];
    const enqueue = async (n: number): Promise<void> => {
      for (let i = 0; i < 10; i++) ids.push((await producer.enqueue({ from: 's@example.org', to: [`ok-${n}-${i}@r.test`], raw: rawMessage(`cut-${n}-${i}`) })).id);
    };
    try {
      await enqueue(0);
      let cut = 0;
      for (let i = 0; i < 5; i++) {
        await sleep(150);
        cut += proxy.cut();
      }
      expect(cut).toBeGreaterThan(0);
      await enqueue(1);
      await sleep(200);
      await redis.kill();
      await sleep(300);
      await redis.restart();
      proxy.cut();
      await enqueue(2);
      await seen.done.catch(async (error: unknown) => {
        const open = (await Promise.all(ids.map((id) => producer.status(id)))).filter((s) => s?.final !== true);
        throw new Error(`${String(error)}: ${JSON.stringify(open)}`);
      });
    } finally {
      const closing = Promise.all([w.close(), worker.close()]);
      await Promise.race([closing, sleep(20_000).then(() => Promise.reject(new Error('the worker did not close within 20 s')))]);
    }
    const statuses = await Promise.all(ids.map((id) => producer.status(id)));
    await producer.close();
    for (const s of statuses) expect(s?.recipients.map((r) => r.state)).toEqual(['delivered']);
    const copies = new Map<string, number>();
    for (const e of sink.entries) copies.set(e.rcpt, (copies.get(e.rcpt) ?? 0) + 1);
    const ambiguous = statuses.reduce((a, s) => a + (s?.recipients[0]?.ambiguous ?? 0), 0);
    const extra = [...copies.values()].reduce((a, n) => a + n - 1, 0);
    expect(copies.size).toBe(30);
    expect(extra).toBeLessThanOrEqual(ambiguous);
    expect(errors).toEqual([]);
    expect(unhandled).toEqual([]);
  }, 90_000);

  it('a worker started while Redis is down waits for it, then delivers', async () => {
    await redis.kill();
    const opening = createQueue({ store: redisStore({ url: `redis://127.0.0.1:${proxy.port}`, prefix: 'late', lockDuration: 2000 }), retry: fast });
    await sleep(700);
    await redis.restart();
    const worker = await opening;
    const errors: unknown[] = [];
    worker.on('error', (e) => errors.push(e));
    const seen = collect(worker, 1, 30_000);
    const w = worker.worker({ deliver: { host: '127.0.0.1', port: sink.port, tls: 'none' } });
    try {
      const { id } = await worker.enqueue({ from: 's@example.org', to: ['ok-late@r.test'], raw: rawMessage('late') });
      await seen.done;
      expect((await worker.status(id))?.recipients[0]?.state).toBe('delivered');
    } finally {
      await w.close();
      await worker.close();
    }
    expect(errors).toEqual([]);
    expect(unhandled).toEqual([]);
  }, 60_000);

  it('a worker created while Redis is down (its store already open) waits for it, then delivers', async () => {
    const queue = await createQueue({ store: redisStore({ url: `redis://127.0.0.1:${proxy.port}`, prefix: 'down', lockDuration: 2000 }), retry: fast });
    const errors: unknown[] = [];
    queue.on('error', (e) => errors.push(e));
    const seen = collect(queue, 1, 30_000);
    await redis.kill();
    const w = queue.worker({ deliver: { host: '127.0.0.1', port: sink.port, tls: 'none' } });
    try {
      await sleep(700);
      await redis.restart();
      await w.ready;
      const { id } = await queue.enqueue({ from: 's@example.org', to: ['ok-down@r.test'], raw: rawMessage('down') });
      await seen.done;
      expect((await queue.status(id))?.recipients[0]?.state).toBe('delivered');
    } finally {
      await w.close();
      await queue.close();
    }
    expect(errors).toEqual([]);
    expect(unhandled).toEqual([]);
  }, 60_000);

  it('opens when the network resets its first connections (it does not give up at the first error)', async () => {
    let attempts = 0;
    const flaky = createServer((client) => {
      if (attempts++ < 2) {
        client.resetAndDestroy();
        return;
      }
      const upstream = createConnection({ host: '127.0.0.1', port: redis.port });
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => flaky.listen(0, '127.0.0.1', () => resolve()));
    try {
      const port = (flaky.address() as AddressInfo).port;
      const queue = await createQueue({ store: redisStore({ url: `redis://127.0.0.1:${port}`, prefix: 'reset', connectTimeout: 10_000 }) });
      await queue.close();
      expect(attempts).toBeGreaterThanOrEqual(3);
    } finally {
      await new Promise<void>((resolve) => flaky.close(() => resolve()));
    }
  }, 30_000);

  it('gives up on a Redis that never answers, naming it', async () => {
    const dead = await startProxy(1);
    await dead.close();
    await expect(createQueue({ store: redisStore({ url: `redis://127.0.0.1:${dead.port}`, prefix: 'x', connectTimeout: 1500 }) })).rejects.toThrow(
      /cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+/,
    );
  }, 30_000);
});

describe('a keyless enqueue cut between storing the message and adding its jobs', () => {
  let redis: PrivateRedis;
  let sink: LedgerSink;
  beforeAll(async () => {
    redis = await startRedis();
    sink = await startLedgerSink();
  });
  afterAll(async () => {
    await sink?.close();
    await redis?.stop();
  });

  async function cutEnqueue(prefix: string, n: number): Promise<string> {
    let stored: string | undefined;
    const producer = await createQueue({
      store: redisStore({
        url: redis.url, prefix,
        onEnqueueStep: (_step, id) => {
          stored = id;
          throw new Error('cut: the producer dies here');
        },
      }),
    });
    try {
      await expect(producer.enqueue({ from: 's@example.org', to: [`ok-${prefix}-${n}@r.test`, `ok-${prefix}-${n}@other.test`], raw: rawMessage(`${prefix}-${n}`) })).rejects.toThrow(/cut/);
    } finally {
      await producer.close();
    }
    return stored!;
  }

  it('is found by the sweep at worker start and by the periodic one, and delivered once', async () => {
    const early = await cutEnqueue('repair', 1);
    const queue = await createQueue({ store: redisStore({ url: redis.url, prefix: 'repair', repairInterval: 300 }), retry: fast });
    const seen = collect(queue, 2, 30_000);
    const w = queue.worker({ deliver: { host: '127.0.0.1', port: sink.port, tls: 'none' } });
    try {
      await w.ready;
      const late = await cutEnqueue('repair', 2);
      await seen.done;
      for (const id of [early, late]) {
        expect((await queue.status(id))?.recipients.map((r) => r.state)).toEqual(['delivered', 'delivered']);
      }
    } finally {
      await w.close();
      await queue.close();
    }
    const copies = sink.entries.filter((e) => e.rcpt.includes('-repair-')).map((e) => e.rcpt).sort();
    expect(copies).toEqual(['ok-repair-1@other.test', 'ok-repair-1@r.test', 'ok-repair-2@other.test', 'ok-repair-2@r.test']);
  }, 60_000);

  it('a repeated idempotency key after the cut adds the jobs and queues nothing twice', async () => {
    let cut = true;
    const producer = await createQueue({
      store: redisStore({ url: redis.url, prefix: 'keyed', onEnqueueStep: () => {
        if (cut) throw new Error('cut');
      } }),
      retry: fast,
    });
    const input = { from: 's@example.org', to: ['ok-keyed@r.test'], raw: rawMessage('keyed'), idempotencyKey: 'keyed-1' };
    await expect(producer.enqueue(input)).rejects.toThrow(/cut/);
    cut = false;
    const again = await producer.enqueue(input);
    expect(again.duplicate).toBe(true);
    const seen = collect(producer, 1, 30_000);
    const w = producer.worker({ deliver: { host: '127.0.0.1', port: sink.port, tls: 'none' } });
    try {
      await seen.done;
    } finally {
      await w.close();
      await producer.close();
    }
    expect(sink.entries.filter((e) => e.rcpt === 'ok-keyed@r.test')).toHaveLength(1);
  }, 60_000);
});
