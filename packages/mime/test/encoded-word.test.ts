import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeWords, encodeHeaderValue, encodeWord } from '../src/index.js';
import { replaceControls, wellFormed } from './helpers.js';

const SEED = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
const WORD = /=\?utf-8\?([BQ])\?([^?]*)\?=/g;

function wordPayloads(encoded: string): Buffer[] {
  return [...encoded.matchAll(WORD)].map((m) =>
    m[1] === 'B'
      ? Buffer.from(m[2] as string, 'base64')
      : Buffer.from((m[2] as string).replace(/_/g, ' ').replace(/=([0-9A-F]{2})/g, (_x, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1'),
  );
}

describe('encoded words (RFC 2047)', () => {
  it('picks Q for mostly-ASCII text and B for mostly non-ASCII text', () => {
    expect(encodeWord('Grüße aus Berlin und Hamburg')).toBe('=?utf-8?Q?Gr=C3=BC=C3=9Fe_aus_Berlin_und_Hamburg?=');
    for (const x of ['Grüße aus Berlin', 'ü', 'naïve café', '日本']) {
      const lengths = [encodeWord(x, { encoding: 'B' }).length, encodeWord(x, { encoding: 'Q' }).length];
      expect(encodeWord(x).length).toBe(Math.min(...lengths));
    }
    expect(encodeWord('Grüße')).toBe('=?utf-8?B?R3LDvMOfZQ==?=');
    expect(encodeWord('日本語の件名')).toMatch(/^=\?utf-8\?B\?/);
    expect(encodeWord('a b', { encoding: 'B' })).toBe('=?utf-8?B?YSBi?=');
    expect(encodeWord('a_b?=c', { encoding: 'Q' })).toBe('=?utf-8?Q?a=5Fb=3F=3Dc?=');
  });

  it('leaves printable ASCII alone and encodes only the span that needs it', () => {
    expect(encodeHeaderValue('Hello world')).toBe('Hello world');
    expect(encodeHeaderValue('Re: café menu')).toBe('Re: =?utf-8?B?Y2Fmw6k=?= menu');
    expect(encodeHeaderValue('Re: Ändern der Tagesordnung')).toBe('Re: =?utf-8?Q?=C3=84ndern?= der Tagesordnung');
    expect(encodeHeaderValue('looks =?utf-8?Q?like?= a word')).toMatch(/^looks =\?utf-8\?/);
  });

  it('never splits a code point, keeps words ≤ 75 characters, and decodes back (seed printed)', () => {
    console.log(`encoded-word property seed ${SEED}`);
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), fc.constantFrom<'B' | 'Q' | 'auto'>('B', 'Q', 'auto'), (text, encoding) => {
        const encoded = encodeWord(text, { encoding });
        for (const w of encoded.split(' ')) if (w !== '') expect(w.length).toBeLessThanOrEqual(75);
        // Each word's payload is valid UTF-8 on its own (RFC 2047 §5: no split characters).
        for (const payload of wordPayloads(encoded)) {
          expect(() => new TextDecoder('utf-8', { fatal: true }).decode(payload)).not.toThrow();
        }
        expect(decodeWords(encoded)).toBe(wellFormed(text));
      }),
      { numRuns: 400, seed: SEED },
    );
  });

  it('keeps surrogate pairs whole at every word boundary', () => {
    const text = '😀'.repeat(40);
    for (const enc of ['B', 'Q'] as const) {
      const payloads = wordPayloads(encodeWord(text, { encoding: enc }));
      expect(payloads.length).toBeGreaterThan(1);
      for (const p of payloads) expect(p.length % 4).toBe(0);
    }
  });

  it('encodes unstructured values so that they decode back (seed printed)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), (text) => {
        const v = replaceControls(text, false);
        expect(decodeWords(encodeHeaderValue(v))).toBe(v);
      }),
      { numRuns: 300, seed: SEED },
    );
  });
});
