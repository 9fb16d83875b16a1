import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DataEncoder } from '../src/data-encoder.js';
import { BodyScanner, DataDecoder } from '../src/server/data-decoder.js';
import type { BodyTraits } from '../src/server/data-decoder.js';
import { bytes, bytewise, canonicalize, concat, cutAt, fcParams, latin1, splitsInTwo } from './support.js';

interface Decoded {
  data: Buffer;
  done: boolean;
  rest: Buffer;
  traits: BodyTraits;
}

function decode(chunks: Uint8Array[]): Decoded {
  const d = new DataDecoder();
  const data: Uint8Array[] = [];
  const rest: Uint8Array[] = [];
  let done = false;
  for (const c of chunks) {
    if (done) {
      rest.push(c);
      continue;
    }
    const step = d.push(c);
    data.push(step.data);
    if (step.done) {
      done = true;
      rest.push(step.rest);
    }
  }
  return { data: concat(data), done, rest: concat(rest), traits: d.traits };
}

const clean = { bareLf: 0, bareCr: 0, longLines: 0, eightBit: 0, smuggling: 0 };

// input (after the DATA command's CRLF) → message octets, rest, traits
const cases: Array<{ name: string; input: string; data: string; rest?: string; done?: boolean; traits?: Partial<BodyTraits> }> = [
  { name: 'empty message', input: '.\r\n', data: '' },
  { name: 'one line', input: 'a\r\n.\r\n', data: 'a\r\n' },
  { name: 'pipelined command after the end', input: 'a\r\n.\r\nQUIT\r\n', data: 'a\r\n', rest: 'QUIT\r\n' },
  { name: 'dot-stuffed line (RFC 5321 §4.5.2)', input: '..a\r\n.\r\n', data: '.a\r\n' },
  { name: 'a line of two dots is one dot', input: 'x\r\n..\r\n.\r\n', data: 'x\r\n.\r\n' },
  { name: 'a dot in the middle of a line stays', input: 'a.b\r\n.\r\n', data: 'a.b\r\n' },
  { name: 'no end yet', input: 'a\r\n', data: 'a\r\n', done: false },
  { name: 'no end: "." not at a line start', input: 'a.\r\n', data: 'a.\r\n', done: false },
  { name: 'smuggling \\n.\\n is content', input: 'a\n.\nb\r\n.\r\n', data: 'a\n.\nb\r\n', traits: { bareLf: 2, smuggling: 1 } },
  { name: 'smuggling \\r\\n.\\n is content (stuffing dot dropped)', input: 'a\r\n.\nb\r\n.\r\n', data: 'a\r\n\nb\r\n', traits: { bareLf: 1, smuggling: 1 } },
  { name: 'smuggling \\n.\\r\\n is content', input: 'a\n.\r\nb\r\n.\r\n', data: 'a\n.\r\nb\r\n', traits: { bareLf: 1, smuggling: 1 } },
  { name: 'smuggling \\r.\\r is content', input: 'a\r.\rb\r\n.\r\n', data: 'a\r.\rb\r\n', traits: { bareCr: 2, smuggling: 1 } },
  { name: 'smuggling \\r\\n.\\rX is content', input: 'a\r\n.\rb\r\n.\r\n', data: 'a\r\n\rb\r\n', traits: { bareCr: 1, smuggling: 1 } },
  { name: 'smuggling \\r.\\r\\n is content', input: 'a\r.\r\nb\r\n.\r\n', data: 'a\r.\r\nb\r\n', traits: { bareCr: 1, smuggling: 1 } },
  { name: 'bare LF counted, kept', input: 'a\nb\r\n.\r\n', data: 'a\nb\r\n', traits: { bareLf: 1 } },
  { name: 'bare CR counted, kept', input: 'a\rb\r\n.\r\n', data: 'a\rb\r\n', traits: { bareCr: 1 } },
  { name: '8-bit octets counted', input: 'caf\u00e9\r\n.\r\n', data: 'caf\u00e9\r\n', traits: { eightBit: 2 } },
  { name: 'line of 998 is fine', input: `${'x'.repeat(998)}\r\n.\r\n`, data: `${'x'.repeat(998)}\r\n` },
  { name: 'line of 999 is long (RFC 5321 §4.5.3.1.6)', input: `${'x'.repeat(999)}\r\n.\r\n`, data: `${'x'.repeat(999)}\r\n`, traits: { longLines: 1 } },
];

describe('DataDecoder: table, every split', () => {
  it.each(cases)('$name', ({ input, data, rest = '', done = true, traits = {} }) => {
    const raw = bytes(input);
    const want = { data: bytes(data), done, rest: bytes(rest), traits: { ...clean, ...traits } };
    // long inputs: every 17th split (each split of a 1000-octet line proves nothing more)
    const stride = raw.length > 200 ? 17 : 1;
    for (const [k, chunks] of splitsInTwo(raw)) {
      if (k % stride !== 0 && k < raw.length - 8) continue;
      expect({ k, ...decode(chunks) }).toEqual({ k, ...want });
    }
    if (stride === 1) expect(decode(bytewise(raw))).toEqual(want);
  });

  it('push after the end is an error', () => {
    const d = new DataDecoder();
    expect(d.push(bytes('.\r\n')).done).toBe(true);
    expect(() => d.push(bytes('x'))).toThrow(/already ended/);
  });

  it('size counts message octets', () => {
    const d = new DataDecoder();
    d.push(bytes('..ab\r\n.\r\n'));
    expect(d.size).toBe(5);
  });
});

describe('DataDecoder: properties', () => {
  it('decode(DataEncoder(b)) is the CRLF-canonical b, for any bytes and any chunking', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(400), { maxLength: 6 }), (body, cuts) => {
        // bytes made of CR, LF, '.', and 'a' hit the interesting shapes far more often
        const b = Buffer.from(body.map((x) => [0x0d, 0x0a, 0x2e, 0x61][x % 4] as number));
        const enc = new DataEncoder();
        const wire = concat([enc.push(b), enc.end(), bytes('NOOP\r\n')]);
        const got = decode(cutAt(wire, cuts));
        const want = canonicalize(b);
        expect(got.data.equals(want.length === 0 || want.subarray(-2).toString() === '\r\n' ? want : concat([want, bytes('\r\n')]))).toBe(true);
        expect(got.done).toBe(true);
        expect(got.rest.toString()).toBe('NOOP\r\n');
        expect(got.traits.bareLf + got.traits.bareCr + got.traits.smuggling).toBe(0);
      }),
      fcParams('DataDecoder round trip', 300),
    );
  });

  it('any octets: the end is found only at <CRLF>.<CRLF>, and every split agrees', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), fc.array(fc.nat(130), { maxLength: 5 }), (body, cuts) => {
        const b = Buffer.from(body.map((x) => [0x0d, 0x0a, 0x2e, 0x61, 0xe9][x % 5] as number));
        const whole = decode([b]);
        expect(decode(cutAt(b, cuts))).toEqual(whole);
        const s = concat([latin1('\r\n'), b]).toString('latin1');
        const at = s.indexOf('\r\n.\r\n');
        expect(whole.done).toBe(at !== -1);
      }),
      fcParams('DataDecoder split invariance', 300),
    );
  });
});

describe('BodyScanner', () => {
  it('counts the same for any chunking, and a trailing CR is bare at the end', () => {
    const input = bytes(`a\rb\nc\r\n${'y'.repeat(1000)}\u00e9\r`);
    const counts = (chunks: Uint8Array[]) => {
      const s = new BodyScanner();
      for (const c of chunks) s.scan(c);
      s.finish();
      return s.traits;
    };
    const want = { bareLf: 1, bareCr: 2, longLines: 1, eightBit: 2, smuggling: 0 };
    expect(counts([input])).toEqual(want);
    expect(counts(bytewise(input))).toEqual(want);
  });
});
