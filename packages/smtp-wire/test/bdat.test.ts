import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { frameBdat } from '../src/bdat.js';
import type { BdatChunk } from '../src/bdat.js';
import { isSmtpError } from '../src/errors.js';
import { bytes, concat, cutAt, fcParams } from './support.js';

async function frames(body: Parameters<typeof frameBdat>[0], chunkSize?: number): Promise<BdatChunk[]> {
  const out: BdatChunk[] = [];
  for await (const c of frameBdat(body, chunkSize === undefined ? {} : { chunkSize })) out.push(c);
  return out;
}

function summary(chunks: BdatChunk[]): string[] {
  return chunks.map((c) => `${c.command.logText}|${Buffer.from(c.data).toString()}`);
}

async function* stream(parts: string[]): AsyncIterable<Uint8Array> {
  for (const p of parts) yield bytes(p);
}

describe('frameBdat (RFC 3030 §2)', () => {
  it('frames exact sizes and marks the final chunk LAST', async () => {
    expect(summary(await frames(stream(['abcdefg']), 3))).toEqual(['BDAT 3|abc', 'BDAT 3|def', 'BDAT 1 LAST|g']);
  });

  it('sends BDAT 0 LAST when the body ends on a chunk boundary', async () => {
    expect(summary(await frames(stream(['ab', 'cd', 'ef']), 3))).toEqual(['BDAT 3|abc', 'BDAT 3|def', 'BDAT 0 LAST|']);
  });

  it('sends BDAT 0 LAST for an empty body', async () => {
    expect(summary(await frames(stream([]), 3))).toEqual(['BDAT 0 LAST|']);
    expect(summary(await frames('', 3))).toEqual(['BDAT 0 LAST|']);
  });

  it('joins small input chunks into one BDAT chunk', async () => {
    expect(summary(await frames(stream(['a', 'b', 'c', 'd']), 10))).toEqual(['BDAT 4 LAST|abcd']);
  });

  it('defaults to 1 MiB chunks and does not copy whole chunks from a big input', async () => {
    const big = Buffer.alloc(2.5 * 1024 * 1024, 0x61);
    const out = await frames([big]);
    expect(out.map((c) => c.data.length)).toEqual([1048576, 1048576, 524288]);
    expect(out.map((c) => c.last)).toEqual([false, false, true]);
    expect((out[0]?.data as Uint8Array).buffer).toBe(big.buffer);
    expect(Buffer.from(out[2]?.command.bytes as Uint8Array).toString()).toBe('BDAT 524288 LAST\r\n');
  });

  it('rejects a bad chunk size', async () => {
    for (const size of [0, -1, 1.5, Number.NaN]) {
      let err: unknown;
      try {
        await frames(stream(['x']), size);
      } catch (e) {
        err = e;
      }
      expect(isSmtpError(err) && err.kind === 'input' && /chunkSize/.test(err.message)).toBe(true);
    }
  });

  it('any body, any input chunking, any chunk size: exact sizes, data preserved, one LAST at the end', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), fc.array(fc.nat(200), { maxLength: 6 }), fc.integer({ min: 1, max: 64 }), async (data, cuts, size) => {
        const out = await frames(cutAt(data, cuts), size);
        expect(concat(out.map((c) => c.data))).toEqual(Buffer.from(data));
        out.forEach((c, i) => {
          const isLast = i === out.length - 1;
          expect(c.last).toBe(isLast);
          if (!isLast) expect(c.data.length).toBe(size);
          else expect(c.data.length).toBeLessThan(size);
          expect(Buffer.from(c.command.bytes).toString()).toBe(`BDAT ${c.data.length}${isLast ? ' LAST' : ''}\r\n`);
        });
        expect(out.length).toBe(Math.floor(data.length / size) + 1);
      }),
      fcParams('BDAT framing', 200),
    );
  });
});
