import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Base64Encoder, base64EncodedLength, base64Stream, encodeBase64 } from '../src/index.js';

const SEED = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);

describe('base64', () => {
  it.each([
    [0, ''],
    [1, 'AA=='],
    [57, 'A'.repeat(76)],
    [58, `${'A'.repeat(76)}\r\nAA==`],
    [114, `${'A'.repeat(76)}\r\n${'A'.repeat(76)}`],
  ])('encodes %i zero octets as 76-character CRLF lines', (n, expected) => {
    expect(encodeBase64(new Uint8Array(n))).toBe(expected);
    expect(base64EncodedLength(n)).toBe(expected.length);
  });

  it('matches Buffer base64 for any bytes and any chunking (seed printed)', async () => {
    console.log(`base64 property seed ${SEED}`);
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 200_000 }), fc.array(fc.nat(70_000), { maxLength: 8 }), async (bytes, cuts) => {
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const chunks: Uint8Array[] = [];
        let last = 0;
        for (const p of [...points, bytes.length]) {
          chunks.push(bytes.subarray(last, p));
          last = p;
        }
        const out: Uint8Array[] = [];
        for await (const block of base64Stream(chunks)) {
          expect(block.length).toBeLessThanOrEqual(65_520);
          out.push(block);
        }
        const text = Buffer.concat(out).toString('latin1');
        expect(text).toBe(encodeBase64(bytes));
        expect(text.length).toBe(base64EncodedLength(bytes.length));
        expect(text.replace(/\r\n/g, '')).toBe(Buffer.from(bytes).toString('base64'));
        for (const line of text.split('\r\n')) expect(line.length).toBeLessThanOrEqual(76);
      }),
      { numRuns: 60, seed: SEED },
    );
  });

  it('counts input octets', () => {
    const enc = new Base64Encoder();
    enc.push(new Uint8Array(100));
    enc.end();
    expect(enc.bytesIn).toBe(100);
  });
});
