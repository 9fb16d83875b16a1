import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { QuotedPrintableEncoder, encodeQuotedPrintable, quotedPrintableStream } from '../src/index.js';

const SEED = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);

/** A plain RFC 2045 §6.7 decoder, written separately from the encoder. */
function decodeQp(text: string): Buffer {
  const bytes: number[] = [];
  const lines = text.split('\r\n');
  lines.forEach((line, i) => {
    let soft = false;
    for (let j = 0; j < line.length; j++) {
      if (line[j] === '=') {
        if (j === line.length - 1) {
          soft = true;
          break;
        }
        bytes.push(parseInt(line.slice(j + 1, j + 3), 16));
        j += 2;
      } else bytes.push(line.charCodeAt(j));
    }
    if (!soft && i < lines.length - 1) bytes.push(13, 10);
  });
  return Buffer.from(bytes);
}

describe('quoted-printable', () => {
  it.each([
    ['plain', 'plain'],
    ['a=b', 'a=3Db'],
    ['trailing space \nnext', 'trailing space=20\r\nnext'],
    ['tab\t', 'tab=09'],
    ['.dot\n.', '=2Edot\r\n=2E'],
    ['From me\nFrom you', '=46rom me\r\n=46rom you'],
    ['café', 'caf=C3=A9'],
    ['a\r\nb\rc\nd', 'a\r\nb\r\nc\r\nd'],
  ])('encodes %j', (input, expected) => {
    expect(encodeQuotedPrintable(input)).toBe(expected);
  });

  it('soft-breaks at 76 characters without splitting an escape', () => {
    const out = encodeQuotedPrintable('é'.repeat(100));
    for (const line of out.split('\r\n')) {
      expect(line.length).toBeLessThanOrEqual(76);
      expect(line).toMatch(/^(?:=[0-9A-F]{2})*=?$/);
    }
    expect(decodeQp(out).toString('utf8')).toBe('é'.repeat(100));
  });

  it('round-trips any text with CRLF line ends, any chunking (seed printed)', async () => {
    console.log(`quoted-printable property seed ${SEED}`);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.string({ unit: 'binary', maxLength: 90 }), fc.constantFrom(' ', '\t', '\r', '\n', '\r\n', '.', 'From ', '=')), { maxLength: 40 }),
        fc.nat(50),
        async (pieces, cut) => {
          const text = pieces.join('');
          const bytes = Buffer.from(text, 'utf8');
          const k = cut % (bytes.length + 1);
          const out: Uint8Array[] = [];
          for await (const c of quotedPrintableStream([bytes.subarray(0, k), bytes.subarray(k)])) out.push(c);
          const encoded = Buffer.concat(out).toString('latin1');
          expect(encoded).toBe(encodeQuotedPrintable(bytes));
          for (const line of encoded.split('\r\n')) {
            expect(line.length).toBeLessThanOrEqual(76);
            expect(line).not.toMatch(/[ \t]$/);
            expect(line).not.toMatch(/^(?:\.|From )/);
          }
          expect(encoded).not.toMatch(/\r(?!\n)|(?<!\r)\n/);
          expect(decodeQp(encoded).toString('utf8')).toBe(text.replace(/\r\n|\r|\n/g, '\r\n'));
        },
      ),
      { numRuns: 150, seed: SEED },
    );
  });

  it('holds a trailing CR across chunks', () => {
    const qp = new QuotedPrintableEncoder();
    const a = Buffer.from(qp.push(Buffer.from('a\r'))).toString('latin1');
    const b = Buffer.from(qp.push(Buffer.from('\nb'))).toString('latin1');
    expect(a + b + Buffer.from(qp.end()).toString('latin1')).toBe('a\r\nb');
  });
});
