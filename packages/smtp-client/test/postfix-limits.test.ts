import { Buffer, isAscii } from 'node:buffer';
import PostalMime from 'postal-mime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostfix, type PostfixServer } from '@smtpkit/testkit';
import { connect, type TranscriptEvent } from '../src/index.js';

// A real Postfix smtpd that takes 100 recipients per transaction (smtpd_recipient_limit), offers SMTPUTF8 and
// withholds 8BITMIME. startPostfix() throws when Postfix is missing: this file fails loudly then.

let postfix: PostfixServer;
beforeAll(async () => {
  postfix = await startPostfix({
    extraMainCf: { smtpd_recipient_limit: '100', smtputf8_enable: 'yes', smtpd_discard_ehlo_keywords: '8bitmime' },
  });
}, 60_000);
afterAll(async () => {
  await postfix?.stop();
});

const TEXT = 'Grüße aus Köln: eine Nachricht an 150 Empfänger.';
const MESSAGE = [
  'From: Alice <alice@example.com>',
  'To: undisclosed-recipients:;',
  'Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=',
  'Date: Mon, 07 Dec 2026 01:00:00 +0000',
  'Message-ID: <limits@example.com>',
  'MIME-Version: 1.0',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: 8bit',
  '',
  TEXT,
  '',
].join('\r\n');

/** The stored copy without what Postfix prepends (Return-Path, Delivered-To, Received…). */
function original(raw: Buffer): Buffer {
  return raw.subarray(raw.indexOf('From: Alice'));
}

describe('Postfix: recipient limit, SMTPUTF8, no 8BITMIME', () => {
  it('150 recipients, 8-bit text: two transactions on one session, 7-bit on the wire, each recipient delivered once', async () => {
    const events: TranscriptEvent[] = [];
    const s = await connect({ host: '127.0.0.1', port: postfix.port, tls: 'none', onTranscript: (e) => events.push(e) });
    expect(s.capabilities.eightBitMime).toBe(false);
    const to = Array.from({ length: 150 }, (_, i) => `r${i}@example.com`);
    const r = await s.send({ from: 'alice@example.com', to, data: MESSAGE });
    await s.quit();
    expect(r.accepted).toEqual(to);
    expect(r.rejected).toEqual([]);
    expect(r.transactions?.map((t) => [t.accepted.length, t.reply.code])).toEqual([
      [100, 250],
      [50, 250],
    ]);
    const deferrals = events.filter((e) => e.dir === 'S' && /^452 4\.5\.3/.test(e.text));
    expect(deferrals).toHaveLength(50);
    expect(events.filter((e) => e.dir === 'C' && /^MAIL FROM:/.test(e.text)).every((e) => !/BODY=/.test(e.text))).toBe(true);

    const stored = await postfix.waitForMessages(150, 60_000);
    expect(stored.map((m) => m.recipient).sort()).toEqual(to.slice().sort());
    // Parsed back by an independent parser: the text arrived as sent, in a 7-bit transfer encoding.
    const copy = original(stored[149]!.raw);
    expect(isAscii(copy)).toBe(true);
    expect(copy.toString('latin1')).toMatch(/Content-Transfer-Encoding: (quoted-printable|base64)/);
    const parsed = await PostalMime.parse(copy);
    expect(parsed.subject).toBe('Grüße');
    expect(parsed.text?.trim()).toBe(TEXT);
  }, 120_000);

  it('a UTF-8 recipient: SMTPUTF8 used because Postfix offers it, and the message delivered', async () => {
    const before = (await postfix.messages()).length;
    const to = '\u03b4\u03bf\u03ba\u03b9\u03bc\u03ae@example.com';
    const events: TranscriptEvent[] = [];
    const s = await connect({ host: '127.0.0.1', port: postfix.port, tls: 'none', onTranscript: (e) => events.push(e) });
    expect(s.capabilities.smtputf8).toBe(true);
    const data = 'From: alice@example.com\r\nTo: b@example.com\r\nSubject: utf8\r\nMessage-ID: <utf8@example.com>\r\n\r\nHello.\r\n';
    const r = await s.send({ from: 'alice@example.com', to: [to], data });
    await s.quit();
    expect(r.accepted).toEqual([to]);
    expect(events.some((e) => e.dir === 'C' && /^MAIL FROM:<alice@example\.com>.* SMTPUTF8/.test(e.text))).toBe(true);
    const stored = await postfix.waitForMessages(before + 1, 30_000);
    const mine = stored.find((m) => m.raw.includes('<utf8@example.com>'));
    // testkit reads X-Original-To as latin1: its octets are the UTF-8 address.
    expect(Buffer.from(mine!.recipient, 'latin1').toString('utf8')).toBe(to);
    expect((await PostalMime.parse(mine!.raw)).text?.trim()).toBe('Hello.');
  }, 60_000);
});
