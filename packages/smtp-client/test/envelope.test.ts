import { describe, expect, it } from 'vitest';
import { heloCapabilities, parseEhlo, type Capabilities, type Reply } from '@smtpkit/wire';
import { analyseBody, prepareEnvelope } from '../src/envelope.js';

function caps(...keywords: string[]): Capabilities {
  const lines = ['mx.test', ...keywords];
  return parseEhlo({ code: 250, lines, text: lines.join('\n') } as Reply);
}
const plain = { secure: false, chunking: 'auto' as const };

describe('analyseBody', () => {
  it('reads a stream that offers its whole octets as `bytes` (a built message in memory) from them', () => {
    const bytes = Buffer.from('Subject: x\r\nMessage-ID: <w@example.com>\r\n\r\nb\xe9\r\n', 'latin1');
    const built = { bytes, async *[Symbol.asyncIterator]() { yield bytes; } };
    expect(analyseBody(built)).toMatchObject({ size: bytes.length, bytes, eightBit: true, headerEightBit: false, messageId: '<w@example.com>' });
    const stream = { bytes: 'not octets', async *[Symbol.asyncIterator]() { yield bytes; } };
    expect(analyseBody(stream as never).size).toBeUndefined();
  });

  it.each([
    ['ascii string', 'Subject: a\r\n\r\nb\r\n', { eightBit: false, binary: false, longLine: false, size: 17 }],
    ['8-bit string', 'Subject: caf\u00e9\r\n\r\n', { eightBit: true, binary: false, size: 18 }],
    ['NUL byte', Uint8Array.from([0x41, 0x00, 0x0d, 0x0a]), { binary: true }],
    ['long line', `${'a'.repeat(999)}\r\n`, { longLine: true }],
    ['998 octets is fine', `${'a'.repeat(998)}\r\n`, { longLine: false }],
  ])('%s', (_n, body, expected) => {
    expect(analyseBody(body)).toMatchObject(expected);
  });

  it('finds the Message-ID in the header section only', () => {
    expect(analyseBody('Subject: x\r\nMessage-ID: <abc@example.com>\r\n\r\nbody').messageId).toBe('<abc@example.com>');
    expect(analyseBody('Subject: x\r\n\r\nMessage-ID: <no@example.com>\r\n').messageId).toBeUndefined();
  });

  it.each([
    ['lines split by LF only', `${'a'.repeat(998)}\n${'b'.repeat(998)}\n`, false],
    ['a long line after short ones', `${'x\r\n'.repeat(500)}${'a'.repeat(999)}\r\n`, true],
    ['a long last line without an ending', `${'x\r\n'.repeat(3)}${'a'.repeat(999)}`, true],
    ['long stretches without LF cut short by CRs', `${'a'.repeat(998)}\r${'b'.repeat(998)}\r${'c'.repeat(998)}`, false],
    ['a CR-delimited line over the limit', `${'a'.repeat(500)}\r${'b'.repeat(999)}\r\n`, true],
    ['many lines, each exactly at the limit', `${'a'.repeat(998)}\r\n`.repeat(20), false],
  ])('line length: %s', (_n, body, longLine) => {
    expect(analyseBody(body).longLine).toBe(longLine);
  });

  it('agrees with a byte-by-byte scan on random bodies', () => {
    // The reference: every octet looked at once, CR and LF both end a line (RFC 5321 §4.5.3.1.6).
    const reference = (b: Uint8Array) => {
      let eightBit = false;
      let binary = false;
      let longLine = false;
      let lineStart = 0;
      for (let i = 0; i < b.length; i++) {
        const c = b[i] as number;
        if (c >= 0x80) eightBit = true;
        else if (c === 0) binary = true;
        else if (c === 0x0a || c === 0x0d) {
          if (i - lineStart > 998) longLine = true;
          lineStart = i + 1;
        }
      }
      if (b.length - lineStart > 998) longLine = true;
      return { eightBit, binary, longLine };
    };
    let seed = 42;
    const random = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
    const alphabet = [0x61, 0x0d, 0x0a, 0x00, 0xe9, 0x20];
    for (let round = 0; round < 400; round++) {
      const body = new Uint8Array(random(4000));
      // Mostly text, with separators rare enough that lines around the 998 limit occur.
      for (let i = 0; i < body.length; i++) body[i] = random(600) === 0 ? (alphabet[random(alphabet.length)] as number) : 0x61;
      expect(analyseBody(body)).toMatchObject(reference(body));
    }
  });

  it('finds the Message-ID however the field name is written, and when folded', () => {
    const id = (headers: string) => analyseBody(`${headers}\r\n\r\nbody`).messageId;
    expect(id('Message-Id: <a@x>')).toBe('<a@x>');
    expect(id('Subject: s\r\nMESSAGE-ID:\t<b@x>')).toBe('<b@x>');
    expect(id('Subject: s\r\nmessage-id:\r\n  <c@x>')).toBe('<c@x>');
    expect(id('Subject: s\nMessage-ID: <d@x>')).toBe('<d@x>');
    expect(id('X-Original-Message-ID: <e@x>')).toBeUndefined();
    expect(id('Message-ID: no-brackets\r\nSubject: s')).toBeUndefined();
    expect(id('Message-ID: <>\r\nSubject: s')).toBeUndefined();
    expect(id('Message-ID: <broken\r\nMessage-ID: <f@x>')).toBe('<f@x>');
    // RFC 6532 §3.2: an internationalized message may carry UTF-8 in its msg-id.
    expect(id('Message-ID: <caf\u00e9.\u4f8b@\u4f8b\u3048.jp>')).toBe('<caf\u00e9.\u4f8b@\u4f8b\u3048.jp>');
  });

  it('ends the header section where the wire will have an empty line: CRLF, bare LF and bare CR all end lines', () => {
    expect(analyseBody('\r\nMessage-ID: <a@x>\r\n').messageId).toBeUndefined();
    expect(analyseBody('Subject: s\rMessage-ID: <b@x>\r\n\r\nbody').messageId).toBe('<b@x>');
    expect(analyseBody('Subject: s\n\rMessage-ID: <c@x>\r\n').messageId).toBeUndefined();
    expect(analyseBody('Subject: s\r\rMessage-ID: <d@x>\r\n').messageId).toBeUndefined();
    expect(analyseBody('Message-ID:\r <e@x>\r\n\r\n').messageId).toBe('<e@x>');
    expect(analyseBody('Message-ID: <f@x>').messageId).toBe('<f@x>');
    expect(analyseBody('Message-ID: <f@x').messageId).toBeUndefined();
  });

  it('finds the same Message-ID as a reading of the lines the server will get, on random header sections', () => {
    // The reference: the body cut into the lines it has on the wire (RFC 5321 §2.3.8), the header section up
    // to the first empty one (RFC 5322 §2.1), the first "Message-ID:" field with a msg-id, folded at most once.
    const reference = (text: string): string | undefined => {
      const lines = text.split(/\r\n|\r|\n/);
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i] as string;
        if (line === '') return undefined;
        if (!/^message-id:/i.test(line)) continue;
        const value = line.slice('message-id:'.length);
        const next = lines[i + 1];
        const id = /^[ \t]*$/.test(value) && next !== undefined ? /^[ \t]+(<[^>]+>)/.exec(next) : /^[ \t]*(<[^>]+>)/.exec(value);
        if (id) return id[1];
      }
      return undefined;
    };
    const pieces = ['Message-ID:', 'message-id:', 'MESSAGE-Id:', 'Message-Id ', 'X-Message-ID: <x@x>', 'Subject: s',
      ' ', '\t', '<a@b>', '<c@d', '>', '<>', 'm', '\r\n', '\r\n', '\n', '\r'];
    let seed = 7;
    const random = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
    for (let round = 0; round < 3000; round++) {
      let text = '';
      for (let k = random(14); k > 0; k--) text += pieces[random(pieces.length)];
      if (random(2) === 0) text += '\r\n\r\nMessage-ID: <in-body@x>\r\n';
      expect([text, analyseBody(text).messageId]).toEqual([text, reference(text)]);
    }
  });

  it('does not read streams ahead', () => {
    expect(analyseBody([Uint8Array.from([0xff])])).toEqual({ eightBit: false, headerEightBit: false, binary: false, longLine: false });
  });
});

describe('prepareEnvelope', () => {
  const base = { from: 'a@example.com', to: ['b@example.net'] };

  it('adds SIZE only when advertised, BODY=8BITMIME only when needed', () => {
    const c = caps('SIZE 1000', '8BITMIME');
    expect(prepareEnvelope(c, { ...base, data: 'x' }, analyseBody('x'), plain).envelope.mailParams).toEqual({ size: 1 });
    expect(prepareEnvelope(c, { ...base, data: '\u00e9' }, analyseBody('\u00e9'), plain).envelope.mailParams).toEqual({
      size: 2,
      body: '8BITMIME',
    });
    expect(prepareEnvelope(caps(), { ...base, data: 'x' }, analyseBody('x'), plain).envelope.mailParams).toBeUndefined();
  });

  it.each([
    ['size over the limit', caps('SIZE 10'), { data: 'x'.repeat(11) }, 'ERR_SMTP_SIZE_EXCEEDED'],
    ['explicit size over the limit', caps('SIZE 10'), { data: [Uint8Array.of(1)], size: 11 }, 'ERR_SMTP_SIZE_EXCEEDED'],
    ['UTF-8 address without SMTPUTF8', caps('8BITMIME'), { from: 'j\u00f6rg@example.com', data: 'x' }, 'ERR_SMTP_SMTPUTF8_UNSUPPORTED'],
    ['UTF-8 recipient without SMTPUTF8', caps('8BITMIME'), { to: ['\u03b4\u03bf\u03ba\u03b9\u03bc\u03ae@example.org'], data: 'x' }, 'ERR_SMTP_SMTPUTF8_UNSUPPORTED'],
    ['smtputf8: true without SMTPUTF8', caps('8BITMIME'), { smtputf8: true, data: 'x' }, 'ERR_SMTP_SMTPUTF8_UNSUPPORTED'],
    ['smtputf8: false with a UTF-8 address', caps('SMTPUTF8'), { from: 'j\u00f6rg@example.com', smtputf8: false, data: 'x' }, 'ERR_SMTP_INPUT'],
    ['binary without BINARYMIME', caps('CHUNKING'), { data: Uint8Array.of(0) }, 'ERR_SMTP_BINARYMIME_UNSUPPORTED'],
    ['a long line over DATA', caps(), { data: 'a'.repeat(2000) }, 'ERR_SMTP_LINE_TOO_LONG'],
    ['REQUIRETLS in plaintext', caps('REQUIRETLS'), { data: 'x', requireTls: true }, 'ERR_SMTP_REQUIRETLS_UNSUPPORTED'],
    ['no recipients', caps(), { to: [], data: 'x' }, 'ERR_SMTP_INPUT'],
  ])('%s → %s before anything is sent', (_n, c, o, code) => {
    const options = { ...base, ...o } as Parameters<typeof prepareEnvelope>[1];
    expect(() => prepareEnvelope(c, options, analyseBody(options.data), plain)).toThrow(expect.objectContaining({ code }));
  });

  it('SMTPUTF8 decided after EHLO: when an address needs it, or UTF-8 headers when offered (RFC 6531, RFC 6532)', () => {
    const offered = caps('8BITMIME', 'SMTPUTF8');
    const utf8Header = 'Subject: caf\u00e9\r\n\r\nx\r\n';
    expect(prepareEnvelope(offered, { ...base, to: ['\u03b4@example.org'], data: 'x' }, analyseBody('x'), plain).smtputf8).toBe(true);
    expect(prepareEnvelope(offered, { ...base, data: utf8Header }, analyseBody(utf8Header), plain).smtputf8).toBe(true);
    expect(prepareEnvelope(offered, { ...base, data: 'x\r\n\r\ncaf\u00e9' }, analyseBody('x\r\n\r\ncaf\u00e9'), plain).smtputf8).toBe(false);
    expect(prepareEnvelope(offered, { ...base, data: utf8Header, smtputf8: false }, analyseBody(utf8Header), plain).smtputf8).toBe(false);
    // Offered or not, an IDN domain with an ASCII local part needs no SMTPUTF8: it goes as A-labels.
    expect(prepareEnvelope(caps('8BITMIME'), { ...base, to: ['b@b\u00fccher.example'], data: 'x' }, analyseBody('x'), plain).smtputf8).toBe(false);
    // UTF-8 headers to a server without SMTPUTF8 but with 8BITMIME go as before, as 8BITMIME.
    expect(prepareEnvelope(caps('8BITMIME'), { ...base, data: utf8Header }, analyseBody(utf8Header), plain)).toMatchObject({
      smtputf8: false,
      envelope: { mailParams: { body: '8BITMIME' } },
    });
  });

  it('8-bit without 8BITMIME: no BODY=, a note, the conversion flagged for a stream (RFC 6152 §3)', () => {
    const body = analyseBody([Uint8Array.of(0x41)]);
    const p = prepareEnvelope(caps('SIZE 1000'), { ...base, data: [Uint8Array.of(0xe9)], eightBit: true, size: 5 }, body, { ...plain, downgrade: true });
    expect(p.envelope.mailParams).toBeUndefined(); // no BODY=, and no SIZE= (the converted size is not known)
    expect(p.downgradeStream).toBe(true);
    expect(p.notes.join(' ')).toMatch(/converted to 7-bit MIME/);
  });

  it('BINARYMIME with CHUNKING; chunking: never turns BDAT off', () => {
    const c = caps('CHUNKING', 'BINARYMIME');
    const p = prepareEnvelope(c, { ...base, data: Uint8Array.of(0, 1) }, analyseBody(Uint8Array.of(0, 1)), plain);
    expect(p).toMatchObject({ useBdat: true, binary: true, envelope: { mailParams: { body: 'BINARYMIME' } } });
    expect(prepareEnvelope(c, { ...base, data: 'x' }, analyseBody('x'), { secure: false, chunking: 'never' }).useBdat).toBe(false);
  });

  it('DSN parameters only when DSN is offered (else a note)', () => {
    const dsn = { ret: 'HDRS' as const, envid: 'e1', notify: ['FAILURE' as const] };
    const withDsn = prepareEnvelope(caps('DSN'), { ...base, data: 'x', dsn }, analyseBody('x'), plain);
    expect(withDsn.envelope).toMatchObject({ mailParams: { ret: 'HDRS', envid: 'e1' }, rcptParams: { notify: ['FAILURE'] } });
    const without = prepareEnvelope(heloCapabilities({ code: 250, lines: ['x'], text: 'x' } as Reply), { ...base, data: 'x', dsn }, analyseBody('x'), plain);
    expect(without.envelope.mailParams).toBeUndefined();
    expect(without.notes[0]).toMatch(/DSN/);
  });
});
