import { afterEach, describe, expect, it } from 'vitest';
import { connect, createPool, deliver, sendMail, type SendResult } from '../src/index.js';
import { mailServer, startFaultServer, type FaultServer, type MailServerOptions } from '../src/testing.js';
import { rejection } from './helpers/rejection.js';

// RFC 5321 §4.2.1 (every 2yz is positive) and §4.5.3.1.10 (recipients over a server's limit go in further
// transactions), against the fault server's well-behaved mail server.

let server: FaultServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const DATA = 'From: a@example.com\r\nSubject: many\r\nMessage-ID: <many@example.com>\r\n\r\nHello all.\r\n';
const fast = { greeting: 5000, ehlo: 5000, mail: 5000, rcpt: 5000, dataInit: 5000, dataBlock: 5000, dataDone: 5000, command: 5000 };
const rcpts = (n: number, domain = 'example.org') => Array.from({ length: n }, (_, i) => `r${i}@${domain}`);

async function start(options: MailServerOptions): Promise<FaultServer> {
  server = await startFaultServer(mailServer(options));
  return server;
}

/** Per transaction on the first connection: how many RCPT commands it carried. */
function rcptsPerTransaction(s: FaultServer, connection = 0): number[] {
  const out: number[] = [];
  for (const c of s.connections[connection]?.commands ?? []) {
    if (/^MAIL FROM:/i.test(c)) out.push(0);
    else if (/^RCPT TO:/i.test(c)) out[out.length - 1]! += 1;
  }
  return out;
}

function everyoneOnce(r: SendResult, to: readonly string[]): void {
  const seen = [...r.accepted, ...r.rejected.map((x) => x.address)];
  expect(seen.slice().sort()).toEqual(to.slice().sort());
  expect(new Set(seen).size).toBe(seen.length);
}

describe('every 2yz reply to RCPT is an acceptance (RFC 5321 §4.2.1, §4.2.2)', () => {
  it.each([
    ['252 Cannot VRFY user, but will accept message', '252 2.1.5 Cannot VRFY user, but will accept message and attempt delivery'],
    ['251 User not local; will forward', '251 2.1.5 User not local; will forward to <x@example.net>'],
  ])('%s', async (_name, answer) => {
    const s = await start({ ehlo: { pipelining: true }, rcpt: (a) => (a.startsWith('x@') ? answer : undefined) });
    const r = await sendMail({ host: '127.0.0.1', port: s.port, tls: 'none', timeouts: fast, from: 'a@example.com', to: ['x@example.org', 'y@example.org'], data: DATA });
    expect(r.accepted).toEqual(['x@example.org', 'y@example.org']);
    expect(r.rejected).toEqual([]);
    expect(s.connections[0]?.messages).toHaveLength(1);
  });

  it('a lone 252 recipient is enough to send', async () => {
    const s = await start({ rcpt: () => '252 2.1.5 will try' });
    const r = await sendMail({ host: '127.0.0.1', port: s.port, tls: 'none', timeouts: fast, from: 'a@example.com', to: ['x@example.org'], data: DATA });
    expect(r.accepted).toEqual(['x@example.org']);
  });
});

describe('recipients over the server limit go in further transactions (RFC 5321 §4.5.3.1.10)', () => {
  it.each([
    ['with PIPELINING', true],
    ['without PIPELINING', false],
  ])('150 recipients, 100 per transaction, %s: two transactions, everyone accepted once', async (_n, pipelining) => {
    const s = await start({ ehlo: { pipelining }, recipientLimit: 100 });
    const to = rcpts(150);
    const r = await sendMail({ host: '127.0.0.1', port: s.port, tls: 'none', timeouts: fast, from: 'a@example.com', to, data: DATA });
    expect(r.accepted).toEqual(to);
    expect(r.rejected).toEqual([]);
    expect(r.transactions?.map((t) => [t.accepted.length, t.reply.code])).toEqual([
      [100, 250],
      [50, 250],
    ]);
    expect(r.transactions?.[1]?.accepted).toEqual(to.slice(100));
    expect(r.reply.text).toContain('T0');
    expect(r.messageId).toBe('<many@example.com>');
    // Without PIPELINING one RCPT per round trip: none is asked after the first the server defers.
    expect(rcptsPerTransaction(s)).toEqual(pipelining ? [150, 50] : [101, 50]);
    expect(s.connections[0]?.messages.map((m) => m.toString())).toEqual([DATA.slice(0, -2), DATA.slice(0, -2)]);
    expect(s.connections).toHaveLength(1);
  });

  it("overLimit: 'report' ends after one transaction: the 452s come back retryable, for a caller that records each transaction", async () => {
    const s = await start({ ehlo: { pipelining: true }, recipientLimit: 100 });
    const to = rcpts(150);
    const r = await sendMail({ host: '127.0.0.1', port: s.port, tls: 'none', timeouts: fast, from: 'a@example.com', to, data: DATA, overLimit: 'report' });
    everyoneOnce(r, to);
    expect(r.accepted).toEqual(to.slice(0, 100));
    expect(r.rejected.map((x) => x.address)).toEqual(to.slice(100));
    expect(r.rejected.every((x) => x.reply.code === 452 && x.error.retryable)).toBe(true);
    expect(r.transactions).toBeUndefined();
    expect(rcptsPerTransaction(s)).toEqual([150]);
    expect(s.connections[0]?.messages).toHaveLength(1);

    const pool = createPool({ host: '127.0.0.1', port: s.port, tls: 'none', timeouts: fast, maxConnections: 1 });
    try {
      const p = await pool.send({ from: 'a@example.com', to, data: DATA, overLimit: 'report' });
      expect(p.accepted).toEqual(to.slice(0, 100));
      expect(p.rejected.map((x) => [x.address, x.reply.code])).toEqual(to.slice(100).map((a) => [a, 452]));
    } finally {
      await pool.close();
    }
    expect(s.connections.flatMap((c) => c.messages)).toHaveLength(2);
  });

  it('250 recipients: the limit learnt from the first transaction sizes the next ones', async () => {
    const s = await start({ ehlo: { pipelining: true }, recipientLimit: 100 });
    const to = rcpts(250);
    const r = await sendMail({ host: '127.0.0.1', port: s.port, tls: 'none', timeouts: fast, from: 'a@example.com', to, data: DATA });
    expect(r.accepted).toEqual(to);
    expect(r.transactions?.map((t) => t.accepted.length)).toEqual([100, 100, 50]);
    expect(rcptsPerTransaction(s)).toEqual([250, 100, 50]);
  });

  it('refusals stay refusals: a 550 is reported once, with its reply; only the 452s are sent again', async () => {
    const s = await start({ ehlo: { pipelining: true }, recipientLimit: 3, rcpt: (a) => (a.startsWith('r1@') || a.startsWith('r4@') ? '550 5.1.1 no such user' : undefined) });
    const to = rcpts(6);
    const r = await sendMail({ host: '127.0.0.1', port: s.port, tls: 'none', timeouts: fast, from: 'a@example.com', to, data: DATA });
    everyoneOnce(r, to);
    expect(r.accepted).toEqual(['r0@example.org', 'r2@example.org', 'r3@example.org', 'r5@example.org']);
    expect(r.rejected.map((x) => [x.address, x.reply.code])).toEqual([
      ['r1@example.org', 550],
      ['r4@example.org', 550],
    ]);
    expect(r.rejected[0]?.error.retryable).toBe(false);
  });

  it('a further transaction refused at the end of data: its recipients get that reply, the first ones stay delivered', async () => {
    const s = await start({ ehlo: { pipelining: true }, recipientLimit: 2, final: (t) => (t === 0 ? '250 2.0.0 Ok: queued as T0' : '554 5.7.1 message refused') });
    const to = rcpts(3);
    const r = await sendMail({ host: '127.0.0.1', port: s.port, tls: 'none', timeouts: fast, from: 'a@example.com', to, data: DATA });
    everyoneOnce(r, to);
    expect(r.accepted).toEqual(['r0@example.org', 'r1@example.org']);
    expect(r.rejected.map((x) => [x.address, x.reply.code, x.error.code])).toEqual([['r2@example.org', 554, 'ERR_SMTP_REPLY']]);
    expect(r.transactions).toHaveLength(1);
  });

  it('a body that can be read only once: the deferred recipients keep their 452, retryable, and the reason', async () => {
    const s = await start({ recipientLimit: 1 });
    const r = await sendMail({
      host: '127.0.0.1', port: s.port, tls: 'none', timeouts: fast, from: 'a@example.com', to: rcpts(2),
      data: (function* () {
        yield Buffer.from(DATA);
      })(),
    });
    expect(r.accepted).toEqual(['r0@example.org']);
    expect(r.rejected).toHaveLength(1);
    expect(r.rejected[0]).toMatchObject({ address: 'r1@example.org', reply: { code: 452 }, error: { retryable: true, replyCode: 452 } });
    expect(r.rejected[0]?.error.message).toMatch(/read only once/);
    expect(rcptsPerTransaction(s)).toEqual([2]);
  });

  it('every recipient over the limit with none accepted: a retryable refusal, no split', async () => {
    const s = await start({ recipientLimit: 0 });
    const e = await rejection(sendMail({ host: '127.0.0.1', port: s.port, tls: 'none', timeouts: fast, from: 'a@example.com', to: rcpts(2), data: DATA }));
    expect(e).toMatchObject({ code: 'ERR_SMTP_RECIPIENTS_REJECTED', retryable: true });
  });

  it('the session stays in step: a send queued behind the split one goes after its last transaction', async () => {
    const s = await start({ ehlo: { pipelining: true }, recipientLimit: 100 });
    const session = await connect({ host: '127.0.0.1', port: s.port, tls: 'none', timeouts: fast });
    const [big, small] = await Promise.all([
      session.send({ from: 'a@example.com', to: rcpts(150), data: DATA }),
      session.send({ from: 'a@example.com', to: ['z@example.org'], data: DATA }),
    ]);
    await session.quit();
    expect(big.accepted).toHaveLength(150);
    expect(small.accepted).toEqual(['z@example.org']);
    expect(rcptsPerTransaction(s)).toEqual([150, 50, 1]);
  });

  it('the pool does the same, a string body read again', async () => {
    const s = await start({ ehlo: { pipelining: true }, recipientLimit: 100 });
    const pool = createPool({ host: '127.0.0.1', port: s.port, tls: 'none', timeouts: fast, maxConnections: 1 });
    const [big, small] = await Promise.all([
      pool.send({ from: 'a@example.com', to: rcpts(120), data: DATA }),
      pool.send({ from: 'a@example.com', to: ['z@example.org'], data: DATA }),
    ]);
    await pool.close();
    expect(big.accepted).toHaveLength(120);
    expect(big.transactions?.map((t) => t.accepted.length)).toEqual([100, 20]);
    expect(small.accepted).toEqual(['z@example.org']);
  });

  it('the session ends after the first transaction: session.send reports the rest deferred (retryable, code ERR_SMTP_RECIPIENTS_DEFERRED)', async () => {
    const s = await start({ ehlo: { pipelining: true }, recipientLimit: 2, closeAfter: 1 });
    const to = rcpts(3);
    const r = await sendMail({ host: '127.0.0.1', port: s.port, tls: 'none', timeouts: fast, from: 'a@example.com', to, data: DATA });
    everyoneOnce(r, to);
    expect(r.accepted).toEqual(['r0@example.org', 'r1@example.org']);
    expect(r.rejected[0]).toMatchObject({ address: 'r2@example.org', reply: { code: 452 }, error: { code: 'ERR_SMTP_RECIPIENTS_DEFERRED', retryable: true } });
  });

  it('the pool and deliver() take those recipients on a new session', async () => {
    const s = await start({ ehlo: { pipelining: true }, recipientLimit: 2, closeAfter: 1 });
    const to = rcpts(3);
    const pool = createPool({ host: '127.0.0.1', port: s.port, tls: 'none', timeouts: fast, maxConnections: 1 });
    const r = await pool.send({ from: 'a@example.com', to, data: DATA });
    await pool.close();
    expect(r.accepted).toEqual(to);
    expect(r.rejected).toEqual([]);
    expect(r.transactions?.map((t) => t.accepted)).toEqual([['r0@example.org', 'r1@example.org'], ['r2@example.org']]);
    expect(s.connections).toHaveLength(2);

    const d = await deliver({
      from: 'a@example.com', to: rcpts(3, 'limit.test'), data: DATA, port: s.port, timeouts: fast,
      resolver: { resolveMx: async () => [{ exchange: 'mx.limit.test', priority: 10 }], resolve4: async () => ['127.0.0.1'], resolve6: async () => [] },
    });
    expect(d.accepted).toEqual(rcpts(3, 'limit.test'));
    expect(d.domains[0]?.result?.transactions).toHaveLength(2);
    expect(s.connections).toHaveLength(4);
  });

  it('deliver() does the same per domain', async () => {
    const s = await start({ ehlo: { pipelining: true }, recipientLimit: 100 });
    const to = rcpts(130, 'limit.test');
    const r = await deliver({
      from: 'a@example.com', to, data: DATA, port: s.port, timeouts: fast,
      resolver: {
        resolveMx: async () => [{ exchange: 'mx.limit.test', priority: 10 }],
        resolve4: async () => ['127.0.0.1'],
        resolve6: async () => [],
      },
    });
    expect(r.accepted).toEqual(to);
    expect(r.rejected).toEqual([]);
    expect(r.domains[0]?.result?.transactions?.map((t) => t.accepted.length)).toEqual([100, 30]);
  });
});
