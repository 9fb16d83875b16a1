import { spawnSync } from 'node:child_process';
import { isAscii } from 'node:buffer';
import { join } from 'node:path';
import { mailServer, startFaultServer, type FaultServer, type MailServerOptions } from '@smtpkit/client/testing';
import { startPostfix, type PostfixServer } from '@smtpkit/testkit';
import PostalMime from 'postal-mime';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCli, scratch } from './helpers.js';

// Where smtpkit used to be stricter than the RFCs and mail was lost: 2yz replies (RFC 5321 §4.2.1), recipient
// limits (§4.5.3.1.10), UTF-8 addresses (RFC 6531) and 8-bit messages to 7-bit servers (RFC 6152 §3).

const GREEK = '\u03b4\u03bf\u03ba\u03b9\u03bc\u03ae@\u03c0\u03b1\u03c1\u03ac\u03b4\u03b5\u03b9\u03b3\u03bc\u03b1.\u03b4\u03bf\u03ba\u03b9\u03bc\u03ae';
const TEXT = 'Grüße aus Köln: 8-bit text for a 7-bit server.';
const EIGHT_BIT_EML = [
  'From: Alice <alice@example.com>',
  'To: Bob <bob@example.com>',
  'Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=',
  'Message-ID: <eightbit@example.com>',
  'MIME-Version: 1.0',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: 8bit',
  '',
  TEXT,
  '',
].join('\r\n');
const HEADER_8BIT_EML = 'From: alice@example.com\r\nTo: bob@example.com\r\nSubject: Grüße\r\nMIME-Version: 1.0\r\n\r\nx\r\n';

let dir: string;
let server: FaultServer | undefined;
beforeAll(() => {
  dir = scratch({ '8bit.eml': EIGHT_BIT_EML, 'header.eml': HEADER_8BIT_EML });
});
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(options: MailServerOptions): Promise<FaultServer> {
  server = await startFaultServer(mailServer(options));
  return server;
}
const at = (s: FaultServer) => ['-p', String(s.port), '--tls', 'none'];
const verbs = (s: FaultServer) => (s.connections[0]?.commands ?? []).map((c) => c.split(/[ :]/)[0]);
const rcpts = (n: number) => Array.from({ length: n }, (_, i) => `r${i}@example.org`);

describe('smtpkit send against RFC-conforming servers that used to lose mail', () => {
  it('252 to RCPT is an acceptance: exit 0, accepted in --json', async () => {
    const s = await start({ ehlo: { pipelining: true }, rcpt: () => '252 2.1.5 Cannot VRFY user, but will accept message and attempt delivery' });
    const r = await runCli(['send', ...at(s), '--json', '-f', 'a@example.com', '-t', 'x@example.org', '--body', 'hi']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, accepted: ['x@example.org'], rejected: [] });
  });

  it('150 recipients to a server that takes 100 per transaction: all accepted, two transactions in --json', async () => {
    const s = await start({ ehlo: { pipelining: true }, recipientLimit: 100 });
    const to = rcpts(150);
    const r = await runCli(['send', ...at(s), '--json', '-f', 'a@example.com', ...to.flatMap((t) => ['-t', t]), '--body', 'hi all']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.accepted).toEqual(to);
    expect(j.rejected).toEqual([]);
    expect(j.transactions.map((t: { accepted: string[]; reply: { code: number } }) => [t.accepted.length, t.reply.code])).toEqual([
      [100, 250],
      [50, 250],
    ]);
    expect(s.connections[0]?.messages).toHaveLength(2);
  });

  it('a UTF-8 recipient (-t) and sender (-f) go out with SMTPUTF8 when the server offers it', async () => {
    const s = await start({ ehlo: { eightBitMime: true, smtputf8: true } });
    const r = await runCli(['send', ...at(s), '-f', 'j\u00f6rg@example.com', '-t', GREEK, '--subject', 'utf8', '--body', 'hi']);
    expect(r.code, r.stderr).toBe(0);
    const commands = s.connections[0]?.commands ?? [];
    // The built message is known to be 8-bit (UTF-8 in its header): BODY=8BITMIME says so (RFC 6152 §3).
    expect(commands).toContain('MAIL FROM:<j\u00f6rg@example.com> BODY=8BITMIME SMTPUTF8');
    expect(commands).toContain(`RCPT TO:<${GREEK}>`);
  });

  it('a UTF-8 recipient when SMTPUTF8 is not offered: exit 65 after EHLO, a clear message, and QUIT', async () => {
    const s = await start({ ehlo: { eightBitMime: true } });
    const r = await runCli(['send', ...at(s), '-f', 'a@example.com', '-t', GREEK, '--body', 'hi']);
    expect(r.code).toBe(65);
    expect(r.stderr).toContain(GREEK);
    expect(r.stderr).toMatch(/SMTPUTF8/);
    expect(r.stderr).not.toMatch(/smtputf8: true/);
    await s.connections[0]?.done;
    expect(verbs(s)).toEqual(['EHLO', 'QUIT']);
  });

  it('--eml with an 8-bit text part to a server without 8BITMIME: converted to 7-bit and sent', async () => {
    const s = await start({ ehlo: { pipelining: true } });
    const r = await runCli(['send', ...at(s), '-v', '-f', 'alice@example.com', '-t', 'bob@example.com', '--eml', join(dir, '8bit.eml')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/converted to 7-bit MIME/);
    const stored = s.connections[0]?.messages[0] as Buffer;
    expect(isAscii(stored)).toBe(true);
    const parsed = await PostalMime.parse(stored);
    expect(parsed.text?.trim()).toBe(TEXT);
  });

  it('--eml with raw UTF-8 in a header to a server without 8BITMIME: exit 65, nothing sent, QUIT', async () => {
    const s = await start({});
    const r = await runCli(['send', ...at(s), '-f', 'alice@example.com', '-t', 'bob@example.com', '--eml', join(dir, 'header.eml')]);
    expect(r.code).toBe(65);
    expect(r.stderr).toMatch(/8-bit/);
    await s.connections[0]?.done;
    expect(verbs(s)).toEqual(['EHLO', 'QUIT']);
  });

  it('hints speak the CLI: STARTTLS not offered names --tls, never a library option', async () => {
    const s = await start({});
    const r = await runCli(['send', '-p', String(s.port), '--tls', 'starttls', '-f', 'a@example.com', '-t', 'b@example.org', '--body', 'x']);
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/hint: .*--tls implicit/);
    expect(r.stderr).not.toMatch(/tls: '/);
  });
});

describe('against Postfix: smtpd_recipient_limit = 100, SMTPUTF8 on, 8BITMIME withheld', () => {
  let postfix: PostfixServer;
  beforeAll(async () => {
    postfix = await startPostfix({ extraMainCf: { smtpd_recipient_limit: '100', smtputf8_enable: 'yes', smtpd_discard_ehlo_keywords: '8bitmime' } });
  }, 60_000);
  afterAll(async () => {
    await postfix?.stop();
  });

  it('--eml 8-bit to 150 recipients: exit 0, every recipient delivered once, the copy read back by Python email', async () => {
    const to = Array.from({ length: 150 }, (_, i) => `p${i}@example.com`);
    const r = await runCli(['send', '-p', String(postfix.port), '--tls', 'none', '--json', '-f', 'alice@example.com', ...to.flatMap((t) => ['-t', t]), '--eml', join(dir, '8bit.eml')], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.accepted).toHaveLength(150);
    expect(j.transactions).toHaveLength(2);
    const stored = await postfix.waitForMessages(150, 60_000);
    expect(stored.map((m) => m.recipient).sort()).toEqual(to.slice().sort());
    // An independent parser, Debian's Python: the text part decoded from its 7-bit transfer encoding.
    const py = spawnSync('/usr/bin/python3', ['-c', [
      'import sys, email, email.policy',
      'm = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.default)',
      'print(m["Content-Transfer-Encoding"]); print(m["Subject"]); print(m.get_content().strip())',
    ].join('\n')], { input: stored[0]!.raw, encoding: 'utf8' });
    expect(py.status, py.stderr).toBe(0);
    const [cte, subject, text] = py.stdout.trim().split('\n');
    expect(cte).toMatch(/^(quoted-printable|base64)$/);
    expect(subject).toBe('Grüße');
    expect(text).toBe(TEXT);
  }, 120_000);

  it('a UTF-8 recipient: delivered through SMTPUTF8', async () => {
    const before = (await postfix.messages()).length;
    const r = await runCli(['send', '-p', String(postfix.port), '--tls', 'none', '-f', 'alice@example.com', '-t', '\u03b4\u03bf\u03ba\u03b9\u03bc\u03ae@example.com', '--subject', 'utf8 rcpt', '--body', 'hello']);
    expect(r.code, r.stderr).toBe(0);
    const stored = await postfix.waitForMessages(before + 1, 30_000);
    const mine = stored.find((m) => m.raw.includes('utf8 rcpt'));
    expect(Buffer.from(mine!.recipient, 'latin1').toString('utf8')).toBe('\u03b4\u03bf\u03ba\u03b9\u03bc\u03ae@example.com');
  }, 60_000);
});
