import { startSmtpSink, type SmtpSink } from '@smtpkit/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createPool } from '../src/pool.js';
import { SlidingWindow } from '../src/pool/rate-limit.js';
import { FakeConnector, result } from './pool-fakes.js';
import type { SendOptions } from '../src/types.js';

const message = (i: number): SendOptions => ({ from: 'a@example.com', to: [`r${i}@example.net`], data: `Subject: ${i}\r\n\r\nx\r\n` });

describe('SlidingWindow', () => {
  it('allows `limit` events in any window, then says how long to wait', () => {
    const w = new SlidingWindow(3, 1000);
    for (const t of [0, 100, 200]) {
      expect(w.wait(t)).toBe(0);
      w.take(t);
    }
    expect(w.wait(300)).toBe(700); // the event at 0 leaves the window at 1000
    expect(w.wait(1000)).toBe(0);
    w.take(1000);
    expect(w.wait(1000)).toBe(100); // next to leave: the one at 100
  });
});

describe('pool rateLimit and maxConnectionsPerMinute (fake clock)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('hands out at most `messages` sends per `perMs`, in order, and the rest later', async () => {
    vi.useFakeTimers({ now: 0 });
    const startedAt: Array<[number, string]> = [];
    const fake = new FakeConnector(async (o) => {
      startedAt.push([Date.now(), o.to[0] as string]);
      return result(o);
    });
    const pool = createPool({ host: 'x', connectFn: fake.connect, rateLimit: { messages: 2, perMs: 1000 }, maxConnections: 3 });
    const sends = Array.from({ length: 5 }, (_, i) => pool.send(message(i)));
    await vi.advanceTimersByTimeAsync(0);
    expect(startedAt.map(([t]) => t)).toEqual([0, 0]);
    await vi.advanceTimersByTimeAsync(999);
    expect(startedAt).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(startedAt.map(([t]) => t)).toEqual([0, 0, 1000, 1000]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(startedAt.map(([t]) => t)).toEqual([0, 0, 1000, 1000, 2000]);
    expect(startedAt.map(([, to]) => to)).toEqual(['r0@example.net', 'r1@example.net', 'r2@example.net', 'r3@example.net', 'r4@example.net']);
    await Promise.all(sends);
    const closed = pool.close();
    await vi.runAllTimersAsync();
    await closed;
  });

  it('opens at most maxConnectionsPerMinute new connections in any minute', async () => {
    vi.useFakeTimers({ now: 0 });
    const opened: number[] = [];
    const fake = new FakeConnector();
    const connect = fake.connect;
    const pool = createPool({
      host: 'x',
      maxConnections: 1,
      maxMessagesPerConnection: 1, // every send needs a fresh connection
      maxConnectionsPerMinute: 2,
      connectFn: async (o) => {
        opened.push(Date.now());
        return connect(o);
      },
    });
    const sends = Array.from({ length: 3 }, (_, i) => pool.send(message(i)));
    await vi.advanceTimersByTimeAsync(1000);
    expect(opened).toEqual([0, 0]);
    await vi.advanceTimersByTimeAsync(58_999);
    expect(opened).toEqual([0, 0]);
    await vi.advanceTimersByTimeAsync(1);
    expect(opened).toEqual([0, 0, 60_000]);
    await Promise.all(sends);
    const closed = pool.close();
    await vi.runAllTimersAsync();
    await closed;
  });

  it.each([
    [{ rateLimit: { messages: 0, perMs: 1000 } }, /rateLimit.messages/],
    [{ rateLimit: { messages: 5, perMs: -1 } }, /rateLimit.perMs/],
    [{ rateLimit: { perMs: 1000 } as never }, /rateLimit.messages" is required/],
    [{ maxConnectionsPerMinute: 1.5 }, /maxConnectionsPerMinute/],
  ])('%j is refused', (options, message) => {
    expect(() => createPool({ host: 'x', ...options })).toThrow(expect.objectContaining({ kind: 'input', message: expect.stringMatching(message) }));
  });
});

describe('pool rateLimit against a real server (real time)', () => {
  let sink: SmtpSink;
  beforeAll(async () => {
    sink = await startSmtpSink();
  });
  afterAll(async () => {
    await sink?.stop();
  });

  it('6 messages at 3 per 400 ms: the last one starts at least 400 ms after the first', async () => {
    const pool = createPool({ host: '127.0.0.1', port: sink.port, tls: 'none', rateLimit: { messages: 3, perMs: 400 }, maxConnections: 2 });
    const started = Date.now();
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => pool.send(message(i))),
    );
    await pool.close();
    expect(results.every((r) => r.accepted.length === 1)).toBe(true);
    const times = results.map((r) => r.timings.startedAt - started).sort((a, b) => a - b);
    expect(times[2]! - times[0]!).toBeLessThan(400);
    expect(times[3]! - times[0]!).toBeGreaterThanOrEqual(395);
    expect(times[5]! - times[0]!).toBeGreaterThanOrEqual(395);
  });
});
