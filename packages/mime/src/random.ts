import { createHash, randomFillSync } from 'node:crypto';

/** A source of bytes for boundaries and Message-IDs: cryptographic, or a reproducible stream from a seed. */
export interface RandomSource {
  bytes(n: number): Uint8Array;
}

/** Octets drawn from the system's CSPRNG at once, then handed out in order, each octet once. */
const POOL_SIZE = 4096;
let pool = new Uint8Array(0);
let poolAt = 0;

/** `n` cryptographically random bytes, each octet of the pool used once; a fresh copy the caller owns. */
function poolBytes(n: number): Uint8Array {
  if (n > POOL_SIZE) return randomFillSync(new Uint8Array(n));
  if (poolAt + n > pool.length) {
    pool = randomFillSync(new Uint8Array(POOL_SIZE));
    poolAt = 0;
  }
  const out = pool.slice(poolAt, poolAt + n);
  poolAt += n;
  return out;
}

/** Cryptographically random bytes (RFC 5322 §3.6.4 wants Message-IDs unique; RFC 2046 §5.1.1 boundaries too). */
export function secureRandom(): RandomSource {
  return SECURE;
}

const SECURE: RandomSource = Object.freeze({ bytes: poolBytes });

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
