import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCertificates, startPostfix, type PostfixServer, type TestCertificates } from '@smtpkit/testkit';
import { connect } from '../src/index.js';
import type { TranscriptEvent } from '../src/transcript.js';

// Real Postfix smtpd round trips. startPostfix() throws when Postfix is missing: this file fails loudly then.

function message(subject: string, body: string): string {
  return [
    'From: Alice <alice@example.com>',
    'To: bob@example.net',
    `Subject: ${subject}`,
    'Date: Mon, 23 Nov 2026 20:00:00 +0000',
    `Message-ID: <${subject.replace(/\W/g, '')}@example.com>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    body,
  ].join('\r\n');
}

/** Maildir stores LF line endings; compare the part after Postfix's own Return-Path/Received lines. */
function storedBody(raw: Buffer): string {
  const text = raw.toString('utf8');
  return text.slice(text.indexOf('From: Alice'));
}

const lf = (s: string) => s.replace(/\r\n/g, '\n');

let certs: TestCertificates;
beforeAll(async () => {
  certs = await generateCertificates();
});

describe('Postfix with CHUNKING, PIPELINING and STARTTLS', () => {
  let postfix: PostfixServer;
  beforeAll(async () => {
    postfix = await startPostfix({ tls: 'may', certs, messageSizeLimit: 8_000_000 });
  }, 60_000);
  afterAll(async () => {
    await postfix?.stop();
  });

  it('STARTTLS, then BDAT with a pipelined envelope; several messages on one connection', async () => {
    const events: TranscriptEvent[] = [];
    const s = await connect({ host: '127.0.0.1', port: postfix.port, tls: 'starttls', ca: certs.caCert, onTranscript: (e) => events.push(e) });
    expect(s.tls?.verified).toBe('ca');
    expect(s.capabilities.chunking).toBe(true);
    expect(s.capabilities.pipelining).toBe(true);
    const bodies = [
      message('one', 'First.\r\n.starts with a dot\r\n'),
      message('two', 'Second \u00e9t\u00e9.\r\n'),
      message('three', `${'0123456789abcdef'.repeat(60)}\r\n`.repeat(3000)),
    ];
    for (const body of bodies) {
      const r = await s.send({ from: 'alice@example.com', to: ['bob@example.net'], data: body });
      expect(r.reply.code).toBe(250);
    }
    await s.quit();
    const stored = await postfix.waitForMessages(3, 20_000);
    const got = stored.map((m) => storedBody(m.raw)).sort();
    expect(got).toEqual(bodies.map(lf).sort());
    const c = events.filter((e) => e.dir === 'C').map((e) => e.text);
    expect(c).toContain(`BDAT ${Buffer.byteLength(bodies[0] as string)} LAST`);
    expect(c.filter((t) => /^BDAT 1048576$/.test(t)).length).toBeGreaterThanOrEqual(2);
    expect(c).not.toContain('DATA');
  });

  it('queued sends: MAIL, RCPT and BDAT LAST with the body in one write, several before their replies (RFC 3030 §4.2)', async () => {
    const before = (await postfix.messages()).length;
    const events: TranscriptEvent[] = [];
    const s = await connect({ host: '127.0.0.1', port: postfix.port, tls: 'starttls', ca: certs.caCert, onTranscript: (e) => events.push(e) });
    const bodies = [1, 2, 3, 4, 5].map((n) => message(`window${n}`, `Message ${n}.\r\n`));
    const to = (n: number) => (n === 3 ? ['mallory@elsewhere.invalid'] : ['bob@example.net']);
    const settled = await Promise.allSettled(bodies.map((data, i) => s.send({ from: 'alice@example.com', to: to(i + 1), data })));
    expect(settled.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    // Every recipient refused: the server refuses the pipelined chunk and nothing is delivered.
    expect((settled[2] as PromiseRejectedResult).reason).toMatchObject({ code: 'ERR_SMTP_RECIPIENTS_REJECTED' });
    expect(s.usable).toBe(true);
    await s.quit();
    const stored = await postfix.waitForMessages(before + 4, 20_000);
    const got = stored.map((m) => storedBody(m.raw)).filter((b) => b.includes('Subject: window'));
    expect(got.sort()).toEqual([0, 1, 3, 4].map((i) => lf(bodies[i] as string)).sort());
    const lines = events.filter((e) => e.dir !== '*').map((e) => `${e.dir}: ${e.text}`);
    const bdats = lines.flatMap((l, i) => (/^C: BDAT \d+ LAST$/.test(l) ? [i] : []));
    expect(bdats).toHaveLength(5);
    expect(lines[(bdats[0] as number) + 1]).toMatch(/^C: <chunk \d+ bytes>$/);
    // The second message went out before the first one's final reply came back.
    const firstQueued = lines.findIndex((l) => /^S: 250 .*queued/i.test(l));
    expect(bdats[1]).toBeLessThan(firstQueued);
    // No DATA, and no BDAT waits for the RCPT reply of its own transaction.
    expect(lines).not.toContain('C: DATA');
  });

  it("all-or-nothing keeps BDAT behind every RCPT reply, and sends nothing when one is refused", async () => {
    const events: TranscriptEvent[] = [];
    const s = await connect({ host: '127.0.0.1', port: postfix.port, tls: 'starttls', ca: certs.caCert, onTranscript: (e) => events.push(e) });
    const data = message('strict', 'Strict.\r\n');
    await expect(
      s.send({ from: 'alice@example.com', to: ['bob@example.net', 'mallory@elsewhere.invalid'], data, partial: 'all-or-nothing' }),
    ).rejects.toMatchObject({ code: 'ERR_SMTP_RECIPIENTS_REJECTED' });
    const r = await s.send({ from: 'alice@example.com', to: ['bob@example.net'], data, partial: 'all-or-nothing' });
    expect(r.reply.code).toBe(250);
    await s.quit();
    const lines = events.filter((e) => e.dir !== '*').map((e) => `${e.dir}: ${e.text}`);
    expect(lines.filter((l) => l.startsWith('C: BDAT'))).toHaveLength(1);
    const bdat = lines.findIndex((l) => l.startsWith('C: BDAT'));
    const rcpt = lines.lastIndexOf('C: RCPT TO:<bob@example.net>');
    expect(lines.slice(rcpt, bdat).some((l) => l.startsWith('S: 250 2.1.5'))).toBe(true);
  });

  it('recipients outside the accepted domains are reported; the others get the message', async () => {
    const s = await connect({ host: '127.0.0.1', port: postfix.port, tls: 'starttls', ca: certs.caCert });
    const r = await s.send({
      from: 'alice@example.com',
      to: ['carol@example.org', 'mallory@elsewhere.invalid'],
      data: message('partial', 'Partly.\r\n'),
    });
    expect(r.accepted).toEqual(['carol@example.org']);
    expect(r.rejected).toHaveLength(1);
    expect(r.rejected[0]?.reply.code).toBeGreaterThanOrEqual(450);
    expect(r.rejected[0]?.error.enhancedStatus).toMatch(/^[45]\.\d+\.\d+$/);
    await s.quit();
  });

  it('SIZE from Postfix stops an oversized message before MAIL FROM', async () => {
    const s = await connect({ host: '127.0.0.1', port: postfix.port, tls: 'starttls', ca: certs.caCert });
    expect(s.capabilities.size).toBe(8_000_000);
    await expect(s.send({ from: 'alice@example.com', to: ['bob@example.net'], data: 'x'.repeat(8_000_001) })).rejects.toMatchObject({
      code: 'ERR_SMTP_SIZE_EXCEEDED',
    });
    expect(s.usable).toBe(true);
    await s.quit();
  });
});

describe('Postfix without CHUNKING: DATA, pipelined and lock-step', () => {
  it.each([
    ['PIPELINING', true],
    ['lock-step', false],
  ])('%s', async (_name, pipelining) => {
    const postfix = await startPostfix({ chunking: false, pipelining });
    try {
      const events: TranscriptEvent[] = [];
      const s = await connect({ host: '127.0.0.1', port: postfix.port, onTranscript: (e) => events.push(e) });
      expect(s.capabilities.chunking).toBe(false);
      expect(s.capabilities.pipelining).toBe(pipelining);
      const body = message(`data ${pipelining}`, 'Line one.\r\n.\r\n..two dots\r\nlast line without newline');
      // Queued sends: with PIPELINING the second envelope follows the first end of data in one write.
      const [r, r2] = await Promise.all([
        s.send({ from: 'alice@example.com', to: ['bob@example.net', 'dave@example.com'], data: body }),
        s.send({ from: 'alice@example.com', to: ['erin@example.org'], data: body }),
      ]);
      expect(r?.accepted).toEqual(['bob@example.net', 'dave@example.com']);
      expect(r2?.accepted).toEqual(['erin@example.org']);
      await s.quit();
      const stored = await postfix.waitForMessages(3, 20_000);
      expect(stored).toHaveLength(3);
      for (const m of stored) expect(storedBody(m.raw)).toBe(`${lf(body)}\n`);
      expect(events.some((e) => e.dir === 'C' && e.text === 'DATA')).toBe(true);
    } finally {
      await postfix.stop();
    }
  }, 60_000);
});

describe('Postfix DSN: the original recipient of a non-ASCII address (RFC 6533)', () => {
  it('ORCPT=utf-8 as unitext under SMTPUTF8 and as 7-bit xtext for an IDN domain; Postfix reports both back in its DSNs', async () => {
    const postfix = await startPostfix({ domains: ['example.com', 'example.net', 'xn--bcher-kva.example'] });
    try {
      const events: TranscriptEvent[] = [];
      const s = await connect({ host: '127.0.0.1', port: postfix.port, onTranscript: (e) => events.push(e) });
      expect(s.capabilities.dsn).toBe(true);
      expect(s.capabilities.smtputf8).toBe(true);
      const dsn = { notify: ['SUCCESS' as const], orcpt: true, envid: 'orcpt-test' };
      // A non-ASCII local part needs SMTPUTF8 (RFC 6531); a non-ASCII domain alone goes as an A-label without it.
      const utf8 = await s.send({ from: 'alice@example.com', to: ['jöran+1@example.net'], data: message('unitext', 'Hej.\r\n'), dsn });
      const idn = await s.send({ from: 'alice@example.com', to: ['bob@bücher.example'], data: message('xtext', 'Hi.\r\n'), dsn });
      expect(utf8.accepted).toEqual(['jöran+1@example.net']);
      expect(idn.accepted).toEqual(['bob@bücher.example']);
      await s.quit();
      const rcpts = events.filter((e) => e.dir === 'C' && e.text.startsWith('RCPT')).map((e) => e.text);
      expect(rcpts).toEqual([
        'RCPT TO:<jöran+1@example.net> NOTIFY=SUCCESS ORCPT=utf-8;jöran\\x{2B}1@example.net',
        'RCPT TO:<bob@xn--bcher-kva.example> NOTIFY=SUCCESS ORCPT=utf-8;bob@b\\x{FC}cher.example',
      ]);
      // Two messages delivered, and a success notice (RFC 3464) for each back to alice@example.com.
      const stored = await postfix.waitForMessages(4, 20_000);
      const reports = stored.map((m) => m.raw.toString('utf8')).filter((t) => t.includes('report-type=delivery-status'));
      expect(reports).toHaveLength(2);
      const originals = reports.map((t) => /^Original-Recipient: (.*)$/m.exec(t)?.[1]?.trim()).sort();
      // Postfix decoded each form back to the address as given (its Original-Recipient field, RFC 3464 §2.3.1).
      expect(originals).toEqual(['utf-8;bob@bücher.example', 'utf-8;jöran+1@example.net']);
    } finally {
      await postfix.stop();
    }
  }, 60_000);
});
