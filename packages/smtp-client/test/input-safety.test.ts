import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildMessage, isMimeError, type MessageInput } from '@smtpkit/mime';
import { isSmtpError } from '@smtpkit/wire';
import { connect, sendMail } from '../src/index.js';
import { handshake, resolveConnectOptions } from '../src/connect.js';
import { MemoryTransport } from '../src/memory-transport.js';
import type { ConnectOptions, SendOptions } from '../src/types.js';
import { startRecordingServer, type RecordingServer } from './fuzz/recording-server.js';

// Command injection (aiosmtplib GHSA-v3q9-hj7j-63hq, nodemailer GHSA-vvjj-xcjg-gr5g): a CR, LF, NUL or
// any other control character in a value that ends up on a command line must be refused locally with
// a typed error, and the server must see nothing of the transaction it belongs to.

/** Every C0 control and DEL, by name for the test titles. */
const CONTROLS: Array<[string, string]> = [
  ...Array.from({ length: 32 }, (_, i): [string, string] => [`0x${i.toString(16).padStart(2, '0')}`, String.fromCharCode(i)]),
  ['0x7f', '\x7f'],
];
/** What a smuggler would put in a value; each one must be refused. */
const PAYLOADS: Array<[string, string]> = [
  ['CRLF + RCPT', '\r\nRCPT TO:<victim@example.net>'],
  ['bare LF + RCPT', '\nRCPT TO:<victim@example.net>'],
  ['bare CR + RCPT', '\rRCPT TO:<victim@example.net>'],
  ['NUL', '\0'],
  ['CRLF.CRLF', '\r\n.\r\nMAIL FROM:<x@y>'],
];

const FAST: ConnectOptions['timeouts'] = { greeting: 3000, ehlo: 3000, mail: 3000, rcpt: 3000, dataInit: 3000, dataBlock: 3000, dataDone: 3000, command: 1000 };

/** Bytes the client wrote, as text. */
const text = (b: Buffer) => b.toString('latin1');

function expectInputError(err: unknown): void {
  if (isSmtpError(err)) {
    expect(err.kind).toBe('input');
    expect(err.retryable).toBe(false);
    return;
  }
  expect(isMimeError(err), `expected a typed input error, got ${String(err)}`).toBe(true);
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected the promise to reject');
}

/** A session over the in-memory transport against a server that accepts everything. */
async function memorySession(options: Partial<ConnectOptions> = {}) {
  const t = new MemoryTransport();
  let pending = '';
  let data = false;
  t.onWrite = (bytes) => {
    pending += Buffer.from(bytes).toString('latin1');
    for (;;) {
      if (data) {
        const end = pending.indexOf('\r\n.\r\n');
        if (end === -1) return;
        pending = pending.slice(end + 5);
        data = false;
        t.push('250 ok\r\n');
        continue;
      }
      const eol = pending.indexOf('\r\n');
      if (eol === -1) return;
      const line = pending.slice(0, eol);
      pending = pending.slice(eol + 2);
      if (/^EHLO/.test(line)) t.push('250-mem\r\n250-PIPELINING\r\n250 SMTPUTF8\r\n');
      else if (/^DATA/.test(line)) {
        data = true;
        pending = `\r\n${pending}`;
        t.push('354 go\r\n');
      } else if (/^QUIT/.test(line)) t.push('221 bye\r\n');
      else t.push('250 ok\r\n');
    }
  };
  t.push('220 mem ESMTP\r\n');
  const o: ConnectOptions = { host: 'mx.example.net', tls: 'none', timeouts: FAST, ...options };
  const session = await handshake(t, o, resolveConnectOptions(o), null);
  return { t, session };
}

describe('input safety: control characters in envelope addresses (in-memory, every control)', () => {
  for (const field of ['from', 'to'] as const) {
    it(`${field}: each C0 control and DEL is an input error and no MAIL FROM is written`, async () => {
      for (const [name, c] of CONTROLS) {
        const { t, session } = await memorySession();
        const from = field === 'from' ? `alice${c}x@example.com` : 'alice@example.com';
        const to = field === 'to' ? ['bob@example.net', `eve${c}@example.net`] : ['bob@example.net'];
        const err = await rejection(session.send({ from, to, data: 'Subject: x\r\n\r\nhi\r\n' }));
        expectInputError(err);
        expect(text(t.written), `${field} with ${name}`).not.toMatch(/MAIL FROM|RCPT TO/);
        expect(session.usable, `${field} with ${name}: nothing was sent, so the session is still in step`).toBe(true);
        await session.quit();
      }
    });
  }
});

describe('input safety against a recording server: nothing of the transaction reaches the wire', () => {
  let server: RecordingServer;
  beforeAll(async () => {
    server = await startRecordingServer();
  });
  afterAll(async () => {
    await server.close();
  });

  /** Run `fn`, return the bytes the server received during it and the connections it opened. */
  async function observe(fn: () => Promise<unknown>): Promise<{ err: unknown; bytes: string; connections: number }> {
    const before = server.received().length;
    const conns = server.connections();
    const err = await rejection(fn());
    // Let any in-flight bytes land before looking.
    await new Promise((r) => setTimeout(r, 50));
    return { err, bytes: text(server.received().subarray(before)), connections: server.connections() - conns };
  }

  const base = (): ConnectOptions & SendOptions => ({
    host: server.host,
    port: server.port,
    tls: 'none',
    timeouts: FAST,
    from: 'alice@example.com',
    to: ['bob@example.net'],
    data: 'Subject: hi\r\n\r\nhello\r\n',
  });

  for (const [name, payload] of PAYLOADS) {
    it(`sendMail: ${name} in from → input error, no MAIL FROM sent`, async () => {
      const r = await observe(() => sendMail({ ...base(), from: `alice@example.com${payload}` }));
      expectInputError(r.err);
      expect(r.bytes).not.toMatch(/MAIL FROM|RCPT TO|victim|DATA/);
    });
    it(`sendMail: ${name} in a recipient → input error, no MAIL FROM sent`, async () => {
      const r = await observe(() => sendMail({ ...base(), to: ['bob@example.net', `carol@example.net${payload}`] }));
      expectInputError(r.err);
      expect(r.bytes).not.toMatch(/MAIL FROM|RCPT TO|victim|DATA/);
    });
    it(`connect: ${name} in the EHLO name (clientName) → input error before connecting`, async () => {
      const r = await observe(() => connect({ host: server.host, port: server.port, tls: 'none', timeouts: FAST, clientName: `client.example${payload}` }));
      expectInputError(r.err);
      expect(r.bytes).not.toMatch(/EHLO|HELO|RCPT|MAIL/);
      expect(r.connections).toBe(0);
    });
    it(`connect: ${name} in the AUTH user → input error before connecting`, async () => {
      const r = await observe(() =>
        connect({
          host: server.host,
          port: server.port,
          tls: 'none',
          allowInsecureAuth: true,
          timeouts: FAST,
          auth: { user: `alice${payload}`, pass: 'pw', method: 'PLAIN' },
        }),
      );
      expectInputError(r.err);
      expect(r.bytes).not.toMatch(/AUTH|RCPT|MAIL/);
      expect(r.connections).toBe(0);
    });
  }

  it('AUTH LOGIN: a user with CRLF is refused before connecting (the base64 would hide it from a line check)', async () => {
    const r = await observe(() =>
      connect({ host: server.host, port: server.port, tls: 'none', allowInsecureAuth: true, timeouts: FAST, auth: { user: 'alice\r\nbob', pass: 'pw', method: 'LOGIN' } }),
    );
    expectInputError(r.err);
    expect(r.bytes).not.toMatch(/AUTH/);
    expect(r.connections).toBe(0);
  });

  it('a raw body with a 999-octet line is a typed input error and no message is completed', async () => {
    const messagesBefore = server.messages().length;
    const r = await observe(() => sendMail({ ...base(), data: `Subject: long\r\n\r\n${'x'.repeat(999)}\r\n` }));
    expectInputError(r.err);
    expect((r.err as { code?: string }).code).toBe('ERR_SMTP_LINE_TOO_LONG');
    expect(r.bytes).not.toContain('\r\n.\r\n');
    expect(server.messages().length).toBe(messagesBefore);
  });

  it('a raw body with a 998-octet line is the longest accepted (RFC 5321 §4.5.3.1.6)', async () => {
    const before = server.messages().length;
    const line = 'y'.repeat(998);
    const result = await sendMail({ ...base(), data: `Subject: long\r\n\r\n${line}\r\n` });
    expect(result.reply.code).toBe(250);
    expect(server.messages().length).toBe(before + 1);
    expect(text(server.messages().at(-1) as Buffer)).toBe(`Subject: long\r\n\r\n${line}\r\n`);
  });

  /** Build with mime inside an open session, as an application would: a MimeError must come before MAIL FROM. */
  async function sendBuilt(input: MessageInput) {
    const session = await connect({ host: server.host, port: server.port, tls: 'none', timeouts: FAST });
    try {
      const message = buildMessage(input);
      await session.send({ from: message.envelope.from, to: message.envelope.to, data: message });
    } finally {
      await session.quit();
    }
  }
  const msg = (extra: Partial<MessageInput>): MessageInput => ({ from: 'alice@example.com', to: ['bob@example.net'], subject: 'hi', text: 'hello', ...extra });

  const headerCases: Array<[string, Partial<MessageInput>]> = [];
  for (const [name, payload] of [...PAYLOADS, ['TAB-free controls 0x01', '\x01'] as [string, string], ['DEL', '\x7f'] as [string, string]]) {
    headerCases.push(
      [`subject with ${name}`, { subject: `hi${payload}` }],
      [`display name with ${name}`, { from: { name: `Alice${payload}`, address: 'alice@example.com' } }],
      [`to display name with ${name}`, { to: [{ name: `Bob${payload}`, address: 'bob@example.net' }] }],
      [`to address with ${name}`, { to: [{ address: `bob${payload}@example.net` }] }],
      [`from address string with ${name}`, { from: `alice@example.com${payload}` }],
      [`header value with ${name}`, { headers: { 'X-Tag': `v${payload}` } }],
      [`header name with ${name}`, { headers: [[`X-Tag${payload}`, 'v']] }],
      [`attachment filename with ${name}`, { attachments: [{ filename: `a${payload}.txt`, content: 'x' }] }],
      [`reply-to with ${name}`, { replyTo: `r@example.com${payload}` }],
    );
  }
  for (const [name, input] of headerCases) {
    it(`mime: ${name} → MimeError, no MAIL FROM sent`, async () => {
      const r = await observe(() => sendBuilt(msg(input)));
      expectInputError(r.err);
      expect(isMimeError(r.err) || isSmtpError(r.err)).toBe(true);
      expect(r.bytes).not.toMatch(/MAIL FROM|RCPT TO|victim/);
    });
  }
});
