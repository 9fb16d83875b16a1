// Shared helpers for the wire tests: byte splitting, a seeded PRNG, fast-check settings, a DATA un-stuffer.
import { Buffer } from 'node:buffer';
import type { Parameters as FcParameters } from 'fast-check';

/** Every way to cut `bytes` in two: [bytes[0, k), bytes[k, n)] for k = 0..n. */
export function* splitsInTwo(bytes: Uint8Array): Generator<[number, Uint8Array[]]> {
  for (let k = 0; k <= bytes.length; k++) yield [k, [bytes.subarray(0, k), bytes.subarray(k)]];
}

/** One-byte chunks. */
export function bytewise(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i++) out.push(bytes.subarray(i, i + 1));
  return out;
}

/** Cuts `bytes` at the given (unsorted, possibly repeated) positions. */
export function cutAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => Math.min(Math.max(0, c), bytes.length)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  out.push(bytes.subarray(prev));
  return out;
}

export function bytes(s: string): Buffer {
  return Buffer.from(s, 'utf8');
}

export function latin1(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}

export function concat(chunks: readonly Uint8Array[]): Buffer {
  return Buffer.concat(chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength)));
}

/** A small deterministic PRNG (xorshift32) so fuzz failures can be replayed from the printed seed. */
export function prng(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** Seed from FC_SEED (to replay a failure) or fresh; printed so every run can be reproduced. */
export function seedFor(name: string): number {
  const fromEnv = process.env.FC_SEED;
  const seed = fromEnv !== undefined ? Number(fromEnv) : (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
  console.log(`[seed] ${name}: ${seed} (replay with FC_SEED=${seed})`);
  return seed;
}

/** fast-check parameters: bounded runs and a printed seed. */
export function fcParams(name: string, numRuns = 200): FcParameters<unknown> {
  return { numRuns, seed: seedFor(name) };
}

/**
 * Test-only reverse of the DATA encoding (RFC 5321 §4.5.2, as a receiver does it): checks the
 * terminator is at the end and nowhere else, removes it, and drops the extra leading dot of each line.
 */
export function unstuff(encoded: Uint8Array): Buffer {
  const s = Buffer.from(encoded).toString('latin1');
  if (s === '.\r\n') return Buffer.alloc(0);
  if (!s.endsWith('\r\n.\r\n')) throw new Error('missing terminator');
  const body = s.slice(0, -3); // keep the body's final CRLF
  const lines = body.split('\r\n');
  lines.pop(); // '' after the final CRLF
  const out = lines.map((l) => {
    if (l === '.') throw new Error('terminator before the end');
    return l.startsWith('.') ? l.slice(1) : l;
  });
  return Buffer.from(`${out.join('\r\n')}\r\n`, 'latin1');
}

/** Reference CRLF canonicalisation: CRLF stays, bare CR and bare LF become CRLF. */
export function canonicalize(input: Uint8Array): Buffer {
  const s = Buffer.from(input).toString('latin1');
  return Buffer.from(s.replace(/\r\n|\r|\n/g, '\r\n'), 'latin1');
}

/** True when a CR not followed by LF, or an LF not preceded by CR, occurs. */
export function hasBareCrOrLf(data: Uint8Array): boolean {
  for (let i = 0; i < data.length; i++) {
    if (data[i] === 0x0d && data[i + 1] !== 0x0a) return true;
    if (data[i] === 0x0a && data[i - 1] !== 0x0d) return true;
  }
  return false;
}
