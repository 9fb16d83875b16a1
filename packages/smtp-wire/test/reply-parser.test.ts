import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SmtpError, isSmtpError } from '../src/errors.js';
import { encodeReply } from '../src/reply.js';
import type { Reply } from '../src/reply.js';
import { ReplyParser, parseReply } from '../src/reply-parser.js';
import type { ReplyParserOptions } from '../src/reply-parser.js';
import { EHLO_REPLIES } from './fixtures/ehlo-replies.js';
import { bytes, bytewise, cutAt, fcParams, latin1, prng, seedFor, splitsInTwo } from './support.js';

function feed(chunks: Uint8Array[], options?: ReplyParserOptions): Reply[] {
  const parser = new ReplyParser(options);
  const out: Reply[] = [];
  for (const c of chunks) out.push(...parser.push(c));
  expect(parser.isIdle).toBe(true);
  return out;
}

function feedError(chunks: Uint8Array[], options?: ReplyParserOptions): SmtpError {
  const parser = new ReplyParser(options);
  try {
    for (const c of chunks) parser.push(c);
  } catch (e) {
    expect(isSmtpError(e)).toBe(true);
    return e as SmtpError;
  }
  throw new Error('expected the parser to throw');
}

/** A reply as the parser returns it. */
function r(code: number, lines: string[], enhanced?: [2 | 4 | 5, number, number]): Reply {
  const reply: Reply = { code, lines, text: lines.join('\n') };
  if (enhanced) reply.enhanced = { klass: enhanced[0], subject: enhanced[1], detail: enhanced[2] };
  return reply;
}

interface OkCase {
  name: string;
  input: Buffer;
  replies: Reply[];
  options?: ReplyParserOptions;
}

const ok: OkCase[] = [
  // RFC 5321 §4.2.1: "123-First line / 123-Second line / 123-234 text beginning with numbers / 123 The last line"
  {
    name: 'RFC 5321 §4.2.1 multi-line example',
    input: bytes('123-First line\r\n123-Second line\r\n123-234 text beginning with numbers\r\n123 The last line\r\n'.replace(/^123/gm, '250')),
    replies: [r(250, ['First line', 'Second line', '234 text beginning with numbers', 'The last line'])],
  },
  { name: 'greeting (RFC 5321 appendix D)', input: bytes('220 foo.com Simple Mail Transfer Service Ready\r\n'), replies: [r(220, ['foo.com Simple Mail Transfer Service Ready'])] },
  { name: 'code with no text', input: bytes('250\r\n'), replies: [r(250, [''])] },
  { name: 'code and space, empty text', input: bytes('250 \r\n'), replies: [r(250, [''])] },
  { name: 'empty continuation line', input: bytes('250-\r\n250 ok\r\n'), replies: [r(250, ['', 'ok'])] },
  { name: 'enhanced status (RFC 3463)', input: bytes('550 5.1.1 <b@example.com>: Recipient address rejected\r\n'), replies: [r(550, ['5.1.1 <b@example.com>: Recipient address rejected'], [5, 1, 1])] },
  { name: 'enhanced status with 3-digit parts', input: bytes('451 4.123.999 later\r\n'), replies: [r(451, ['4.123.999 later'], [4, 123, 999])] },
  { name: 'enhanced status alone', input: bytes('250 2.0.0\r\n'), replies: [r(250, ['2.0.0'], [2, 0, 0])] },
  { name: 'enhanced class must match the code', input: bytes('550 4.1.1 odd\r\n'), replies: [r(550, ['4.1.1 odd'])] },
  { name: 'not an enhanced status: 4 digits', input: bytes('550 5.1234.1 odd\r\n'), replies: [r(550, ['5.1234.1 odd'])] },
  { name: 'not an enhanced status: no space after', input: bytes('250 2.0.0ok\r\n'), replies: [r(250, ['2.0.0ok'])] },
  { name: 'enhanced status on multi-line reply from first line', input: bytes('250-2.1.0 first\r\n250 2.1.5 second\r\n'), replies: [r(250, ['2.1.0 first', '2.1.5 second'], [2, 1, 0])] },
  {
    name: 'several replies in one chunk (pipelined MAIL/RCPT/DATA)',
    input: bytes('250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 unknown\r\n354 End data with <CR><LF>.<CR><LF>\r\n'),
    replies: [r(250, ['2.1.0 Ok'], [2, 1, 0]), r(250, ['2.1.5 Ok'], [2, 1, 5]), r(550, ['5.1.1 unknown'], [5, 1, 1]), r(354, ['End data with <CR><LF>.<CR><LF>'])],
  },
  { name: '8-bit UTF-8 text', input: bytes('250 Grüße, 世界 ✓\r\n'), replies: [r(250, ['Grüße, 世界 ✓'])] },
  { name: '8-bit non-UTF-8 (latin1) text decodes without throwing', input: latin1('550 r\xe9pertoire\r\n'), replies: [r(550, ['r\ufffdpertoire'])] },
  { name: 'tab and other bytes in text kept', input: bytes('250 a\tb\x01c\r\n'), replies: [r(250, ['a\tb\x01c'])] },
  { name: 'bare LF accepted when allowBareLf', input: bytes('250-a\n250 b\n220 c\r\n'), replies: [r(250, ['a', 'b']), r(220, ['c'])], options: { allowBareLf: true } },
  { name: 'enhanced status parsing can be turned off', input: bytes('550 5.1.1 no\r\n'), replies: [r(550, ['5.1.1 no'])], options: { enhancedStatusCodes: false } },
  { name: 'line of exactly maxLineLength', input: bytes(`250 ${'x'.repeat(10)}\r\n`), replies: [r(250, ['x'.repeat(10)])], options: { maxLineLength: 16 } },
  { name: 'reply of exactly maxReplySize', input: bytes('250-aa\r\n250 bb\r\n'), replies: [r(250, ['aa', 'bb'])], options: { maxReplySize: 16 } },
  { name: 'reply of exactly maxReplyLines', input: bytes('250-a\r\n250-b\r\n250 c\r\n'), replies: [r(250, ['a', 'b', 'c'])], options: { maxReplyLines: 3 } },
  ...Object.entries(EHLO_REPLIES).map(([name, text]) => ({
    name: `real EHLO reply: ${name}`,
    input: bytes(text),
    replies: [r(250, text.split('\r\n').slice(0, -1).map((l) => l.slice(4)))],
  })),
];

interface ErrorCase {
  name: string;
  input: Buffer;
  code: string;
  offset: number;
  message: RegExp;
  options?: ReplyParserOptions;
}

const bad: ErrorCase[] = [
  { name: 'code mismatch inside a multi-line reply', input: bytes('250-a\r\n251 b\r\n'), code: 'ERR_SMTP_PROTOCOL', offset: 7, message: /differs/ },
  { name: 'non-digit code', input: bytes('25x ok\r\n'), code: 'ERR_SMTP_PROTOCOL', offset: 2, message: /digit/ },
  { name: 'code out of range (first digit)', input: bytes('650 ok\r\n'), code: 'ERR_SMTP_PROTOCOL', offset: 0, message: /2-5/ },
  { name: 'code out of range (second digit)', input: bytes('290 ok\r\n'), code: 'ERR_SMTP_PROTOCOL', offset: 1, message: /0-5/ },
  { name: 'short line', input: bytes('25\r\n'), code: 'ERR_SMTP_PROTOCOL', offset: 2, message: /digit/ },
  { name: 'empty line', input: bytes('\r\n'), code: 'ERR_SMTP_PROTOCOL', offset: 0, message: /2-5/ },
  { name: 'missing separator', input: bytes('250ok\r\n'), code: 'ERR_SMTP_PROTOCOL', offset: 3, message: /space, a hyphen/ },
  { name: 'second reply malformed after a good one', input: bytes('250 ok\r\n2500\r\n'), code: 'ERR_SMTP_PROTOCOL', offset: 11, message: /separator|space/ },
  { name: 'bare LF (strict)', input: bytes('250 ok\n'), code: 'ERR_SMTP_PROTOCOL', offset: 6, message: /bare LF/ },
  { name: 'bare LF in a continuation (strict)', input: bytes('250-a\r\n250 b\n'), code: 'ERR_SMTP_PROTOCOL', offset: 12, message: /bare LF/ },
  { name: 'bare CR inside a line', input: bytes('250 o\rk\r\n'), code: 'ERR_SMTP_PROTOCOL', offset: 5, message: /bare CR/ },
  { name: 'bare CR inside a line (lenient)', input: bytes('250 o\rk\n'), code: 'ERR_SMTP_PROTOCOL', offset: 5, message: /bare CR/, options: { allowBareLf: true } },
  { name: 'over-long line', input: bytes(`250 ${'x'.repeat(11)}\r\n`), code: 'ERR_SMTP_REPLY_TOO_LONG', offset: 16, message: /longer than 16/, options: { maxLineLength: 16 } },
  { name: 'over-long line without any CRLF', input: bytes('2'.repeat(40)), code: 'ERR_SMTP_REPLY_TOO_LONG', offset: 16, message: /longer than 16/, options: { maxLineLength: 16 } },
  { name: 'reply too large', input: bytes('250-aa\r\n250-bb\r\n250 c\r\n'), code: 'ERR_SMTP_REPLY_TOO_LONG', offset: 16, message: /larger than 16/, options: { maxReplySize: 16 } },
  { name: 'too many lines', input: bytes('250-a\r\n250-b\r\n250-c\r\n250 d\r\n'), code: 'ERR_SMTP_REPLY_TOO_LONG', offset: 14, message: /more than 2 lines/, options: { maxReplyLines: 2 } },
];

describe('ReplyParser: valid replies', () => {
  it.each(ok)('$name', ({ input, replies, options }) => {
    expect(feed([input], options)).toEqual(replies);
    expect(feed(bytewise(input), options)).toEqual(replies);
    for (const [, parts] of splitsInTwo(input)) expect(feed(parts, options)).toEqual(replies);
  });
});

describe('ReplyParser: protocol errors', () => {
  it.each(bad)('$name', ({ input, code, offset, message, options }) => {
    const splits = [[input], bytewise(input), ...[...splitsInTwo(input)].map(([, p]) => p)];
    for (const chunks of splits) {
      const err = feedError(chunks, options);
      expect(err.kind).toBe('protocol');
      expect(err.code).toBe(code);
      expect(err.offset).toBe(offset);
      expect(err.message).toMatch(message);
      expect(err.retryable).toBe(false);
    }
  });

  it('stays failed after an error', () => {
    const parser = new ReplyParser();
    expect(() => parser.push(bytes('abc\r\n'))).toThrow(SmtpError);
    expect(() => parser.push(bytes('250 ok\r\n'))).toThrow(/2-5/);
  });

  it('fails on a 1 MiB line without CRLF as soon as the limit is passed, without buffering it', () => {
    const parser = new ReplyParser();
    const piece = Buffer.alloc(1024, 0x41);
    piece.write('250 ', 0);
    let pushed = 0;
    let error: unknown;
    for (let i = 0; i < 1024 && error === undefined; i++) {
      try {
        parser.push(piece);
        pushed += piece.length;
        expect(parser.bufferedBytes).toBeLessThan(4096);
      } catch (e) {
        error = e;
      }
    }
    expect(isSmtpError(error) && error.code).toBe('ERR_SMTP_REPLY_TOO_LONG');
    expect(pushed).toBeLessThan(4096);
    expect((error as SmtpError).offset).toBe(4096);
  });

  it('rejects invalid limit options', () => {
    expect(() => new ReplyParser({ maxLineLength: 0 })).toThrow(/must be a positive/);
    expect(() => new ReplyParser({ maxReplySize: 1.5 })).toThrow(/must be a positive/);
  });
});

describe('ReplyParser: state', () => {
  it('reports buffered bytes for an incomplete reply and goes idle after it', () => {
    const parser = new ReplyParser();
    expect(parser.isIdle).toBe(true);
    expect(parser.push(bytes('250-a\r\n25'))).toEqual([]);
    expect(parser.bufferedBytes).toBe(9);
    expect(parser.isIdle).toBe(false);
    expect(parser.push(bytes('0 b\r\n'))).toEqual([r(250, ['a', 'b'])]);
    expect(parser.isIdle).toBe(true);
    expect(parser.offset).toBe(14);
  });

  it('accepts plain Uint8Array chunks and empty chunks', () => {
    const parser = new ReplyParser();
    expect(parser.push(new Uint8Array(0))).toEqual([]);
    expect(parser.push(new Uint8Array(bytes('220 hi\r\n')))).toEqual([r(220, ['hi'])]);
  });

  it('handles a long reply split over many chunks (partial buffer growth)', () => {
    const text = `250-${'a'.repeat(3000)}\r\n250 ${'b'.repeat(2000)}\r\n`;
    const input = bytes(text);
    const replies = feed(cutAt(input, [1, 700, 1500, 2999, 3004, 3005, 4000]));
    expect(replies).toEqual([r(250, ['a'.repeat(3000), 'b'.repeat(2000)])]);
  });
});

describe('parseReply', () => {
  it('parses exactly one reply from a string or bytes', () => {
    expect(parseReply('250 ok\r\n')).toEqual(r(250, ['ok']));
    expect(parseReply(bytes('554 5.7.1 no\r\n'))).toEqual(r(554, ['5.7.1 no'], [5, 7, 1]));
  });

  it('rejects zero, several or incomplete replies', () => {
    expect(() => parseReply('')).toThrow(/exactly one/);
    expect(() => parseReply('250 a\r\n250 b\r\n')).toThrow(/exactly one/);
    expect(() => parseReply('250 a\r\n250-b')).toThrow(/exactly one/);
  });
});

// Reply text: any code points except CR and LF (which end lines).
const lineText = fc.string({ unit: 'binary', maxLength: 40 }).map((s) => s.replace(/[\r\n]/g, ''));
const replyCode = fc.tuple(fc.integer({ min: 2, max: 5 }), fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 9 })).map(([a, b, c]) => a * 100 + b * 10 + c);
const replyArb = fc.record({ code: replyCode, lines: fc.array(lineText, { minLength: 1, maxLength: 6 }) });

describe('ReplyParser: properties', () => {
  it('encodeReply then any split parses back the same replies', () => {
    fc.assert(
      fc.property(fc.array(replyArb, { minLength: 1, maxLength: 5 }), fc.array(fc.nat(2000), { maxLength: 12 }), (replies, cuts) => {
        const wire = bytes(replies.map((x) => encodeReply(x.code, x.lines)).join(''));
        const parsed = feed(cutAt(wire, cuts));
        expect(parsed.map((p) => ({ code: p.code, lines: p.lines }))).toEqual(replies);
        for (const p of parsed) expect(p.text).toBe(p.lines.join('\n'));
      }),
      fcParams('reply round trip', 300),
    );
  });
});

type Outcome = { replies: Reply[]; error?: { code: string; offset: number | undefined; message: string } };

function outcome(chunks: Uint8Array[], options: ReplyParserOptions): Outcome {
  const parser = new ReplyParser(options);
  const replies: Reply[] = [];
  try {
    for (const c of chunks) replies.push(...parser.push(c));
  } catch (e) {
    if (!(e instanceof SmtpError)) throw e;
    return { replies, error: { code: e.code, offset: e.offset, message: e.message } };
  }
  return { replies };
}

describe('ReplyParser: chunking never changes the outcome (property)', () => {
  it('any bytes, any split: the same replies and the same error at the same offset', () => {
    const protocolish = fc
      .array(fc.oneof(fc.constantFrom(...'0123456789 -\r\n\r\n250 250-550 '.split('')), fc.string({ maxLength: 3 })), { maxLength: 60 })
      .map((parts) => bytes(parts.join('')));
    fc.assert(
      fc.property(protocolish, fc.array(fc.nat(200), { maxLength: 6 }), fc.boolean(), (data, cuts, allowBareLf) => {
        const options = { maxLineLength: 24, maxReplySize: 64, maxReplyLines: 4, allowBareLf };
        const whole = outcome([data], options);
        expect(outcome(cutAt(data, cuts), options)).toEqual(whole);
      }),
      fcParams('parser chunking independence', 1000),
    );
  });
});

describe('ReplyParser: fuzz', () => {
  it('100,000 random byte strings: only SmtpError is thrown and buffers stay bounded', () => {
    const seed = seedFor('reply parser fuzz');
    const next = prng(seed);
    const limits = { maxLineLength: 64, maxReplySize: 256, maxReplyLines: 8 };
    // Mostly protocol-shaped bytes so the fuzz reaches deep states, plus arbitrary ones.
    const alphabet = bytes('0123456789--  \r\n\r\n2255\r\n..abc');
    let errors = 0;
    let replies = 0;
    for (let round = 0; round < 100_000; round++) {
      const len = next() % 96;
      const data = Buffer.allocUnsafe(len);
      for (let i = 0; i < len; i++) {
        const x = next();
        data[i] = x & 1 ? (alphabet[(x >>> 1) % alphabet.length] as number) : (x >>> 8) & 0xff;
      }
      const parser = new ReplyParser(round % 3 === 0 ? { ...limits, allowBareLf: true } : limits);
      try {
        for (const chunk of cutAt(data, [next() % 96, next() % 96])) {
          replies += parser.push(chunk).length;
          // (plain checks: expect() in a 100,000-round loop dominates the run time)
          if (parser.bufferedBytes > limits.maxReplySize) throw new Error(`buffered ${parser.bufferedBytes} (seed ${seed})`);
        }
      } catch (e) {
        if (!(e instanceof SmtpError) || e.kind !== 'protocol' || typeof e.offset !== 'number') throw e;
        if (e.offset > len) throw new Error(`offset ${e.offset} beyond input of ${len} bytes (seed ${seed})`);
        errors++;
      }
    }
    expect(errors).toBeGreaterThan(0);
    expect(replies).toBeGreaterThan(0);
  });
});
