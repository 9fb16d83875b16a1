import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostfix, type PostfixServer } from '@smtpkit/testkit';
import { connect, createPool } from '../src/index.js';
import type { SendOptions } from '../src/types.js';
import { startRecordingServer, type RecordingServer } from './pool-server.js';

// `onEndOfData`: once per message, once its end of data (the final "." or BDAT n LAST) went out and before
// the send settles; never for a message whose data never went out. Against real servers.

const body = (n: number, extra = '') => `Subject: end of data ${n}\r\nMessage-ID: <eod${n}@example.com>\r\n\r\nBody ${n}.\r\n${extra}`;

/** Sends that log their end of data and their outcome, in the order they happen. */
function logged(events: string[], n: number, options: Omit<SendOptions, 'onEndOfData'>): [SendOptions, (p: Promise<unknown>) => Promise<void>] {
  return [
    { ...options, onEndOfData: () => events.push(`end ${n}`) },
    (p) =>
      p.then(
        () => void events.push(`sent ${n}`),
        () => void events.push(`failed ${n}`),
      ),
  ];
}

describe('onEndOfData with DATA (smtp-server)', () => {
  let server: RecordingServer;
  beforeAll(async () => {
    server = await startRecordingServer({
      onRcptTo(address, _session, callback) {
        if (address.address.startsWith('nobody')) callback(Object.assign(new Error('no such user'), { responseCode: 550 }));
        else callback();
      },
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('runs once per message before the send resolves, and never when no recipient was accepted', async () => {
    const s = await connect({ host: server.host, port: server.port, tls: 'none' });
    expect(s.capabilities.pipelining).toBe(true);
    const events: string[] = [];
    await Promise.all(
      [1, 2, 3].map((n) => {
        const [options, log] = logged(events, n, { from: 'a@example.com', to: [n === 2 ? 'nobody@example.com' : 'b@example.com'], data: body(n) });
        return log(s.send(options));
      }),
    );
    await s.quit();
    expect(events).toEqual(['end 1', 'sent 1', 'failed 2', 'end 3', 'sent 3']);
  });

  it('a pool passes it through: every message once, in order, the caller’s hook and its own both run', async () => {
    const pool = createPool({ host: server.host, port: server.port, tls: 'none', maxConnections: 1 });
    const events: string[] = [];
    await Promise.all(
      Array.from({ length: 12 }, (_, i) => {
        const [options, log] = logged(events, i, { from: 'a@example.com', to: ['b@example.com'], data: body(i) });
        return log(pool.send(options));
      }),
    );
    await pool.close();
    // The next message's end of data may go out before the previous send's promise settles: only the order
    // of the ends, and each end before its own send settles, are promised.
    expect(events.filter((e) => e.startsWith('end'))).toEqual(Array.from({ length: 12 }, (_, i) => `end ${i}`));
    for (let i = 0; i < 12; i++) expect(events.indexOf(`end ${i}`)).toBeLessThan(events.indexOf(`sent ${i}`));
  });
});

describe('onEndOfData with BDAT (Postfix)', () => {
  let postfix: PostfixServer;
  beforeAll(async () => {
    postfix = await startPostfix({ chunking: true, pipelining: true });
  }, 60_000);
  afterAll(async () => {
    await postfix?.stop();
  });

  it('one-write messages queued together: each once, before it settles, a refused envelope included', async () => {
    const s = await connect({ host: '127.0.0.1', port: postfix.port, tls: 'none' });
    expect(s.capabilities.chunking).toBe(true);
    const events: string[] = [];
    const to = (n: number) => (n === 2 ? ['mallory@elsewhere.invalid'] : ['bob@example.com']);
    await Promise.all(
      [1, 2, 3, 4].map((n) => {
        const [options, log] = logged(events, n, { from: 'alice@example.com', to: to(n), data: body(n) });
        return log(s.send(options));
      }),
    );
    await s.quit();
    // A one-write message goes out whole, envelope and data together (RFC 3030 §4.2): its end of data is
    // written even when the server then refuses the envelope, and the server drops the data.
    for (const n of [1, 2, 3, 4]) {
      expect(events.filter((e) => e === `end ${n}`)).toHaveLength(1);
      expect(events.indexOf(`end ${n}`)).toBeLessThan(events.findIndex((e) => e.endsWith(` ${n}`) && !e.startsWith('end')));
    }
    expect(events).toContain('failed 2');
    expect(events.filter((e) => e.startsWith('sent'))).toHaveLength(3);
  });

  it('more one-write messages than fit the window: later ones follow while earlier replies are already here', async () => {
    const s = await connect({ host: '127.0.0.1', port: postfix.port, tls: 'none' });
    const ends: number[] = [];
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, n) =>
        s.send({ from: 'alice@example.com', to: ['bob@example.com'], data: body(100 + n), onEndOfData: () => ends.push(n) }),
      ),
    );
    await s.quit();
    expect(results.map((r) => r.reply.code)).toEqual(Array.from({ length: 40 }, () => 250));
    expect(ends).toEqual(Array.from({ length: 40 }, (_, n) => n));
  });

  it('a body sent in several chunks: once, with the last one', async () => {
    const s = await connect({ host: '127.0.0.1', port: postfix.port, tls: 'none' });
    const events: string[] = [];
    const big = body(9, `${'0123456789abcdef'.repeat(4)}\r\n`.repeat(40_000)); // about 2.6 MB: three BDAT chunks
    let progressAtEnd = -1;
    let progress = 0;
    const r = await s.send({
      from: 'alice@example.com',
      to: ['bob@example.com'],
      data: [Buffer.from(big)],
      onProgress: (n) => (progress = n),
      onEndOfData: () => {
        events.push('end');
        progressAtEnd = progress;
      },
    });
    await s.quit();
    expect(r.reply.code).toBe(250);
    expect(events).toEqual(['end']);
    // Every chunk before the last was written (and reported) before the end of data.
    expect(progressAtEnd).toBeGreaterThan(2 * 1024 * 1024);
  });
});
