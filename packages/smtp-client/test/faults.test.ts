import { afterEach, describe, expect, it } from 'vitest';
import type { SmtpError } from '@smtpkit/wire';
import { connect, sendMail } from '../src/index.js';
import { startRawServer, type RawConnection, type RawServer } from './helpers/raw-server.js';
import { rejection } from './helpers/rejection.js';

let server: RawServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});


/** Greeting + EHLO (no extensions but the ones given), then `rest`. */
function esmtp(extensions: string[], rest: (c: RawConnection) => Promise<void>) {
  return async (c: RawConnection) => {
    c.send('220 fault.test ESMTP\r\n');
    await c.waitFor(/EHLO .*\r\n/);
    c.send(extensions.length ? `250-fault.test\r\n${extensions.map((e, i) => `250${i === extensions.length - 1 ? ' ' : '-'}${e}\r\n`).join('')}` : '250 fault.test\r\n');
    await rest(c);
  };
}

const MAIL = { from: 'a@example.com', to: ['b@example.net'], data: 'Subject: x\r\n\r\nbody\r\n' };
const fast = { greeting: 2000, ehlo: 2000, mail: 2000, rcpt: 2000, dataInit: 2000, dataBlock: 2000, dataDone: 2000, command: 2000 };

describe('greeting and hello', () => {
  it.each([
    ['554 refusal', '554 no service for you\r\n', 'ERR_SMTP_GREETING_REJECTED', 'reply'],
    ['421 busy', '421 4.3.2 too busy\r\n', 'ERR_SMTP_SERVICE_UNAVAILABLE', 'reply'],
    ['not a greeting', '250 hello?\r\n', 'ERR_SMTP_GREETING', 'reply'],
    ['garbage', 'HELLO THERE\r\n', 'ERR_SMTP_PROTOCOL', 'protocol'],
  ])('%s → typed error', async (_n, greeting, code, kind) => {
    server = await startRawServer((c) => c.send(greeting));
    const e = await rejection(connect({ host: '127.0.0.1', port: server.port, timeouts: fast }));
    expect(e.code).toMatch(new RegExp(`^${code}`));
    expect(e.kind).toBe(kind);
  });

  it('EHLO refused with 502 → HELO fallback', async () => {
    server = await startRawServer(async (c) => {
      c.send('220 old.test\r\n');
      await c.waitFor(/EHLO/);
      c.send('502 what?\r\n');
      await c.waitFor(/HELO localhost\r\n/);
      c.send('250 old.test\r\n');
      await c.waitFor(/QUIT/);
      c.send('221 bye\r\n');
    });
    const s = await connect({ host: '127.0.0.1', port: server.port, timeouts: fast });
    expect(s.capabilities.pipelining).toBe(false);
    await s.quit();
    expect(server.received().toString()).toBe('EHLO localhost\r\nHELO localhost\r\nQUIT\r\n');
  });

  it('stopAfter: "ehlo" sends QUIT and resolves with the capabilities', async () => {
    server = await startRawServer(esmtp(['PIPELINING', 'SIZE 1000'], async (c) => {
      await c.waitFor(/QUIT/);
      c.send('221 bye\r\n');
    }));
    const s = await connect({ host: '127.0.0.1', port: server.port, stopAfter: 'ehlo' });
    expect(s.capabilities.size).toBe(1000);
    expect(s.usable).toBe(false);
    expect(server.received().toString()).toBe('EHLO localhost\r\nQUIT\r\n');
  });

  it('a greeting that never comes: timeout naming the step, socket destroyed', async () => {
    let closed: Promise<void> | undefined;
    server = await startRawServer((c) => {
      closed = c.closed;
    });
    const e = await rejection(connect({ host: '127.0.0.1', port: server.port, timeouts: { greeting: 150 } }));
    expect(e.kind).toBe('timeout');
    expect(e.message).toContain('greeting');
    expect(e.retryable).toBe(true);
    await closed;
  });

  it('TLS bytes where a plaintext greeting belongs → tls error with a hint', async () => {
    server = await startRawServer((c) => c.send(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5])));
    const e = await rejection(connect({ host: '127.0.0.1', port: server.port }));
    expect(e.kind).toBe('tls');
    expect(e.hint).toContain("tls: 'implicit'");
  });
});

describe('faults during a transaction', () => {
  it('a late RCPT reply: timeout, session dead, the late reply never read as the next answer', async () => {
    server = await startRawServer(esmtp([], async (c) => {
      await c.waitFor(/MAIL FROM/);
      c.send('250 ok\r\n');
      await c.waitFor(/RCPT TO/);
      await c.closed;
    }));
    const s = await connect({ host: '127.0.0.1', port: server.port, timeouts: { ...fast, rcpt: 150 } });
    const e = await rejection(s.send(MAIL));
    expect(e.kind).toBe('timeout');
    expect(e.message).toContain('rcpt');
    expect(s.usable).toBe(false);
    const again = await rejection(s.send(MAIL));
    expect(again.code).toBe('ERR_SMTP_SESSION_UNUSABLE');
    await s.quit();
  });

  it('abort signal mid-transaction → kind aborted, session dead', async () => {
    server = await startRawServer(esmtp([], async (c) => {
      await c.waitFor(/MAIL FROM/);
      await c.closed;
    }));
    const s = await connect({ host: '127.0.0.1', port: server.port, timeouts: fast });
    const ac = new AbortController();
    const p = s.send({ ...MAIL, signal: ac.signal });
    setTimeout(() => ac.abort(new Error('user gave up')), 50);
    const e = await rejection(p);
    expect(e.kind).toBe('aborted');
    expect(s.usable).toBe(false);
  });

  it('421 at RCPT in a pipelined group → retryable, session unusable', async () => {
    server = await startRawServer(esmtp(['PIPELINING'], async (c) => {
      await c.waitFor(/DATA\r\n/);
      c.send('250 ok\r\n421 4.3.2 shutting down\r\n');
      c.socket.end();
    }));
    const s = await connect({ host: '127.0.0.1', port: server.port, timeouts: fast });
    const e = await rejection(s.send(MAIL));
    expect(e.replyCode).toBe(421);
    expect(e.retryable).toBe(true);
    expect(s.usable).toBe(false);
  });

  it('421 to the next envelope, in the same segment as the final reply → first sent, second retryable, session unusable', async () => {
    server = await startRawServer(esmtp(['PIPELINING'], async (c) => {
      await c.waitFor(/DATA\r\n/);
      c.send('250 ok\r\n250 ok\r\n354 go\r\n');
      // The end of data carries the next envelope (RFC 2920 §3.1); all its replies come with the 250.
      await c.waitFor(/\r\n\.\r\nMAIL FROM:[^\r]*\r\nRCPT TO:[^\r]*\r\nDATA\r\n/);
      c.send('250 queued\r\n421 4.3.2 shutting down\r\n421 4.3.2 shutting down\r\n421 4.3.2 shutting down\r\n');
      c.socket.end();
    }));
    const s = await connect({ host: '127.0.0.1', port: server.port, timeouts: fast });
    const [first, second] = await Promise.allSettled([s.send(MAIL), s.send(MAIL)]);
    expect(first.status).toBe('fulfilled');
    expect(second.status).toBe('rejected');
    const e = (second as PromiseRejectedResult).reason as SmtpError;
    expect(e.replyCode).toBe(421);
    expect(e.retryable).toBe(true);
    expect(s.usable).toBe(false);
  });

  it('connection closed mid-DATA → retryable connection error', async () => {
    server = await startRawServer(esmtp([], async (c) => {
      await c.waitFor(/MAIL FROM/);
      c.send('250 ok\r\n');
      await c.waitFor(/RCPT TO/);
      c.send('250 ok\r\n');
      await c.waitFor(/DATA\r\n/);
      c.send('354 go\r\n');
      await c.waitFor(/Subject/);
      c.socket.destroy();
    }));
    const s = await connect({ host: '127.0.0.1', port: server.port, timeouts: fast });
    const e = await rejection(s.send(MAIL));
    expect(e.kind).toBe('connection');
    expect(e.retryable).toBe(true);
    expect(s.usable).toBe(false);
  });

  it('DATA answered with 554 → no body is sent, RSET follows', async () => {
    server = await startRawServer(esmtp(['PIPELINING'], async (c) => {
      await c.waitFor(/DATA\r\n/);
      c.send('250 ok\r\n250 ok\r\n554 no data for you\r\n');
      await c.waitFor(/RSET\r\n/);
      c.send('250 flushed\r\n');
      await c.waitFor(/QUIT/);
      c.send('221 bye\r\n');
    }));
    const s = await connect({ host: '127.0.0.1', port: server.port, timeouts: fast });
    const e = await rejection(s.send(MAIL));
    expect(e.replyCode).toBe(554);
    await s.quit();
    expect(server.received().toString()).toBe(
      'EHLO localhost\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nRSET\r\nQUIT\r\n',
    );
  });

  it.each([
    ['QUIT never answered', (c: RawConnection) => c.waitFor(/QUIT/).then(() => c.closed)],
    ['closed right after the 250', (c: RawConnection) => Promise.resolve(c.socket.destroy())],
  ])('final 250 then %s: still a success', async (_n, after) => {
    server = await startRawServer(esmtp([], async (c) => {
      await c.waitFor(/MAIL FROM/);
      c.send('250 ok\r\n');
      await c.waitFor(/RCPT TO/);
      c.send('250 ok\r\n');
      await c.waitFor(/DATA\r\n/);
      c.send('354 go\r\n');
      await c.waitFor(/\r\n\.\r\n/);
      c.send('250 queued\r\n');
      await after(c);
    }));
    const result = await sendMail({ host: '127.0.0.1', port: server.port, ...MAIL, timeouts: { ...fast, command: 200 } });
    expect(result.reply.code).toBe(250);
  });
});

describe('a server that stops reading mid-DATA', () => {
  it('the write waits for drain, then times out as dataBlock: typed, socket destroyed, never a hang', async () => {
    server = await startRawServer(esmtp([], async (c) => {
      await c.waitFor(/MAIL FROM/);
      c.send('250 ok\r\n');
      await c.waitFor(/RCPT TO/);
      c.send('250 ok\r\n');
      await c.waitFor(/DATA\r\n/);
      c.send('354 go\r\n');
      c.socket.pause(); // stop reading: the client's socket buffer fills up
    }));
    const s = await connect({ host: '127.0.0.1', port: server.port, timeouts: { ...fast, dataBlock: 300 } });
    const line = Buffer.from(`${'y'.repeat(510)}\r\n`);
    async function* endless() {
      for (let i = 0; i < 1_000_000; i++) yield line;
    }
    const e = await rejection(s.send({ ...MAIL, data: endless() }));
    expect(e.kind).toBe('timeout');
    expect(e.message).toContain('dataBlock');
    expect(s.usable).toBe(false);
  });
});

describe('unsolicited replies', () => {
  it('an extra reply after EHLO: protocol error before MAIL FROM is written', async () => {
    server = await startRawServer(async (c) => {
      c.send('220 fault.test ESMTP\r\n');
      await c.waitFor(/EHLO .*\r\n/);
      c.send('250 fault.test\r\n250 2.0.0 unsolicited\r\n');
      await c.closed;
    });
    const s = await connect({ host: '127.0.0.1', port: server.port, timeouts: fast });
    const e = await rejection(s.send(MAIL));
    expect(e.kind).toBe('protocol');
    expect(s.usable).toBe(false);
    expect(server.received().toString()).toBe('EHLO localhost\r\n');
  });

  it('an unsolicited 421 is honoured as a 421', async () => {
    server = await startRawServer(async (c) => {
      c.send('220 fault.test ESMTP\r\n');
      await c.waitFor(/EHLO .*\r\n/);
      c.send('250 fault.test\r\n421 4.4.2 idle too long\r\n');
      await c.closed;
    });
    const s = await connect({ host: '127.0.0.1', port: server.port, timeouts: fast });
    const e = await rejection(s.noop());
    expect(e.replyCode).toBe(421);
    expect(e.retryable).toBe(true);
    expect(server.received().toString()).toBe('EHLO localhost\r\n');
  });
});
