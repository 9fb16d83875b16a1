import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { toChunks } from '../src/body-source.js';
import type { BodySource } from '../src/body-source.js';
import { SmtpError } from '../src/errors.js';
import { bytes, concat } from './support.js';

async function collect(it: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const parts: Uint8Array[] = [];
  for await (const p of it) parts.push(p);
  return parts;
}

describe('toChunks', () => {
  const sources: Array<[string, () => BodySource, number]> = [
    ['string (UTF-8)', () => 'a\nü', 1],
    ['Uint8Array', () => bytes('a\nü'), 1],
    ['array of chunks', () => [bytes('a'), bytes('\n'), bytes('ü')], 3],
    ['generator', () => (function* () { yield bytes('a\n'); yield bytes('ü'); })(), 2],
    ['async generator', () => (async function* () { yield bytes('a'); yield bytes('\nü'); })(), 2],
    ['async generator of strings (a Readable with setEncoding)', () => (async function* () { yield 'a\n' as unknown as Uint8Array; yield 'ü' as unknown as Uint8Array; })(), 2],
  ];

  it.each(sources)('from a %s', async (_name, make, count) => {
    const parts = await collect(toChunks(make()));
    expect(parts).toHaveLength(count);
    for (const p of parts) expect(p).toBeInstanceOf(Uint8Array);
    expect(concat(parts).toString('utf8')).toBe('a\nü');
  });

  it('passes a Uint8Array through without copying', async () => {
    const body = bytes('hello');
    expect((await collect(toChunks(body)))[0]).toBe(body);
  });

  it('skips empty chunks', async () => {
    expect(await collect(toChunks(''))).toEqual([]);
    expect(await collect(toChunks(new Uint8Array(0)))).toEqual([]);
    expect(await collect(toChunks([new Uint8Array(0), '' as unknown as Uint8Array, Buffer.from('x')]))).toEqual([Buffer.from('x')]);
  });

  it('rejects anything that is not text or bytes', async () => {
    await expect(collect(toChunks(42 as unknown as BodySource))).rejects.toThrow(/body must be/);
    await expect(collect(toChunks(null as unknown as BodySource))).rejects.toThrow(SmtpError);
    await expect(collect(toChunks({} as unknown as BodySource))).rejects.toThrow(/body must be/);
    await expect(collect(toChunks([1, 2] as unknown as BodySource))).rejects.toThrow(/Uint8Array or string, got number/);
  });
});
