import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  generateCertificates,
  startAiosmtpd,
  startDovecot,
  type AiosmtpdServer,
  type DovecotServer,
  type TestCertificates,
} from '../src/index.js';
import { isAlive } from './alive.js';
import { Dialogue, sendOne } from './dialogue.js';

const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');
const unb64 = (s: string): string => Buffer.from(s, 'base64').toString('utf8');

async function ehlo(d: Dialogue): Promise<string[]> {
  expect((await d.reply()).code).toBe(220);
  const reply = await d.command('EHLO client.test');
  expect(reply.code).toBe(250);
  return reply.lines;
}

/** RFC 5802 SCRAM client exchange over SMTP AUTH (RFC 4954), returning the final reply code. */
async function scram(d: Dialogue, hash: 'sha1' | 'sha256', user: string, password: string): Promise<number> {
  const nonce = randomBytes(18).toString('base64');
  const clientFirstBare = `n=${user},r=${nonce}`;
  const first = await d.command(`AUTH SCRAM-${hash === 'sha1' ? 'SHA-1' : 'SHA-256'} ${b64(`n,,${clientFirstBare}`)}`);
  if (first.code !== 334) return first.code;
  const serverFirst = unb64(first.lines[0]!);
  const fields = Object.fromEntries(serverFirst.split(',').map((f) => [f[0], f.slice(2)]));
  expect(fields.r!.startsWith(nonce)).toBe(true);
  const salted = pbkdf2Sync(password, Buffer.from(fields.s!, 'base64'), Number(fields.i), hash === 'sha1' ? 20 : 32, hash);
  const clientKey = createHmac(hash, salted).update('Client Key').digest();
  const storedKey = createHash(hash).update(clientKey).digest();
  const withoutProof = `c=biws,r=${fields.r}`;
  const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
  const signature = createHmac(hash, storedKey).update(authMessage).digest();
  const proof = Buffer.from(clientKey.map((byte, i) => byte ^ signature[i]!));
  const final = await d.command(b64(`${withoutProof},p=${proof.toString('base64')}`));
  if (final.code !== 334) return final.code;
  const serverKey = createHmac(hash, salted).update('Server Key').digest();
  expect(unb64(final.lines[0]!)).toBe(`v=${createHmac(hash, serverKey).update(authMessage).digest('base64')}`);
  return (await d.command('')).code;
}

describe('startDovecot: submission', () => {
  let certs: TestCertificates;
  let relay: AiosmtpdServer;
  let dovecot: DovecotServer;

  beforeAll(async () => {
    certs = await generateCertificates();
    relay = await startAiosmtpd();
    dovecot = await startDovecot({ submission: { relayPort: relay.port }, certs });
  });
  afterAll(async () => {
    await dovecot?.stop();
    await relay?.stop();
  });

  it('offers STARTTLS and the password mechanisms', async () => {
    const d = await Dialogue.open(dovecot.submissionPort!);
    try {
      const lines = await ehlo(d);
      expect(lines).toEqual(expect.arrayContaining(['STARTTLS', 'PIPELINING', 'CHUNKING', 'ENHANCEDSTATUSCODES']));
      expect(lines.find((l) => l.startsWith('AUTH '))?.split(' ').slice(1).sort()).toEqual(
        ['CRAM-MD5', 'LOGIN', 'PLAIN', 'SCRAM-SHA-1', 'SCRAM-SHA-256'],
      );
    } finally {
      d.close();
    }
  });

  it.each([
    ['PLAIN', async (d: Dialogue, pw: string) => (await d.command(`AUTH PLAIN ${b64(`\0alice@example.com\0${pw}`)}`)).code],
    ['LOGIN', async (d: Dialogue, pw: string) => {
      expect((await d.command('AUTH LOGIN')).code).toBe(334);
      expect((await d.command(b64('alice@example.com'))).code).toBe(334);
      return (await d.command(b64(pw))).code;
    }],
    ['CRAM-MD5', async (d: Dialogue, pw: string) => {
      const challenge = await d.command('AUTH CRAM-MD5');
      expect(challenge.code).toBe(334);
      const digest = createHmac('md5', pw).update(Buffer.from(challenge.lines[0]!, 'base64')).digest('hex');
      return (await d.command(b64(`alice@example.com ${digest}`))).code;
    }],
    ['SCRAM-SHA-1', (d: Dialogue, pw: string) => scram(d, 'sha1', 'alice@example.com', pw)],
    ['SCRAM-SHA-256', (d: Dialogue, pw: string) => scram(d, 'sha256', 'alice@example.com', pw)],
  ])('%s accepts the right password and refuses a wrong one', async (_name, auth) => {
    for (const [password, code] of [['alice-password', 235], ['wrong', 535]] as const) {
      const d = await Dialogue.open(dovecot.submissionPort!);
      try {
        await ehlo(d);
        expect(await auth(d, password)).toBe(code);
      } finally {
        d.close();
      }
    }
  });

  it('relays an authenticated message after STARTTLS to the sink the caller named', async () => {
    const d = await Dialogue.open(dovecot.submissionPort!);
    try {
      await ehlo(d);
      expect((await d.command('STARTTLS')).code).toBe(220);
      const secure = await d.startTls(certs.caCert);
      expect(secure.authorized).toBe(true);
      expect((await d.command('EHLO client.test')).lines).not.toContain('STARTTLS');
      expect((await d.command(`AUTH PLAIN ${b64('\0bob@example.com\0bob-password')}`)).code).toBe(235);
      expect((await sendOne(d, 'bob@example.com', ['carol@example.org'], 'Subject: relayed\n\nvia dovecot\n')).code).toBe(250);
      await d.command('QUIT');
    } finally {
      d.close();
    }
    const [message] = await relay.waitForMessages(1);
    expect(message!.to).toEqual(['carol@example.org']);
    expect(message!.raw.toString()).toContain('Subject: relayed');
    await dovecot.waitForLog(/submission-login: Info: Login: user=<bob@example\.com>, method=PLAIN.*lport=\d+/);
  });

  it('speaks implicit TLS on the submissions port', async () => {
    const d = await Dialogue.openTls(dovecot.submissionsPort!, certs.caCert);
    try {
      const lines = await ehlo(d);
      expect(lines).not.toContain('STARTTLS');
      expect((await d.command(`AUTH PLAIN ${b64('\0alice@example.com\0alice-password')}`)).code).toBe(235);
    } finally {
      d.close();
    }
  });
});

describe('startDovecot: LMTP', () => {
  let dovecot: DovecotServer;

  beforeAll(async () => {
    dovecot = await startDovecot({
      lmtp: true,
      users: [
        { user: 'alice@example.com', password: 'a' },
        { user: 'bob@example.com', password: 'b', quota: '1K' },
      ],
    });
  });
  afterAll(async () => {
    await dovecot?.stop();
  });

  it('gives one recipient 452 over quota while the other gets 250 (TCP)', async () => {
    const d = await Dialogue.open(dovecot.lmtpPort!);
    try {
      expect((await d.reply()).code).toBe(220);
      expect((await d.command('LHLO client.test')).code).toBe(250);
      expect((await d.command('MAIL FROM:<s@client.test>')).code).toBe(250);
      expect((await d.command('RCPT TO:<alice@example.com>')).code).toBe(250);
      expect((await d.command('RCPT TO:<bob@example.com>')).code).toBe(250);
      expect((await d.command('RCPT TO:<nobody-here@example.com>')).code).toBe(550);
      expect((await d.command('DATA')).code).toBe(354);
      d.write(`Subject: big\r\n\r\n${`${'x'.repeat(70)}\r\n`.repeat(40)}.\r\n`);
      // RFC 2033 §4.2: one reply per accepted recipient, in RCPT order.
      const alice = await d.reply();
      const bob = await d.reply();
      expect(alice.code).toBe(250);
      expect(bob.code).toBe(452);
      expect(bob.lines[0]).toMatch(/^4\.2\.2 .*Quota exceeded/);
    } finally {
      d.close();
    }
    const delivered = await dovecot.waitForMessages(1, { user: 'alice@example.com' });
    expect(delivered[0]!.raw.toString()).toContain('Subject: big');
    expect(await dovecot.messages('bob@example.com')).toEqual([]);
  });

  it('delivers over the Unix socket into the Maildir', async () => {
    const d = await Dialogue.openUnix(dovecot.lmtpSocket!);
    try {
      expect((await d.reply()).code).toBe(220);
      expect((await d.command('LHLO client.test')).code).toBe(250);
      expect((await d.command('MAIL FROM:<s@client.test>')).code).toBe(250);
      expect((await d.command('RCPT TO:<bob@example.com>')).code).toBe(250);
      expect((await d.command('DATA')).code).toBe(354);
      d.write('Subject: small\r\n\r\nfits\r\n.\r\n');
      expect((await d.reply()).code).toBe(250);
    } finally {
      d.close();
    }
    const [message] = await dovecot.waitForMessages(1, { user: 'bob@example.com' });
    expect(message!.raw.toString()).toMatch(/^Return-Path: <s@client\.test>\r?\nDelivered-To: bob@example\.com/);
  });
});

describe('startDovecot: oauth2 passdb (introspection_mode = post)', () => {
  let relay: AiosmtpdServer;
  let dovecot: DovecotServer;
  let provider: Server;
  const seen: Array<{ authorization?: string; body: URLSearchParams }> = [];

  beforeAll(async () => {
    // A minimal RFC 7662 endpoint: the real provider is exercised by @smtpkit/oauth's tests.
    provider = createServer((req: IncomingMessage, res) => {
      let text = '';
      req.on('data', (chunk: Buffer) => (text += chunk.toString()));
      req.on('end', () => {
        const body = new URLSearchParams(text);
        seen.push({ authorization: req.headers.authorization, body });
        const active = body.get('token') === 'good-token';
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(active ? { active: true, sub: 'alice@example.com' } : { active: false }));
      });
    });
    await new Promise<void>((resolve) => provider.listen(0, '127.0.0.1', resolve));
    const port = (provider.address() as AddressInfo).port;
    relay = await startAiosmtpd();
    dovecot = await startDovecot({
      submission: { relayPort: relay.port },
      oauth2: { introspectionUrl: `http://127.0.0.1:${port}/token/introspection`, clientId: 'dovecot', clientSecret: 'dovecot-secret' },
    });
  });
  afterAll(async () => {
    await dovecot?.stop();
    await relay?.stop();
    await new Promise((resolve) => provider?.close(resolve));
  });

  it('accepts XOAUTH2 and OAUTHBEARER with an active token and refuses an inactive one', async () => {
    const xoauth2 = (token: string): string => `AUTH XOAUTH2 ${b64(`user=alice@example.com\x01auth=Bearer ${token}\x01\x01`)}`;
    const oauthbearer = (token: string): string =>
      `AUTH OAUTHBEARER ${b64(`n,a=alice@example.com,\x01auth=Bearer ${token}\x01\x01`)}`;
    for (const [command, status] of [[xoauth2, '401'], [oauthbearer, 'invalid_token']] as const) {
      const good = await Dialogue.open(dovecot.submissionPort!);
      try {
        expect((await ehlo(good)).find((l) => l.startsWith('AUTH '))).toContain('XOAUTH2');
        expect((await good.command(command('good-token'))).code).toBe(235);
      } finally {
        good.close();
      }
      const bad = await Dialogue.open(dovecot.submissionPort!);
      try {
        await ehlo(bad);
        // RFC 7628 §3.2.2: the failure arrives as a 334 JSON challenge; the client answers with an empty line.
        const challenge = await bad.command(command('stale-token'));
        expect(challenge.code).toBe(334);
        expect(JSON.parse(unb64(challenge.lines[0]!))).toMatchObject({ status });
        expect((await bad.command('')).code).toBe(535);
      } finally {
        bad.close();
      }
    }
    expect(seen.map((s) => s.body.get('token'))).toEqual(['good-token', 'stale-token', 'good-token', 'stale-token']);
    expect(seen[0]!.body.get('client_id')).toBe('dovecot');
    expect(seen[0]!.body.get('client_secret')).toBe('dovecot-secret');
  });
});

describe('startDovecot: lifecycle', () => {
  it('stops the master by PID and leaves no directory behind', async () => {
    const dovecot = await startDovecot({ lmtp: true });
    expect(isAlive(dovecot.pid)).toBe(true);
    await dovecot.stop();
    expect(isAlive(dovecot.pid)).toBe(false);
    expect(existsSync(dovecot.dir)).toBe(false);
  });

  it('refuses a configuration without a service', async () => {
    await expect(startDovecot({})).rejects.toThrow(/enable `submission`, `lmtp` or both/);
  });
});
