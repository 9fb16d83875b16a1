import { SmtpError } from '@smtpkit/wire';
import { describe, expect, it, vi } from 'vitest';
import { createPool } from '../src/pool.js';
import { FakeConnector, connectionLost, deferred, result, type FakeSession } from './pool-fakes.js';
import { rejection } from './helpers/rejection.js';

const msg = (n: number) => ({ from: 'a@example.com', to: [`r${n}@example.com`], data: `Subject: ${n}\r\n\r\nbody ${n}\r\n` });


describe('createPool: scheduling', () => {
  it('spreads queued sends over at most maxConnections sessions, one send at a time per session', async () => {
    const gate = deferred();
    const fake = new FakeConnector(async (o) => {
      await gate.promise;
      return result(o);
    });
    const pool = createPool({ host: 'mx.test', maxConnections: 3, connectFn: fake.connect });
    const sends = Array.from({ length: 12 }, (_, i) => pool.send(msg(i)));
    await vi.waitFor(() => expect(fake.sessions.filter((s) => s.running === 1)).toHaveLength(3));
    expect(pool.size).toBe(3);
    expect(pool.pending).toBe(9);
    gate.resolve();
    const results = await Promise.all(sends);
    expect(results.map((r) => r.accepted[0])).toEqual(Array.from({ length: 12 }, (_, i) => `r${i}@example.com`));
    expect(fake.sessions).toHaveLength(3);
    for (const s of fake.sessions) expect(s.maxRunning).toBe(1);
    expect(fake.sessions.reduce((n, s) => n + s.sends.length, 0)).toBe(12);
    await pool.close();
  });

  it('opens no more sessions than there are queued sends', async () => {
    const fake = new FakeConnector();
    const pool = createPool({ host: 'mx.test', maxConnections: 5, connectFn: fake.connect });
    await pool.send(msg(1));
    await pool.send(msg(2));
    expect(fake.calls).toHaveLength(1);
    await pool.close();
  });

  it('passes connection options through, without the pool options', async () => {
    const fake = new FakeConnector();
    const pool = createPool({ host: 'mx.test', port: 2525, clientName: 'me.test', maxConnections: 2, connectFn: fake.connect });
    await pool.send(msg(1));
    const opts = fake.calls[0]! as unknown as Record<string, unknown>;
    expect(opts).toMatchObject({ host: 'mx.test', port: 2525, clientName: 'me.test' });
    for (const k of ['maxConnections', 'maxQueue', 'connectFn', 'idleTimeout']) expect(opts).not.toHaveProperty(k);
    await pool.close();
  });

  it('QUITs a session after maxMessagesPerConnection transactions and opens a new one', async () => {
    const fake = new FakeConnector();
    const pool = createPool({ host: 'mx.test', maxConnections: 1, maxMessagesPerConnection: 2, connectFn: fake.connect });
    for (let i = 0; i < 5; i++) await pool.send(msg(i));
    expect(fake.sessions.map((s) => s.sends.length)).toEqual([2, 2, 1]);
    await vi.waitFor(() => expect(fake.sessions[1]!.quits).toBe(1));
    expect(fake.sessions[0]!.quits).toBe(1);
    await pool.close();
    expect(fake.sessions[2]!.quits).toBe(1);
  });

  it('closes idle sessions with QUIT after idleTimeout', async () => {
    const fake = new FakeConnector();
    const pool = createPool({ host: 'mx.test', idleTimeout: 10, connectFn: fake.connect });
    await pool.send(msg(1));
    await vi.waitFor(() => expect(fake.sessions[0]!.quits).toBe(1));
    await vi.waitFor(() => expect(pool.size).toBe(0));
    await pool.send(msg(2));
    expect(fake.sessions).toHaveLength(2);
    await pool.close();
  });
});

describe('createPool: checks before reuse', () => {
  it('checks with RSET when a session was idle for checkAfterIdle', async () => {
    const fake = new FakeConnector();
    const pool = createPool({ host: 'mx.test', checkAfterIdle: 0, connectFn: fake.connect });
    await pool.send(msg(1));
    await pool.send(msg(2));
    expect(fake.sessions).toHaveLength(1);
    // the fresh session is checked too when it waited checkAfterIdle (0 here)
    expect(fake.sessions[0]!.checks).toEqual(['RSET', 'RSET']);
    await pool.close();
  });

  it('uses NOOP when asked', async () => {
    const fake = new FakeConnector();
    const pool = createPool({ host: 'mx.test', checkAfterIdle: 0, checkCommand: 'NOOP', connectFn: fake.connect });
    await pool.send(msg(1));
    await pool.send(msg(2));
    expect(fake.sessions[0]!.checks).toEqual(['NOOP', 'NOOP']);
    await pool.close();
  });

  it('does not check a session reused right away, but does after a failed transaction', async () => {
    let n = 0;
    const fake = new FakeConnector(async (o) => {
      n++;
      if (n === 2) throw new SmtpError('MAIL FROM rejected: 451 try later', { kind: 'reply', code: 'ERR_SMTP_REPLY', replyCode: 451 });
      return result(o);
    });
    const pool = createPool({ host: 'mx.test', checkAfterIdle: 60_000, connectFn: fake.connect });
    await pool.send(msg(1));
    expect(fake.sessions[0]!.checks).toEqual([]);
    const e = await rejection(pool.send(msg(2)));
    expect(e.replyCode).toBe(451);
    await pool.send(msg(3));
    expect(fake.sessions).toHaveLength(1);
    expect(fake.sessions[0]!.checks).toEqual(['RSET']);
    await pool.close();
  });

  it('drops a session whose check fails and sends on a new one, without charging the send', async () => {
    const fake = new FakeConnector();
    const pool = createPool({ host: 'mx.test', checkAfterIdle: 0, connectFn: fake.connect });
    await pool.send(msg(1));
    fake.sessions[0]!.checkFails = true;
    const r = await pool.send(msg(2));
    expect(r.accepted).toEqual(['r2@example.com']);
    expect(fake.sessions).toHaveLength(2);
    expect(fake.sessions[0]!.destroyed).toBe(true);
    expect(fake.sessions[0]!.sends).toHaveLength(1);
    expect(fake.sessions[1]!.sends).toHaveLength(1);
    await pool.close();
  });

  it('gives up on a send after more failed checks than the pool holds sessions', async () => {
    const fake = new FakeConnector();
    fake.checkFails = true;
    const pool = createPool({ host: 'mx.test', maxConnections: 2, checkAfterIdle: 0, connectFn: fake.connect });
    const e = await rejection(pool.send(msg(1)));
    expect(e.message).toMatch(/RSET failed/);
    expect(fake.sessions).toHaveLength(3);
    expect(fake.sessions.every((s) => s.destroyed && s.sends.length === 0)).toBe(true);
    await pool.close();
  });

  it('treats a session that is unusable on arrival as a failed connect', async () => {
    const fake = new FakeConnector();
    const dead = async (o: Parameters<typeof fake.connect>[0]) => {
      const s = (await fake.connect(o)) as FakeSession;
      s.alive = false;
      return s;
    };
    const pool = createPool({ host: 'mx.test', connectFn: dead });
    const e = await rejection(pool.send(msg(1)));
    expect(e.code).toBe('ERR_SMTP_SESSION_UNUSABLE');
    expect(fake.sessions).toHaveLength(2);
    await pool.close();
  });

  it('never reuses a session that became unusable (timeout, 421, protocol error)', async () => {
    let n = 0;
    const fake = new FakeConnector(async (o, s: FakeSession) => {
      n++;
      if (n === 1) {
        await Promise.resolve();
        s.alive = false; // the core marks the session dead after a 421
        throw new SmtpError('MAIL FROM rejected: 421 closing', { kind: 'reply', code: 'ERR_SMTP_SERVICE_UNAVAILABLE', replyCode: 421 });
      }
      return result(o);
    });
    const pool = createPool({ host: 'mx.test', connectFn: fake.connect });
    // 421 before the body: retried once on a new session, so this send still succeeds
    const r = await pool.send(msg(1));
    expect(r.accepted).toEqual(['r1@example.com']);
    expect(fake.sessions).toHaveLength(2);
    expect(fake.sessions[0]!.destroyed).toBe(true);
    await pool.send(msg(2));
    expect(fake.sessions[0]!.sends).toHaveLength(1);
    expect(fake.sessions[1]!.sends).toHaveLength(2);
    await pool.close();
  });
});

describe('createPool: retries', () => {
  it('retries a connection-level failure before the body once, on a checked or new session', async () => {
    const fake = new FakeConnector(async (_o, s) => {
      s.alive = false;
      throw connectionLost();
    });
    const pool = createPool({ host: 'mx.test', connectFn: fake.connect });
    const e = await rejection(pool.send(msg(1)));
    expect(e.code).toBe('ERR_SMTP_CONNECTION');
    expect(fake.sessions).toHaveLength(2);
    expect(fake.sessions.map((s) => s.sends.length)).toEqual([1, 1]);
    await pool.close();
  });

  it('does not retry once the body started', async () => {
    const fake = new FakeConnector(async (o, s) => {
      o.onProgress?.(42);
      s.alive = false;
      throw new SmtpError('timed out after 600000 ms during dataDone', { kind: 'timeout', code: 'ERR_SMTP_TIMEOUT' });
    });
    const progress: number[] = [];
    const pool = createPool({ host: 'mx.test', connectFn: fake.connect });
    const e = await rejection(pool.send({ ...msg(1), onProgress: (n) => progress.push(n) }));
    // the end of data never went out, so the message was not delivered: the caller may resend
    expect(e).toMatchObject({ kind: 'timeout', code: 'ERR_SMTP_TIMEOUT', retryable: true });
    expect(progress).toEqual([42]);
    expect(fake.sessions).toHaveLength(1);
    expect(fake.sessions[0]!.destroyed).toBe(true);
    await pool.close();
  });

  it('reports an unanswered end of data as ERR_SMTP_OUTCOME_UNKNOWN, even for an empty body', async () => {
    const fake = new FakeConnector(async (o, s) => {
      o.onEndOfData?.(); // the session wrote the end of data, then lost the connection
      s.alive = false;
      throw connectionLost();
    });
    const pool = createPool({ host: 'mx.test', connectFn: fake.connect });
    let ends = 0;
    const e = await rejection(pool.send({ ...msg(1), data: '', onEndOfData: () => ends++ }));
    expect(e).toMatchObject({ kind: 'connection', code: 'ERR_SMTP_OUTCOME_UNKNOWN', retryable: false });
    expect(fake.sessions).toHaveLength(1);
    expect(ends).toBe(1); // the caller's own hook still runs
    await pool.close();
  });

  it('does not retry a reply error on a usable session', async () => {
    const fake = new FakeConnector(async () => {
      throw new SmtpError('message rejected: 554 spam', { kind: 'reply', code: 'ERR_SMTP_REPLY', replyCode: 554 });
    });
    const pool = createPool({ host: 'mx.test', connectFn: fake.connect });
    const e = await rejection(pool.send(msg(1)));
    expect(e.replyCode).toBe(554);
    expect(fake.sessions[0]!.sends).toHaveLength(1);
    await pool.close();
  });

  it('charges a failed connect to the oldest send: retried once, then rejected', async () => {
    const fake = new FakeConnector();
    fake.failures = [connectionLost(), connectionLost()];
    const pool = createPool({ host: 'mx.test', maxConnections: 1, connectFn: fake.connect });
    const first = pool.send(msg(1));
    const second = pool.send(msg(2));
    const e = await rejection(first);
    expect(e.kind).toBe('connection');
    expect((await second).accepted).toEqual(['r2@example.com']);
    expect(fake.calls).toHaveLength(3);
    await pool.close();
  });

  it('rejects every queued send at once when the connection options are invalid', async () => {
    const fake = new FakeConnector();
    fake.failures = [new SmtpError('clientName contains CR/LF', { kind: 'input', code: 'ERR_SMTP_INPUT' })];
    const pool = createPool({ host: 'mx.test', maxConnections: 1, connectFn: fake.connect });
    const errors = await Promise.all([1, 2, 3].map((i) => rejection(pool.send(msg(i)))));
    expect(errors.map((e) => e.kind)).toEqual(['input', 'input', 'input']);
    expect(fake.calls).toHaveLength(1);
    await pool.close();
  });

  it('does not retry a connect failure that is not retryable', async () => {
    const fake = new FakeConnector();
    fake.failures = [new SmtpError('AUTH PLAIN failed: 535', { kind: 'auth', code: 'ERR_SMTP_AUTH_CREDENTIALS', replyCode: 535 })];
    const pool = createPool({ host: 'mx.test', connectFn: fake.connect });
    const e = await rejection(pool.send(msg(1)));
    expect(e.code).toBe('ERR_SMTP_AUTH_CREDENTIALS');
    expect(fake.calls).toHaveLength(1);
    await pool.close();
  });
});

describe('createPool: queue bound, abort, close', () => {
  it('rejects beyond maxQueue with ERR_SMTP_POOL_QUEUE_FULL, before sending anything', async () => {
    const gate = deferred();
    const fake = new FakeConnector(async (o) => {
      await gate.promise;
      return result(o);
    });
    const pool = createPool({ host: 'mx.test', maxConnections: 1, maxQueue: 2, connectFn: fake.connect });
    const running = pool.send(msg(1));
    await vi.waitFor(() => expect(fake.sessions[0]?.running).toBe(1));
    const queued = [pool.send(msg(2)), pool.send(msg(3))];
    const e = await rejection(pool.send(msg(4)));
    expect(e).toMatchObject({ kind: 'connection', code: 'ERR_SMTP_POOL_QUEUE_FULL', retryable: true });
    gate.resolve();
    await Promise.all([running, ...queued]);
    expect(fake.sessions[0]!.sends.map((s) => s.to[0])).toEqual(['r1@example.com', 'r2@example.com', 'r3@example.com']);
    await pool.close();
  });

  it('removes an aborted send from the queue', async () => {
    const gate = deferred();
    const fake = new FakeConnector(async (o) => {
      await gate.promise;
      return result(o);
    });
    const pool = createPool({ host: 'mx.test', maxConnections: 1, connectFn: fake.connect });
    const running = pool.send(msg(1));
    await vi.waitFor(() => expect(fake.sessions[0]?.running).toBe(1));
    const ac = new AbortController();
    const aborted = pool.send({ ...msg(2), signal: ac.signal });
    const after = pool.send(msg(3));
    expect(pool.pending).toBe(2);
    ac.abort();
    const e = await rejection(aborted);
    expect(e.kind).toBe('aborted');
    expect(pool.pending).toBe(1);
    gate.resolve();
    await Promise.all([running, after]);
    expect(fake.sessions[0]!.sends.map((s) => s.to[0])).toEqual(['r1@example.com', 'r3@example.com']);
    await expect(pool.send({ ...msg(4), signal: AbortSignal.abort() })).rejects.toMatchObject({ kind: 'aborted' });
    await pool.close();
  });

  it('close() lets queued and in-flight sends finish, then QUITs every session; later sends reject', async () => {
    const gate = deferred();
    const fake = new FakeConnector(async (o) => {
      await gate.promise;
      return result(o);
    });
    const pool = createPool({ host: 'mx.test', maxConnections: 2, connectFn: fake.connect });
    const sends = [1, 2, 3].map((i) => pool.send(msg(i)));
    await vi.waitFor(() => expect(fake.sessions).toHaveLength(2));
    let closed = false;
    const closing = pool.close().then(() => {
      closed = true;
    });
    expect(pool.closed).toBe(true);
    const late = await rejection(pool.send(msg(9)));
    expect(late).toMatchObject({ kind: 'input', code: 'ERR_SMTP_POOL_CLOSED', retryable: false });
    await Promise.resolve();
    expect(closed).toBe(false);
    expect(fake.sessions.every((s) => s.quits === 0)).toBe(true);
    gate.resolve();
    expect((await Promise.all(sends)).length).toBe(3);
    await closing;
    expect(fake.sessions.map((s) => s.quits)).toEqual([1, 1]);
    expect(pool.size).toBe(0);
    await pool.close();
  });

  it('validates its options', () => {
    expect(() => createPool({ host: 'x', maxConnections: 0 })).toThrow(/maxConnections/);
    expect(() => createPool({ host: 'x', maxQueue: 1.5 })).toThrow(/maxQueue/);
    expect(() => createPool({ host: 'x', idleTimeout: -1 })).toThrow(/idleTimeout/);
    expect(() => createPool({ host: 'x', checkCommand: 'HELP' as 'RSET' })).toThrow(/checkCommand/);
  });
});
