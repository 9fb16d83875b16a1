import { afterEach, describe, expect, it, vi } from 'vitest';
import { createPool, type Pool, type PoolOptions } from '../src/pool.js';
import { startLineServer, startRecordingServer, type RecordingServer } from './pool-server.js';
import { rejection } from './helpers/rejection.js';

const servers: RecordingServer[] = [];
const pools: Pool[] = [];

afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function server(hooks?: Parameters<typeof startRecordingServer>[0]): Promise<RecordingServer> {
  const s = await startRecordingServer(hooks);
  servers.push(s);
  return s;
}

function pool(s: RecordingServer, options: Omit<PoolOptions, 'host'> = {}): Pool {
  const p = createPool({ host: s.host, port: s.port, tls: 'none', clientName: 'client.test', ...options });
  pools.push(p);
  return p;
}

const msg = (n: number, from = 'sender@example.com') => ({
  from,
  to: [`r${n}@example.com`],
  data: `Subject: message ${n}\r\n\r\nbody of message ${n}\r\n`,
});


function connectionsOf(s: RecordingServer): string[] {
  return [...new Set(s.commands.map((c) => c.split(' ')[0]!))];
}

describe('pool against smtp-server', () => {
  it('delivers many messages over at most maxConnections connections', async () => {
    const s = await server();
    const p = pool(s, { maxConnections: 3 });
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => p.send(msg(i))));
    expect(results.every((r) => r.reply.code === 250)).toBe(true);
    expect(s.messages).toHaveLength(60);
    const bodies = s.messages.map((m) => m.data).sort();
    expect(bodies).toEqual(Array.from({ length: 60 }, (_, i) => `Subject: message ${i}\r\n\r\nbody of message ${i}\r\n`).sort());
    for (const m of s.messages) expect(m.data).toContain(`message ${m.to[0]!.slice(1, -'@example.com'.length)}\r\n`);
    expect(s.connections).toBe(3);
    expect(s.maxOpen).toBeLessThanOrEqual(3);
    expect(p.size).toBe(3);
    // every connection carried several transactions
    for (const c of connectionsOf(s)) expect(s.verbs(c).filter((v) => v === 'MAIL').length).toBeGreaterThan(1);
  });

  it('reuses a connection, checking it with RSET after it sat idle', async () => {
    const s = await server();
    const p = pool(s, { maxConnections: 1, checkAfterIdle: 0 });
    await p.send(msg(1));
    await p.send(msg(2));
    expect(s.connections).toBe(1);
    const [c] = connectionsOf(s);
    expect(s.verbs(c!)).toEqual(['EHLO', 'RSET', 'MAIL', 'RCPT', 'DATA', 'RSET', 'MAIL', 'RCPT', 'DATA']);
    expect(s.messages.map((m) => m.to)).toEqual([['r1@example.com'], ['r2@example.com']]);
  });

  it('checks with NOOP when asked, and not at all when reused right away', async () => {
    const s = await server();
    const noop = pool(s, { maxConnections: 1, checkAfterIdle: 0, checkCommand: 'NOOP' });
    await noop.send(msg(1));
    await noop.send(msg(2));
    await noop.close();
    const hot = pool(s, { maxConnections: 1, checkAfterIdle: 60_000 });
    await hot.send(msg(3));
    await hot.send(msg(4));
    await hot.close();
    const [first, second] = connectionsOf(s);
    expect(s.verbs(first!).filter((v) => v === 'NOOP' || v === 'RSET')).toEqual(['NOOP', 'NOOP']);
    expect(s.verbs(second!).filter((v) => v === 'NOOP' || v === 'RSET')).toEqual([]);
    expect(s.messages).toHaveLength(4);
  });

  it('QUITs and closes idle connections after idleTimeout, then opens a new one', async () => {
    const s = await server();
    const p = pool(s, { idleTimeout: 30 });
    await p.send(msg(1));
    await vi.waitFor(() => expect(s.open).toBe(0), { timeout: 5000 });
    expect(p.size).toBe(0);
    expect(s.verbs(connectionsOf(s)[0]!).at(-1)).toBe('QUIT');
    await p.send(msg(2));
    expect(s.connections).toBe(2);
  });

  it('opens a new connection after maxMessagesPerConnection', async () => {
    const s = await server();
    const p = pool(s, { maxConnections: 1, maxMessagesPerConnection: 2 });
    for (let i = 0; i < 5; i++) await p.send(msg(i));
    await p.close();
    expect(s.connections).toBe(3);
    expect(connectionsOf(s).map((c) => s.verbs(c).filter((v) => v === 'MAIL').length)).toEqual([2, 2, 1]);
    for (const c of connectionsOf(s)) expect(s.verbs(c).at(-1)).toBe('QUIT');
  });

  it('never reuses a connection the server closed with 421; the send is retried once on a new one', async () => {
    let refusals = 1;
    const s = await server({
      onMailFrom(_address, _session, callback) {
        if (refusals-- > 0) callback(Object.assign(new Error('shutting down'), { responseCode: 421 }));
        else callback();
      },
    });
    const p = pool(s, { maxConnections: 1 });
    const r = await p.send(msg(1));
    expect(r.accepted).toEqual(['r1@example.com']);
    await p.send(msg(2));
    expect(s.connections).toBe(2);
    const [dead, fresh] = connectionsOf(s);
    expect(s.verbs(dead!)).toEqual(['EHLO', 'MAIL']);
    expect(s.messages.map((m) => m.connection)).toEqual([fresh, fresh]);
  });

  it('gives up after one retry, reporting the 421', async () => {
    const s = await server({
      onMailFrom(_address, _session, callback) {
        callback(Object.assign(new Error('go away'), { responseCode: 421 }));
      },
    });
    const p = pool(s);
    const e = await rejection(p.send(msg(1)));
    expect(e.replyCode).toBe(421);
    expect(s.connections).toBe(2);
    expect(s.messages).toHaveLength(0);
  });

  it('does not retry a rejection after the body was sent', async () => {
    const s = await server({
      onRcptTo(address, _session, callback) {
        if (address.address.startsWith('bad')) callback(Object.assign(new Error('no such user'), { responseCode: 550 }));
        else callback();
      },
    });
    const p = pool(s, { maxConnections: 1 });
    const e = await rejection(p.send({ ...msg(1), to: ['bad@example.com'] }));
    expect(e.replyCode).toBe(550);
    // the same connection goes on, checked with RSET after the failed transaction
    await p.send(msg(2));
    expect(s.connections).toBe(1);
    expect(s.messages).toHaveLength(1);
  });

  it('bounds its queue', async () => {
    const s = await server();
    const p = pool(s, { maxConnections: 1, maxQueue: 2 });
    const accepted = [p.send(msg(1)), p.send(msg(2))];
    const full = await rejection(p.send(msg(3)));
    expect(full).toMatchObject({ code: 'ERR_SMTP_POOL_QUEUE_FULL', retryable: true });
    await Promise.all(accepted);
    await p.send(msg(4));
    expect(s.messages.map((m) => m.to[0])).toEqual(['r1@example.com', 'r2@example.com', 'r4@example.com']);
  });

  it('close() waits for queued and in-flight sends, QUITs every connection, then refuses new sends', async () => {
    const s = await server();
    const p = pool(s, { maxConnections: 2 });
    const sends = Array.from({ length: 6 }, (_, i) => p.send(msg(i)));
    await p.close();
    expect((await Promise.all(sends)).every((r) => r.reply.code === 250)).toBe(true);
    expect(s.messages).toHaveLength(6);
    expect(p.size).toBe(0);
    for (const c of connectionsOf(s)) expect(s.verbs(c).at(-1)).toBe('QUIT');
    await vi.waitFor(() => expect(s.open).toBe(0), { timeout: 5000 });
    const late = await rejection(p.send(msg(7)));
    expect(late.code).toBe('ERR_SMTP_POOL_CLOSED');
  });

  it('rejects every queued send with a typed error when the server is down', async () => {
    const s = await server();
    const port = s.port;
    await s.close();
    servers.splice(servers.indexOf(s), 1);
    const p = createPool({ host: '127.0.0.1', port, tls: 'none', maxConnections: 2 });
    pools.push(p);
    const errors = await Promise.all([1, 2, 3].map((i) => rejection(p.send(msg(i)))));
    for (const e of errors) expect(e.kind).toBe('connection');
    expect(p.size).toBe(0);
  });

  it('retries a send whose connection dropped before the body, on a new connection', async () => {
    const s = await startLineServer(['hang-up-after-mail']);
    try {
      const p = createPool({ host: '127.0.0.1', port: s.port, tls: 'none' });
      pools.push(p);
      const r = await p.send(msg(1));
      expect(r.reply.code).toBe(250);
      expect(s.connections).toBe(2);
      expect(s.messages).toEqual(['Subject: message 1\r\n\r\nbody of message 1\r\n']);
    } finally {
      await s.close();
    }
  });

  it('never resends a message whose end of data got no reply (it may have been delivered)', async () => {
    const s = await startLineServer(['hang-up-after-dot']);
    try {
      const p = createPool({ host: '127.0.0.1', port: s.port, tls: 'none' });
      pools.push(p);
      const e = await rejection(p.send(msg(1)));
      expect(e).toMatchObject({ kind: 'connection', code: 'ERR_SMTP_OUTCOME_UNKNOWN', retryable: false });
      expect(e.replyCode).toBeUndefined();
      expect(s.connections).toBe(1);
      expect(s.messages).toHaveLength(1);
      // the pool itself goes on with a new connection
      await p.send(msg(2));
      expect(s.connections).toBe(2);
      expect(s.messages).toHaveLength(2);
    } finally {
      await s.close();
    }
  });

  it('never resends a streamed message whose connection dropped mid-body (its octets cannot be read again)', async () => {
    const s = await startLineServer(['hang-up-in-body']);
    try {
      const p = createPool({ host: '127.0.0.1', port: s.port, tls: 'none' });
      pools.push(p);
      async function* body() {
        yield Buffer.from('Subject: streamed\r\n\r\nfirst part\r\n');
        yield Buffer.from('second part\r\n'); // the first part is written as this one comes
        await s.hungUp;
        await new Promise((resolve) => setTimeout(resolve, 50));
        yield Buffer.from('third part\r\n');
      }
      const e = await rejection(p.send({ ...msg(1), data: body() }));
      expect(e.kind).toBe('connection');
      expect(e.code).not.toBe('ERR_SMTP_OUTCOME_UNKNOWN');
      // Not retried: a second attempt would find the stream consumed and send what is left of it.
      expect(s.connections).toBe(1);
      expect(s.messages).toHaveLength(0);
    } finally {
      await s.close();
    }
  });

  it('never resends an empty message whose end of data got no reply', async () => {
    const s = await startLineServer(['hang-up-after-dot']);
    try {
      const p = createPool({ host: '127.0.0.1', port: s.port, tls: 'none' });
      pools.push(p);
      expect((await rejection(p.send({ ...msg(1), data: '' }))).code).toBe('ERR_SMTP_OUTCOME_UNKNOWN');
      expect(s.connections).toBe(1);
    } finally {
      await s.close();
    }
  });
});
