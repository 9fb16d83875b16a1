import { Buffer } from 'node:buffer';
import { createHash, randomBytes } from 'node:crypto';

/**
 * Where Message-IDs and boundaries come from: unique per process and message, or a reproducible stream
 * from a seed. `hex(n)` is `2n` lower-case hex digits.
 */
export interface RandomSource {
  hex(n: number): string;
}

/** Hex digits of the counter part of a unique id (48 bits: no process draws that many). */
const COUNTER_DIGITS = 12;
/** Random hex digits drawn once per process; ids take the first `2n - COUNTER_DIGITS` of them. */
const TOKEN_DIGITS = 52;

let token: string | undefined;
let counter = 0;

/**
 * RFC 5322 §3.6.4 asks a Message-ID to be unique, not secret (RFC 2046 §5.1.1 asks the same of a boundary
 * within its message): a token drawn once per process from the system's CSPRNG (80 bits in a Message-ID,
 * 48 in a boundary) followed by a per-process counter. Ids of one process share the token, so they show
 * that they came from the same process and in which order.
 */
function uniqueHex(n: number): string {
  token ??= randomBytes(TOKEN_DIGITS / 2).toString('hex');
  counter++;
  return token.slice(0, 2 * n - COUNTER_DIGITS) + counter.toString(16).padStart(COUNTER_DIGITS, '0');
}

const UNIQUE: RandomSource = Object.freeze({ hex: uniqueHex });

/** Ids unique to this process and message: a per-process random token and a counter (see {@link uniqueHex}). */
export function uniqueSource(): RandomSource {
  return UNIQUE;
}

/** Reproducible ids: SHA-256 over `seed`, a label and a counter, so the same seed gives the same message. */
export function seededRandom(seed: string): RandomSource {
  let counter = 0;
  let pool = Buffer.alloc(0);
  return {
    hex(n) {
      while (pool.length < n) {
        const block = createHash('sha256').update(`smtpkit-mime\0${seed}\0${counter++}`).digest();
        pool = Buffer.concat([pool, block]);
      }
      const out = pool.subarray(0, n);
      pool = pool.subarray(n);
      return out.toString('hex');
    },
  };
}
