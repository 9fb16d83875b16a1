import { createHash, randomBytes } from 'node:crypto';

/** A source of bytes for boundaries and Message-IDs: cryptographic, or a reproducible stream from a seed. */
export interface RandomSource {
  bytes(n: number): Uint8Array;
}

/** Cryptographically random bytes. */
export function secureRandom(): RandomSource {
  return { bytes: (n) => randomBytes(n) };
}

/** Reproducible bytes: SHA-256 over `seed`, a label and a counter, so the same seed gives the same message. */
export function seededRandom(seed: string): RandomSource {
  let counter = 0;
  let pool = Buffer.alloc(0);
  return {
    bytes(n) {
      while (pool.length < n) {
        const block = createHash('sha256').update(`smtpkit-mime\0${seed}\0${counter++}`).digest();
        pool = Buffer.concat([pool, block]);
      }
      const out = pool.subarray(0, n);
      pool = pool.subarray(n);
      return out;
    },
  };
}

/** Lower-case hex of `n` random bytes. */
export function randomHex(source: RandomSource, n: number): string {
  return Buffer.from(source.bytes(n)).toString('hex');
}
