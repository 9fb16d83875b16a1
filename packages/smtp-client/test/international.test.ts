import { Buffer, isAscii } from 'node:buffer';
import PostalMime from 'postal-mime';
import { afterEach, describe, expect, it } from 'vitest';
import { sendMail, type TranscriptEvent } from '../src/index.js';
import { mailServer, startFaultServer, type FaultServer, type MailServerOptions } from '../src/testing.js';
import { rejection } from './helpers/rejection.js';

// SMTPUTF8 decided after EHLO (RFC 6531) and 8-bit messages converted for a server without 8BITMIME
// (RFC 6152 §3), against the fault server's well-behaved mail server.

let server: FaultServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const fast = { greeting: 5000, ehlo: 5000, mail: 5000, rcpt: 5000, dataInit: 5000, dataBlock: 5000, dataDone: 5000, command: 5000 };
const GREEK = '\u03b4\u03bf\u03ba\u03b9\u03bc\u03ae@\u03c0\u03b1\u03c1\u03ac\u03b4\u03b5\u03b9\u03b3\u03bc\u03b1.\u03b4\u03bf\u03ba\u03b9\u03bc\u03ae';
const ASCII_BODY = 'From: a@example.com\r\nSubject: hi\r\n\r\nhello\r\n';

async function start(options: MailServerOptions): Promise<FaultServer> {
  server = await startFaultServer(mailServer(options));
  return server;
}

const commands = (s: FaultServer) => s.connections[0]?.commands ?? [];
/** A DATA payload as the server stores it: dot-stuffing undone (RFC 5321 §4.5.2). */
const stored = (s: FaultServer, i = 0) => Buffer.from((s.connections[0]?.messages[i] ?? Buffer.alloc(0)).toString('latin1').replace(/^\.\./gm, '.'), 'latin1');

describe('SMTPUTF8 decided after EHLO (RFC 6531)', () => {
  it('a UTF-8 address to a server that offers SMTPUTF8: used, the address sent as UTF-8', async () => {
    const s = await start({ ehlo: { pipelining: true, eightBitMime: true, smtputf8: true } });
    const r = await sendMail({ host: '127.0.0.1', port: s.port, tls: 'none', timeouts: fast, from: 'a@example.com', to: [GREEK], data: ASCII_BODY });
    expect(r.accepted).toEqual([GREEK]);
    expect(commands(s)).toContain('MAIL FROM:<a@example.com> SMTPUTF8');
    expect(commands(s)).toContain(`RCPT TO:<${GREEK}>`);
  });

  it('a UTF-8 sender (-f) likewise', async () => {
    const s = await start({ ehlo: { eightBitMime: true, smtputf8: true } });
    await sendMail({ host: '127.0.0.1', port: s.port, tls: 'none', timeouts: fast, from: 'j\u00f6rg@example.com', to: ['b@example.org'], data: ASCII_BODY });
    expect(commands(s)).toContain('MAIL FROM:<j\u00f6rg@example.com> SMTPUTF8');
  });

  it('not offered: a clear error naming the address, nothing of the transaction sent, and the session ends with QUIT', async () => {
    const s = await start({ ehlo: { eightBitMime: true } });
    const e = await rejection(sendMail({ host: '127.0.0.1', port: s.port, tls: 'none', timeouts: fast, from: 'a@example.com', to: [GREEK], data: ASCII_BODY }));
    expect(e).toMatchObject({ kind: 'input', code: 'ERR_SMTP_SMTPUTF8_UNSUPPORTED', retryable: false });
    expect(e.message).toContain(GREEK);
    await s.connections[0]?.done;
    expect(commands(s).map((c) => c.split(' ')[0])).toEqual(['EHLO', 'QUIT']);
  });

  it('an IDN domain with an ASCII local part goes as A-labels, without SMTPUTF8', async () => {
    const s = await start({ ehlo: { eightBitMime: true } });
    await sendMail({ host: '127.0.0.1', port: s.port, tls: 'none', timeouts: fast, from: 'a@example.com', to: ['b@b\u00fccher.example'], data: ASCII_BODY });
    expect(commands(s)).toContain('MAIL FROM:<a@example.com>');
    expect(commands(s)).toContain('RCPT TO:<b@xn--bcher-kva.example>');
  });
});

const EIGHT_BIT = [
  'From: a@example.com',
  'To: b@example.org',
  'Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="b"',
  '',
  '--b',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: 8bit',
  '',
  'Grüße aus Köln, and a line of dots:',
  '.',
  '..',
  '--b',
  'Content-Type: application/octet-stream',
  'Content-Disposition: attachment; filename="raw.bin"',
  'Content-Transfer-Encoding: 8bit',
  '',
  '\u00ff\u00fe\u00fd binary-ish',
  '--b--',
  '',
].join('\r\n');

async function expectConverted(s: FaultServer): Promise<void> {
  const got = stored(s);
  expect(isAscii(got)).toBe(true);
  const mail = commands(s).find((c) => c.startsWith('MAIL'));
  expect(mail).toBe('MAIL FROM:<a@example.com>');
  const [converted, original] = await Promise.all([PostalMime.parse(got), PostalMime.parse(Buffer.from(EIGHT_BIT))]);
  expect(converted.subject).toBe('Grüße');
  expect(converted.text?.trimEnd()).toBe(original.text?.trimEnd());
  expect(converted.text).toContain('Grüße aus Köln');
  expect(Buffer.from(converted.attachments[0]?.content as ArrayBuffer).toString('utf8')).toBe('\u00ff\u00fe\u00fd binary-ish');
}

describe('8-bit messages to a server without 8BITMIME are converted to 7-bit MIME (RFC 6152 §3)', () => {
  it('a message given whole: converted before MAIL FROM, sent without BODY=, read back the same', async () => {
    const s = await start({ ehlo: { pipelining: true } });
    const events: TranscriptEvent[] = [];
    const r = await sendMail({ host: '127.0.0.1', port: s.port, tls: 'none', timeouts: fast, from: 'a@example.com', to: ['b@example.org'], data: EIGHT_BIT, onTranscript: (e) => events.push(e) });
    expect(r.reply.code).toBe(250);
    await expectConverted(s);
    expect(events.some((e) => e.dir === '*' && /converted to 7-bit MIME/.test(e.text))).toBe(true);
  });

  it('a streamed message (eightBit: true): converted on its way out', async () => {
    const s = await start({});
    const bytes = Buffer.from(EIGHT_BIT);
    const r = await sendMail({
      host: '127.0.0.1', port: s.port, tls: 'none', timeouts: fast, from: 'a@example.com', to: ['b@example.org'], eightBit: true,
      data: (async function* () {
        for (let i = 0; i < bytes.length; i += 7) yield bytes.subarray(i, i + 7);
      })(),
    });
    expect(r.reply.code).toBe(250);
    await expectConverted(s);
  });

  it.each([
    ['raw UTF-8 in a header', 'From: a@example.com\r\nSubject: Grüße\r\nMIME-Version: 1.0\r\n\r\nx\r\n', 'ERR_SMTP_8BIT_HEADERS'],
    ['no MIME-Version', 'From: a@example.com\r\nSubject: x\r\n\r\nGrüße\r\n', 'ERR_SMTP_NOT_MIME'],
  ])('%s: refused with a clear error, nothing of the transaction sent, QUIT', async (_n, data, code) => {
    const s = await start({});
    const e = await rejection(sendMail({ host: '127.0.0.1', port: s.port, tls: 'none', timeouts: fast, from: 'a@example.com', to: ['b@example.org'], data }));
    expect(e).toMatchObject({ kind: 'input', code });
    await s.connections[0]?.done;
    expect(commands(s).map((c) => c.split(' ')[0])).toEqual(['EHLO', 'QUIT']);
  });

  it('a streamed message whose header turns out 8-bit: refused before MAIL FROM, QUIT', async () => {
    const s = await start({});
    const e = await rejection(
      sendMail({
        host: '127.0.0.1', port: s.port, tls: 'none', timeouts: fast, from: 'a@example.com', to: ['b@example.org'], eightBit: true,
        data: [Buffer.from('Subject: Grüße\r\nMIME-Version: 1.0\r\n\r\nx\r\n')],
      }),
    );
    expect(e).toMatchObject({ kind: 'input', code: 'ERR_SMTP_8BIT_HEADERS' });
    await s.connections[0]?.done;
    expect(commands(s).map((c) => c.split(' ')[0])).toEqual(['EHLO', 'QUIT']);
  });
});
