import { createServer, connect as netConnect, type AddressInfo, type Server, type Socket } from 'node:net';
import { isSmtpError } from '@smtpkit/wire';
import { afterEach, describe, expect, it } from 'vitest';
import { createPool, type Pool, type PoolOptions } from '../src/pool.js';
import { startRecordingServer, type RecordingServer } from './pool-server.js';

const closers: Array<() => Promise<void>> = [];
const pools: Pool[] = [];

afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
  await Promise.all(closers.splice(0).map((c) => c()));
});

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function closing(server: Server, sockets: Set<Socket>): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
}

/** A TCP relay to `port` that records every chunk the client sent, as it arrived. */
async function recordingRelay(port: number): Promise<{ port: number; chunks: string[] }> {
  const chunks: string[] = [];
  const sockets = new Set<Socket>();
  const relay = createServer((client) => {
    const upstream = netConnect(port, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.on('data', (c: Buffer) => {
      chunks.push(c.toString('latin1'));
      upstream.write(c);
    });
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  const relayPort = await listen(relay);
  closers.push(closing(relay, sockets));
  return { port: relayPort, chunks };
}

async function recordingServer(): Promise<RecordingServer> {
  const s = await startRecordingServer();
  closers.push(() => s.close());
  return s;
}

function pool(port: number, options: Omit<PoolOptions, 'host'> = {}): Pool {
  const p = createPool({ host: '127.0.0.1', port, tls: 'none', clientName: 'client.test', ...options });
  pools.push(p);
  return p;
}

const msg = (n: number) => ({
  from: 'sender@example.com',
  to: [`r${n}@example.com`],
  data: `Subject: message ${n}\r\n\r\nbody of message ${n}\r\n`,
});

/** Client chunks holding a message's end of data and the next envelope together. */
const pipelinedEnds = (chunks: string[]) => chunks.filter((c) => c.includes('\r\n.\r\nMAIL FROM:<sender@example.com>'));

describe('pool: several sends pipelined on one connection (RFC 2920 §3.1)', () => {
  it('sends the next envelope in the same TCP chunk as the previous end of data', async () => {
    const server = await recordingServer();
    const relay = await recordingRelay(server.port);
    const p = pool(relay.port, { maxConnections: 1 });
    const results = await Promise.all([1, 2, 3, 4, 5, 6].map((n) => p.send(msg(n))));
    expect(results.map((r) => r.accepted)).toEqual([1, 2, 3, 4, 5, 6].map((n) => [`r${n}@example.com`]));
    expect(server.connections).toBe(1);
    expect(server.messages.map((m) => m.to[0])).toEqual([1, 2, 3, 4, 5, 6].map((n) => `r${n}@example.com`));
    expect(server.messages[0]?.data).toContain('body of message 1');
    // Each message after the first rides on its predecessor's final write: body, dot, next envelope.
    const ends = pipelinedEnds(relay.chunks);
    expect(ends.length).toBeGreaterThanOrEqual(4);
    expect(ends.some((c) => c.startsWith('Subject: message 1\r\n\r\nbody of message 1\r\n.\r\nMAIL FROM:'))).toBe(true);
    // EHLO, the first envelope, one write per message: far fewer writes than three per message.
    expect(relay.chunks.length).toBeLessThanOrEqual(2 + 1 + 6);
  });

  it('stays lock-step with maxPipelinedPerConnection: 1 or pipelining: never', async () => {
    for (const options of [{ maxPipelinedPerConnection: 1 }, { pipelining: 'never' as const }]) {
      const server = await recordingServer();
      const relay = await recordingRelay(server.port);
      const p = pool(relay.port, { maxConnections: 1, ...options });
      await Promise.all([1, 2, 3].map((n) => p.send(msg(n))));
      expect(server.messages).toHaveLength(3);
      expect(pipelinedEnds(relay.chunks)).toEqual([]);
    }
  });

  it('rejects a bad maxPipelinedPerConnection', () => {
    expect(() => pool(25, { maxPipelinedPerConnection: 0 })).toThrow(/maxPipelinedPerConnection/);
  });
});

/**
 * A PIPELINING server (line-based, one reply per command) that hangs up without a reply after the
 * `dropAfterDot`-th end of data on its first connection.
 */
async function droppingServer(dropAfterDot: number): Promise<{ port: number; delivered: string[]; connections: number }> {
  const state = { port: 0, delivered: [] as string[], connections: 0 };
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    const id = ++state.connections;
    let buffered = '';
    let inData = false;
    let rcpt = '';
    let dots = 0;
    socket.write('220 drop.test ESMTP\r\n');
    socket.on('error', () => {});
    socket.on('data', (c: Buffer) => {
      buffered += c.toString('latin1');
      let nl: number;
      while ((nl = buffered.indexOf('\r\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 2);
        if (socket.destroyed) return;
        if (inData) {
          if (line !== '.') continue;
          inData = false;
          dots++;
          if (id === 1 && dots === dropAfterDot) {
            socket.destroy();
            return;
          }
          state.delivered.push(rcpt);
          socket.write('250 queued\r\n');
          continue;
        }
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO') socket.write('250-drop.test\r\n250 PIPELINING\r\n');
        else if (verb === 'RCPT') {
          rcpt = line.slice(9, -1);
          socket.write('250 ok\r\n');
        } else if (verb === 'DATA') {
          inData = true;
          socket.write('354 go on\r\n');
        } else if (verb === 'QUIT') {
          socket.end('221 bye\r\n');
          return;
        } else socket.write('250 ok\r\n');
      }
    });
  });
  state.port = await listen(server);
  closers.push(closing(server, sockets));
  return state;
}

describe('pool: several pools in one process', () => {
  it('keep their sends, sessions and results apart, sent together and one closed before the other', async () => {
    const servers = [await recordingServer(), await recordingServer()];
    const both = servers.map((server) => pool(server.port, { maxConnections: 2 }));
    // Queued in one tick, alternating between the pools.
    const sends = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => (both[n % 2] as Pool).send(msg(n)));
    const results = await Promise.all(sends);
    expect(results.map((r) => r.accepted)).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((n) => [`r${n}@example.com`]));
    expect(servers[0]?.messages.map((m) => m.to[0]).sort()).toEqual(['r2@example.com', 'r4@example.com', 'r6@example.com', 'r8@example.com']);
    expect(servers[1]?.messages.map((m) => m.to[0]).sort()).toEqual(['r1@example.com', 'r3@example.com', 'r5@example.com', 'r7@example.com']);
    await both[0]?.close();
    expect(both[0]?.closed).toBe(true);
    expect(both[1]?.closed).toBe(false);
    const closed = await both[0]?.send(msg(9)).catch((e: unknown) => e);
    expect(isSmtpError(closed) && closed.code).toBe('ERR_SMTP_POOL_CLOSED');
    const later = await both[1]?.send(msg(10));
    expect(later?.accepted).toEqual(['r10@example.com']);
    expect(servers[1]?.messages).toHaveLength(5);
    expect(servers[0]?.messages).toHaveLength(4);
  });
});

describe('pool: a pipelined session that dies', () => {
  it('reports the send whose end of data went out as outcome-unknown and retries the ones behind it', async () => {
    const server = await droppingServer(2);
    const p = pool(server.port, { maxConnections: 1, checkAfterIdle: 60_000 });
    const settled = await Promise.allSettled([1, 2, 3, 4].map((n) => p.send(msg(n))));
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    const failed = (settled[1] as PromiseRejectedResult).reason as unknown;
    expect(isSmtpError(failed) && failed.code).toBe('ERR_SMTP_OUTCOME_UNKNOWN');
    // Message 3's envelope went out early with message 2's dot, but no data: safe to resend, once.
    expect(server.delivered).toEqual(['r1@example.com', 'r3@example.com', 'r4@example.com']);
    expect(server.connections).toBe(2);
  });
});
