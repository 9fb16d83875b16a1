import { generateCertificates, startDovecot, type DovecotServer, type TestCertificates } from '@smtpkit/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, createPool, isSmtpError, type ConnectOptions, type SendResult, type Session } from '../src/index.js';
import { startRawServer } from './helpers/raw-server.js';
import { startTestServer } from './helpers/smtp-server.js';

// LMTP (RFC 2033) through connect() and createPool() against a private Dovecot LMTP server, over TCP and over its
// Unix socket, delivering into a Maildir per user in a temp dir. `bob` has no quota; `carol` has 1K, so a 3 KB message
// is accepted for her at RCPT (her mailbox is empty) and refused after the data with 452 4.2.2 (the LMTP-specific
// case, §4.2); `nobody` does not exist and is refused at RCPT with 550.

const BOB = 'bob@example.net';
const CAROL = 'carol@example.net';
const NOBODY = 'nobody@example.net';
const FROM = 'sender@example.org';

let certs: TestCertificates;
let dovecot: DovecotServer;

beforeAll(async () => {
  certs = await generateCertificates();
  dovecot = await startDovecot({
    lmtp: true,
    certs,
    users: [
      { user: BOB, password: 'b' },
      { user: CAROL, password: 'c', quota: '1K' },
    ],
  });
}, 60_000);

afterAll(async () => {
  await dovecot?.stop();
});

/** A message with a unique subject; `big` is over carol's 1K quota. */
function message(subject: string, big = false): string {
  const body = big ? `${'x'.repeat(70)}\r\n`.repeat(40) : 'Hello over LMTP.\r\n';
  return `From: ${FROM}\r\nTo: ${BOB}\r\nSubject: ${subject}\r\n\r\n${body}`;
}

// Dovecot offers STARTTLS on LMTP; the default (opportunistic) takes it, so the test CA is given.
const tcp = (): ConnectOptions => ({ host: '127.0.0.1', port: dovecot.lmtpPort as number, protocol: 'lmtp', servername: 'localhost', ca: certs.caCert });
const unix = (): ConnectOptions => ({ path: dovecot.lmtpSocket as string, protocol: 'lmtp' });

async function deliveredTo(user: string, subject: string): Promise<Buffer[]> {
  const all = await dovecot.messages(user);
  return all.filter((m) => m.raw.includes(`Subject: ${subject}\r\n`) || m.raw.includes(`Subject: ${subject}\n`)).map((m) => m.raw);
}

function withTranscript(o: ConnectOptions): { options: ConnectOptions; lines: string[] } {
  const lines: string[] = [];
  return { options: { ...o, onTranscript: (e) => lines.push(`${e.dir}: ${e.text}`) }, lines };
}

describe('LMTP handshake and single-recipient delivery', () => {
  it('TCP: LHLO (never EHLO or HELO), STARTTLS with LHLO again inside TLS, then a DATA delivery', async () => {
    const { options, lines } = withTranscript({ ...tcp(), tls: 'starttls', chunking: 'never' });
    const session = await connect(options);
    try {
      expect(session.protocol).toBe('lmtp');
      expect(session.secure).toBe(true);
      expect(session.capabilities.pipelining).toBe(true);
      const result = await session.send({ from: FROM, to: [BOB], data: message('lmtp tcp data') });
      expect(result.accepted).toEqual([BOB]);
      expect(result.rejected).toEqual([]);
      expect(result.reply.code).toBe(250);
    } finally {
      await session.quit();
    }
    expect(lines.filter((l) => l.startsWith('C: LHLO ')).length).toBe(2);
    expect(lines.some((l) => /^C: (EHLO|HELO) /.test(l))).toBe(false);
    expect(lines).toContain('C: STARTTLS');
    expect(lines).toContain('C: DATA');
    const [stored] = await deliveredTo(BOB, 'lmtp tcp data');
    expect(stored?.toString('latin1')).toMatch(/^Return-Path: <sender@example\.org>\r?\nDelivered-To: bob@example\.net/);
  });

  it('Unix socket: connects by path, TLS off by default (STARTTLS offered, not used), BDAT delivery', async () => {
    const { options, lines } = withTranscript(unix());
    const session = await connect(options);
    try {
      expect(session.protocol).toBe('lmtp');
      expect(session.remote).toBe(`unix:${dovecot.lmtpSocket}`);
      expect(session.secure).toBe(false);
      expect(session.capabilities.chunking).toBe(true);
      const result = await session.send({ from: FROM, to: [BOB], data: message('lmtp unix bdat') });
      expect(result.accepted).toEqual([BOB]);
      expect(result.reply.code).toBe(250);
      // The session stays in step: the next command is answered at once.
      expect((await session.noop()).code).toBe(250);
    } finally {
      await session.quit();
    }
    expect(lines).toContain(`*: connected to unix:${dovecot.lmtpSocket}`);
    expect(lines.some((l) => l.startsWith('C: LHLO '))).toBe(true);
    expect(lines).not.toContain('C: STARTTLS');
    expect(lines.some((l) => /^C: BDAT \d+ LAST$/.test(l))).toBe(true);
    expect(await deliveredTo(BOB, 'lmtp unix bdat')).toHaveLength(1);
  });

  it('stopAfter ehlo stops after LHLO and reports what the LMTP server offers', async () => {
    const session = await connect({ ...unix(), stopAfter: 'ehlo' });
    expect(session.usable).toBe(false);
    expect(session.greeting.code).toBe(220);
    expect([...session.capabilities.keywords.keys()]).toEqual(expect.arrayContaining(['PIPELINING', 'CHUNKING', 'ENHANCEDSTATUSCODES']));
  });

  it('createPool({ protocol: "lmtp", path }) delivers several messages over the Unix socket', async () => {
    const pool = createPool({ ...unix(), maxConnections: 2 });
    try {
      const results = await Promise.all([1, 2, 3].map((n) => pool.send({ from: FROM, to: [BOB], data: message(`lmtp pool ${n}`) })));
      for (const r of results) expect(r.accepted).toEqual([BOB]);
    } finally {
      await pool.close();
    }
    for (const n of [1, 2, 3]) expect(await deliveredTo(BOB, `lmtp pool ${n}`)).toHaveLength(1);
  });

  it('a server that does not speak LMTP: the refused LHLO ends the session, with no HELO fallback', async () => {
    const smtp = await startTestServer({ record: true });
    try {
      const { options, lines } = withTranscript({ host: '127.0.0.1', port: smtp.port, protocol: 'lmtp', tls: 'none' });
      const error = await connect(options).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isSmtpError(error)).toBe(true);
      if (!isSmtpError(error)) return;
      expect(error.message).toMatch(/^LHLO localhost rejected: 5\d\d /);
      expect(error.message).toMatch(/does not speak LMTP/);
      expect(error.command).toBe('LHLO localhost');
      expect(error.hint).toMatch(/SMTP port/);
      expect(lines.some((l) => /^C: (EHLO|HELO) /.test(l))).toBe(false);
      expect(smtp.clientBytes()).not.toMatch(/HELO|EHLO/);
    } finally {
      await smtp.close();
    }
  });

  it('AUTH over LMTP where the server offers it (smtp-server in LMTP mode)', async () => {
    const seen: string[] = [];
    const server = await startTestServer({
      lmtp: true,
      authOptional: false,
      allowInsecureAuth: true,
      authMethods: ['PLAIN'],
      onAuth(auth, _session, callback) {
        seen.push(`${auth.method} ${auth.username}`);
        if (auth.username === 'lmtp-user' && auth.password === 'lmtp-pass') callback(null, { user: auth.username });
        else callback(new Error('bad credentials'));
      },
    });
    try {
      const { options, lines } = withTranscript({
        host: '127.0.0.1', port: server.port, protocol: 'lmtp', tls: 'none',
        auth: { user: 'lmtp-user', pass: 'lmtp-pass' }, allowInsecureAuth: true,
      });
      const session = await connect(options);
      let result: SendResult;
      try {
        expect(session.authenticated).toBe('PLAIN');
        result = await session.send({ from: FROM, to: [BOB], data: message('lmtp auth') });
      } finally {
        await session.quit();
      }
      expect(result.accepted).toEqual([BOB]);
      expect(seen).toEqual(['PLAIN lmtp-user']);
      expect(lines.some((l) => l.startsWith('C: LHLO '))).toBe(true);
      expect(lines.join('\n')).not.toContain('lmtp-pass');
      expect(server.messages[0]?.data.toString()).toContain('Subject: lmtp auth');
    } finally {
      await server.close();
    }
  });

  it('a silent LHLO times out naming LHLO', async () => {
    const raw = await startRawServer((c) => c.send('220 lmtp.test ready\r\n'));
    try {
      const error = await connect({ host: '127.0.0.1', port: raw.port, protocol: 'lmtp', tls: 'none', timeouts: { ehlo: 300 } }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isSmtpError(error) && error.kind).toBe('timeout');
      expect((error as Error).message).toMatch(/during LHLO$/);
    } finally {
      await raw.close();
    }
  });
});

// These need the send path that drives each transaction with ClientTransaction({ lmtp: true }): one reply per
// accepted recipient after the end of data (RFC 2033 §4.2), mapped into `rejected`.
describe('LMTP: one final reply per recipient after the data', () => {
  async function threeRecipients(o: ConnectOptions, subject: string): Promise<{ result: SendResult; session: Session }> {
    const session = await connect(o);
    const result = await session.send({ from: FROM, to: [BOB, NOBODY, CAROL], data: message(subject, true) });
    return { result, session };
  }

  it.each<[string, () => ConnectOptions, RegExp]>([
    ['TCP, DATA', () => ({ ...tcp(), chunking: 'never' }), /^DATA$/],
    ['Unix socket, BDAT', () => unix(), /^BDAT \d+ LAST$/],
  ])('%s: delivered to bob, nobody refused at RCPT, carol over quota after the data', async (name, options, endCommand) => {
    const subject = `lmtp three ${name}`;
    const { result, session } = await threeRecipients(options(), subject);
    try {
      expect(result.accepted).toEqual([BOB]);
      expect(result.rejected.map((r) => r.address)).toEqual([NOBODY, CAROL]);
      const [nobody, carol] = result.rejected;
      expect(nobody?.reply.code).toBe(550);
      expect(nobody?.error.command).toBe(`RCPT TO:<${NOBODY}>`);
      expect(carol?.reply.code).toBe(452);
      expect(carol?.error.enhancedStatus).toBe('4.2.2');
      expect(carol?.error.retryable).toBe(true);
      expect(carol?.error.command).toMatch(endCommand);
      expect(carol?.reply.text).toMatch(/Quota exceeded/);
      expect(result.reply.code).toBe(250);
      // Exactly the owed replies were read: the session is still in step.
      expect(session.usable).toBe(true);
      expect((await session.noop()).code).toBe(250);
    } finally {
      await session.quit();
    }
    expect(await deliveredTo(BOB, subject)).toHaveLength(1);
    expect(await dovecot.messages(CAROL)).toEqual([]);
  });

  it('every recipient failing after the data is a failed send, not a success', async () => {
    const session = await connect(unix());
    try {
      const error = await session.send({ from: FROM, to: [CAROL], data: message('lmtp all fail', true) }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isSmtpError(error)).toBe(true);
      expect((error as { replyCode?: number }).replyCode).toBe(452);
    } finally {
      await session.quit();
    }
    expect(await dovecot.messages(CAROL)).toEqual([]);
  });
});
