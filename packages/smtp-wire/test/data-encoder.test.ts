import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BodySource } from '../src/body-source.js';
import { CrlfCanonicalizer, DataEncoder, encodeData } from '../src/data-encoder.js';
import { SmtpError, isSmtpError } from '../src/errors.js';
import { bytes, bytewise, canonicalize, concat, cutAt, fcParams, hasBareCrOrLf, latin1, splitsInTwo, unstuff } from './support.js';

function encodeChunks(chunks: Uint8Array[], maxLineLength?: number): Buffer {
  const enc = new DataEncoder(maxLineLength === undefined ? {} : { maxLineLength });
  const out = chunks.map((c) => enc.push(c));
  out.push(enc.end());
  const all = concat(out);
  expect(enc.bytesOut).toBe(all.length);
  expect(enc.bytesIn).toBe(chunks.reduce((n, c) => n + c.length, 0));
  return all;
}

function canonChunks(chunks: Uint8Array[]): Buffer {
  const c = new CrlfCanonicalizer();
  const out = chunks.map((x) => c.push(x));
  out.push(c.end());
  const all = concat(out);
  expect(c.bytesOut).toBe(all.length);
  expect(c.bytesIn).toBe(chunks.reduce((n, x) => n + x.length, 0));
  return all;
}

async function collect(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const p of it) parts.push(p);
  return concat(parts);
}

const cases: Array<[string, string, string]> = [
  ['empty body', '', '.\r\n'],
  ['CRLF body', 'a\r\nb\r\n', 'a\r\nb\r\n.\r\n'],
  ['no final line ending', 'a\r\nb', 'a\r\nb\r\n.\r\n'],
  ['bare LF', 'a\nb\n', 'a\r\nb\r\n.\r\n'],
  ['bare CR', 'a\rb\r', 'a\r\nb\r\n.\r\n'],
  ['CR CR LF', 'a\r\r\nb', 'a\r\n\r\nb\r\n.\r\n'],
  ['LF CR', 'a\n\rb', 'a\r\n\r\nb\r\n.\r\n'],
  ['only line breaks', '\n\r\n\r', '\r\n\r\n\r\n.\r\n'],
  ['dot line (RFC 5321 §4.5.2)', 'a\r\n.\r\nb', 'a\r\n..\r\nb\r\n.\r\n'],
  ['leading dot at start', '.hidden', '..hidden\r\n.\r\n'],
  ['dot after bare LF', 'a\n.b\n..c', 'a\r\n..b\r\n...c\r\n.\r\n'],
  ['dot after bare CR', 'a\r.b', 'a\r\n..b\r\n.\r\n'],
  ['dot not at line start', 'a.b\r\n x.\r\n', 'a.b\r\n x.\r\n.\r\n'],
  ['smuggling attempt: LF.LF', 'a\n.\nMAIL FROM:<x@y>\n', 'a\r\n..\r\nMAIL FROM:<x@y>\r\n.\r\n'],
  ['smuggling attempt: CR.CR', 'a\r.\rRCPT', 'a\r\n..\r\nRCPT\r\n.\r\n'],
  ['smuggling attempt: CRLF.LF', 'a\r\n.\nb', 'a\r\n..\r\nb\r\n.\r\n'],
  ['single dot body', '.', '..\r\n.\r\n'],
  ['ends with CR', 'a\r', 'a\r\n.\r\n'],
  ['8-bit bytes untouched', 'Grüße\n', 'Grüße\r\n.\r\n'],
];

describe('DataEncoder: examples, split at every offset', () => {
  it.each(cases)('%s', (_name, input, expected) => {
    const data = bytes(input);
    expect(encodeChunks([data]).toString('utf8')).toBe(expected);
    expect(encodeChunks(bytewise(data)).toString('utf8')).toBe(expected);
    for (const [, parts] of splitsInTwo(data)) expect(encodeChunks(parts).toString('utf8')).toBe(expected);
  });
});

describe('DataEncoder: behaviour', () => {
  it('treats CR at the end of a chunk and LF at the start of the next as one CRLF', () => {
    const enc = new DataEncoder();
    const a = enc.push(bytes('line\r'));
    const b = enc.push(bytes('\n.next'));
    expect(concat([a, b, enc.end()]).toString()).toBe('line\r\n..next\r\n.\r\n');
  });

  it('inserts the LF when a chunk-final CR is followed by another byte', () => {
    const enc = new DataEncoder();
    expect(concat([enc.push(bytes('a\r')), enc.push(bytes('b')), enc.end()]).toString()).toBe('a\r\nb\r\n.\r\n');
  });

  it('returns an unchanged chunk as is (no copy)', () => {
    const enc = new DataEncoder();
    const chunk = bytes('Subject: x\r\n\r\nhello\r\n');
    expect(enc.push(chunk)).toBe(chunk);
    expect(enc.push(new Uint8Array(0)).length).toBe(0);
  });

  it('accepts plain Uint8Array input', () => {
    const enc = new DataEncoder();
    const out = enc.push(new Uint8Array(bytes('a\nb')));
    expect(Buffer.from(out).toString()).toBe('a\r\nb');
  });

  it('rejects a line over 998 octets with ERR_SMTP_LINE_TOO_LONG, at any split', () => {
    const ok = bytes(`${'x'.repeat(998)}\r\n${'y'.repeat(998)}`);
    expect(encodeChunks([ok]).length).toBe(ok.length + 5);
    const long = bytes(`ok\n${'x'.repeat(999)}\r\n`);
    for (const parts of [[long], bytewise(long), cutAt(long, [500, 1001])]) {
      const enc = new DataEncoder();
      let err: unknown;
      try {
        for (const p of parts) enc.push(p);
      } catch (e) {
        err = e;
      }
      expect(isSmtpError(err)).toBe(true);
      expect((err as SmtpError).kind).toBe('input');
      expect((err as SmtpError).code).toBe('ERR_SMTP_LINE_TOO_LONG');
      expect((err as SmtpError).message).toMatch(/at byte 1001/);
      // dead afterwards
      expect(() => enc.push(bytes('a'))).toThrow(SmtpError);
      expect(() => enc.end()).toThrow(SmtpError);
    }
  });

  it('counts the line limit on input octets, before stuffing', () => {
    const line = bytes(`.${'x'.repeat(997)}`);
    expect(encodeChunks([line]).toString()).toBe(`..${'x'.repeat(997)}\r\n.\r\n`);
  });

  it('takes a custom limit, and Infinity disables it', () => {
    expect(() => encodeChunks([bytes('abcdef')], 5)).toThrow(/longer than 5/);
    expect(encodeChunks([Buffer.alloc(5000, 0x61)], Infinity).length).toBe(5005);
    expect(() => new DataEncoder({ maxLineLength: 0 })).toThrow(/must be a positive/);
  });

  it.each([
    ['a body ending in CRLF', 'line\r\n'],
    ['a body ending without a line ending', 'line'],
    ['a body ending in a CR', 'line\r'],
    ['an empty body', ''],
  ])('endInto writes what end returns, in place: %s', (_name, body) => {
    const returned = new DataEncoder();
    const written = new DataEncoder();
    returned.push(bytes(body));
    written.push(bytes(body));
    const tail = returned.end();
    const target = Buffer.alloc(written.endLength + 4, 0x78);
    expect(written.endInto(target, 2)).toBe(2 + tail.length);
    expect(target.toString('latin1')).toBe(`xx${Buffer.from(tail).toString('latin1')}xx`);
    expect(written.bytesOut).toBe(returned.bytesOut);
    expect(() => written.endInto(target, 0)).toThrow(/twice/);
    expect(() => written.end()).toThrow(/twice/);
  });

  it('refuses push or end after end', () => {
    const enc = new DataEncoder();
    enc.end();
    expect(() => enc.push(bytes('x'))).toThrow(/after end/);
    expect(() => enc.end()).toThrow(/twice/);
  });
});

describe('CrlfCanonicalizer', () => {
  it.each([
    ['', ''],
    ['a\nb', 'a\r\nb'],
    ['a\rb\r', 'a\r\nb\r\n'],
    ['.a\n.b', '.a\r\n.b'],
    ['a\r\n', 'a\r\n'],
  ])('%j → %j at every split', (input, expected) => {
    const data = bytes(input);
    for (const [, parts] of splitsInTwo(data)) expect(canonChunks(parts).toString()).toBe(expected);
  });

  it('has no line limit by default, and takes one', () => {
    expect(canonChunks([Buffer.alloc(10_000, 0x61)]).length).toBe(10_000);
    expect(() => new CrlfCanonicalizer({ maxLineLength: 3 }).push(bytes('abcd'))).toThrow(/longer than 3/);
  });
});

describe('encodeData', () => {
  const sources: Array<[string, () => BodySource]> = [
    ['string', () => 'a\n.b'],
    ['Uint8Array', () => bytes('a\n.b')],
    ['array of chunks', () => [bytes('a'), bytes('\n.'), bytes('b')]],
    ['async generator', () => (async function* () { yield bytes('a'); yield bytes('\n.b'); })()],
  ];

  it.each(sources)('from a %s', async (_name, make) => {
    expect((await collect(encodeData(make()))).toString()).toBe('a\r\n..b\r\n.\r\n');
  });

  it('encodes an empty body as ".\\r\\n"', async () => {
    expect((await collect(encodeData([]))).toString()).toBe('.\r\n');
    expect((await collect(encodeData(''))).toString()).toBe('.\r\n');
  });

  it('passes a line-length error through', async () => {
    await expect(collect(encodeData('x'.repeat(1000)))).rejects.toThrow(/998/);
  });
});

describe('DataEncoder: properties', () => {
  const body = fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    // bytes drawn mostly from the interesting ones
    fc.array(fc.constantFrom(0x0d, 0x0a, 0x2e, 0x61, 0x20), { maxLength: 200 }).map((a) => Uint8Array.from(a)),
  );

  it('encode then un-stuff gives the CRLF-canonicalised input, for any bytes and any chunking', () => {
    fc.assert(
      fc.property(body, fc.array(fc.nat(300), { maxLength: 8 }), (data, cuts) => {
        const encoded = encodeChunks(cutAt(data, cuts), Infinity);
        let expected = canonicalize(data);
        if (expected.length > 0 && !expected.toString('latin1').endsWith('\r\n')) expected = Buffer.concat([expected, bytes('\r\n')]);
        expect(unstuff(encoded)).toEqual(expected);
        // never a bare CR or LF; the terminator only at the very end
        expect(hasBareCrOrLf(encoded)).toBe(false);
        const text = encoded.toString('latin1');
        const term = text.indexOf('\r\n.\r\n');
        expect(term === -1 ? text === '.\r\n' : term === text.length - 5).toBe(true);
        expect(text.startsWith('.\r\n') && text.length > 3).toBe(false);
        // the same bytes whatever the chunking
        expect(encoded).toEqual(encodeChunks([data], Infinity));
      }),
      fcParams('DATA encode/un-stuff round trip', 500),
    );
  });

  it('CrlfCanonicalizer equals the reference canonicalisation for any chunking', () => {
    fc.assert(
      fc.property(body, fc.array(fc.nat(300), { maxLength: 8 }), (data, cuts) => {
        const out = canonChunks(cutAt(data, cuts));
        expect(out).toEqual(canonicalize(data));
        expect(hasBareCrOrLf(out)).toBe(false);
      }),
      fcParams('CRLF canonicalisation', 500),
    );
  });

  it('output is bounded by twice the input plus the terminator', () => {
    fc.assert(
      fc.property(body, (data) => {
        expect(encodeChunks([data], Infinity).length).toBeLessThanOrEqual(2 * data.length + 5);
      }),
      fcParams('DATA expansion bound', 200),
    );
  });
});

describe('DataEncoder: larger bodies', () => {
  it('grows its output for chunks that need many changes', () => {
    expect(encodeChunks([Buffer.alloc(10_000, 0x0a)]).toString('latin1')).toBe(`${'\r\n'.repeat(10_000)}.\r\n`);
    expect(encodeChunks([bytes('.\n'.repeat(5_000))]).toString('latin1')).toBe(`${'..\r\n'.repeat(5_000)}.\r\n`);
    expect(encodeChunks([bytes(`a\r${'.\r'.repeat(5_000)}`)]).toString('latin1')).toBe(`a\r\n${'..\r\n'.repeat(5_000)}.\r\n`);
    const canon = new CrlfCanonicalizer();
    canon.push(bytes('x\r'));
    expect(Buffer.from(canon.push(Buffer.alloc(3_000, 0x0d))).toString('latin1')).toBe('\n' + '\r\n'.repeat(2_999) + '\r');
  });

  it('handles long runs copied in bulk next to changes', () => {
    const line = `${'x'.repeat(100)}\n`;
    const input = latin1(`.${line.repeat(50)}`);
    const out = encodeChunks(cutAt(input, [33, 2000, 4096]));
    expect(out.toString('latin1')).toBe(`..${line.replace('\n', '\r\n').repeat(50)}.\r\n`);
  });
});
