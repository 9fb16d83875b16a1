import { Buffer } from 'node:buffer';
import { inputError } from './errors.js';
import type { SmtpError } from './errors.js';

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const EMPTY = new Uint8Array(0);

function asBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/**
 * Output capacity for an n-octet chunk: room for one change every 16 octets. Ordinary text needs far
 * less; a chunk needing more grows once, to its worst case (see {@link reserve}).
 */
function initialCapacity(n: number): number {
  return n + (n >> 4) + 16;
}

/**
 * Returns `out` if `need` more octets fit after `o`, else a copy with room for `need` plus the worst
 * case of the `rest` input octets still to come (every one doubled).
 */
function reserve(out: Buffer, o: number, need: number, rest: number): Buffer {
  if (o + need <= out.length) return out;
  const grown = Buffer.allocUnsafe(o + need + 2 * rest + 2);
  out.copy(grown, 0, 0, o);
  return grown;
}

/** `chunk` as a plain Uint8Array (a view of a Buffer's memory, not a copy). */
function plainView(chunk: Uint8Array): Uint8Array {
  return Buffer.isBuffer(chunk) ? new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength) : chunk;
}

/** Copies src[from, to) to dst at `at`; returns the new write position. */
function copyRun(src: Uint8Array, from: number, to: number, dst: Uint8Array, at: number): number {
  const len = to - from;
  if (len > 24) {
    // TypedArray#set on a plain Uint8Array view: Buffer#copy and Buffer#subarray cost more per call.
    dst.set(src.subarray(from, to), at);
    return at + len;
  }
  for (let k = from; k < to; k++) dst[at++] = src[k] as number;
  return at;
}

/**
 * The shared streaming state machine: CRLF canonicalisation (RFC 5321 §2.3.8) with optional
 * dot-stuffing (RFC 5321 §4.5.2). A chunk that needs no change is returned as is (no copy).
 */
export class LineMachine {
  readonly #stuff: boolean;
  readonly #maxLine: number;
  /** The last byte written was a CR whose LF is still owed (the next chunk may bring it). */
  #pendingCr = false;
  /** The next byte starts a line (beginning of the body or just after CRLF). */
  #atLineStart = true;
  #lineLen = 0;
  #in = 0;
  #out = 0;
  #failed: SmtpError | undefined;

  constructor(stuff: boolean, maxLine: number) {
    if (!(maxLine > 0)) throw inputError(`maxLineLength must be a positive number, got ${maxLine}`);
    this.#stuff = stuff;
    this.#maxLine = maxLine;
  }

  get bytesIn(): number {
    return this.#in;
  }

  get bytesOut(): number {
    return this.#out;
  }

  /** Nothing written yet, or the output ends with CRLF. */
  get endsWithCrlf(): boolean {
    return this.#atLineStart && !this.#pendingCr;
  }

  get pendingCr(): boolean {
    return this.#pendingCr;
  }

  fail(): void {
    if (this.#failed) throw this.#failed;
  }

  push(input: Uint8Array): Uint8Array {
    if (this.#failed) throw this.#failed;
    const n = input.length;
    if (n === 0) return EMPTY;
    const chunk = asBuffer(input); // Buffer#indexOf is a memchr
    // A plain view for copyRun, made only once a change needs copying (most chunks need none).
    let view: Uint8Array | null = null;
    const stuff = this.#stuff;
    const maxLine = this.#maxLine;
    let atLineStart = this.#atLineStart;
    let lineLen = this.#lineLen;
    // Output is built lazily: while `out` is null it equals chunk[0, i) (nothing had to change yet);
    // afterwards it is out[0, o) followed by the input run chunk[from, i) not copied yet. Unchanged
    // runs are copied in one piece only when a change (a stuffed dot, a CRLF for a bare CR or LF) follows.
    let out: Buffer | null = null;
    let o = 0;
    let from = 0;
    let i = 0;
    if (this.#pendingCr) {
      this.#pendingCr = false;
      atLineStart = true;
      if (chunk[0] === LF) {
        i = 1; // the CR that ended the previous chunk and this LF are one CRLF
      } else {
        out = Buffer.allocUnsafe(initialCapacity(n)); // a bare CR at the end of the last chunk becomes CRLF
        out[o++] = LF;
      }
    }
    let nextCr = -1;
    let nextLf = -1;
    while (i < n) {
      if (atLineStart) {
        atLineStart = false;
        // RFC 5321 §4.5.2: a line starting with "." gets one more "."
        if (stuff && chunk[i] === DOT) {
          if (out === null) {
            out = Buffer.allocUnsafe(initialCapacity(n));
            chunk.copy(out, 0, 0, i);
            o = i;
          } else {
            out = reserve(out, o, i - from + 1, n - i);
            o = copyRun((view ??= plainView(input)), from, i, out, o);
          }
          out[o++] = DOT;
          from = i; // the dot itself is part of the next run
        }
      }
      if (nextCr < i) {
        nextCr = chunk.indexOf(CR, i);
        if (nextCr === -1) nextCr = n;
      }
      if (nextLf < i) {
        nextLf = chunk.indexOf(LF, i);
        if (nextLf === -1) nextLf = n;
      }
      const j = nextCr < nextLf ? nextCr : nextLf;
      if (lineLen + (j - i) > maxLine) {
        const offset = this.#in + i + (maxLine - lineLen);
        this.#failed = inputError(
          `body line longer than ${maxLine} octets at byte ${offset} (RFC 5321 §4.5.3.1.6); ` +
            'wrap long lines or use a transfer encoding',
          'ERR_SMTP_LINE_TOO_LONG',
        );
        throw this.#failed;
      }
      lineLen += j - i;
      i = j;
      if (j === n) break;
      lineLen = 0;
      atLineStart = true;
      if (chunk[j] === CR) {
        if (j + 1 === n) {
          // CR at the end of the chunk: written now; the next chunk or end() settles its LF.
          this.#pendingCr = true;
          atLineStart = false;
          i = n;
          break;
        }
        if (chunk[j + 1] === LF) {
          i = j + 2; // CRLF: unchanged
          continue;
        }
      }
      // A bare CR or a bare LF: both become CRLF (RFC 5321 §2.3.8).
      if (out === null) {
        out = Buffer.allocUnsafe(initialCapacity(n));
        chunk.copy(out, 0, 0, j);
        o = j;
      } else {
        out = reserve(out, o, j - from + 2, n - j - 1);
        o = copyRun((view ??= plainView(input)), from, j, out, o);
      }
      out[o++] = CR;
      out[o++] = LF;
      i = j + 1;
      from = i;
    }
    this.#atLineStart = atLineStart;
    this.#lineLen = lineLen;
    this.#in += n;
    let result: Uint8Array;
    if (out === null) {
      result = input;
    } else {
      out = reserve(out, o, n - from, 0);
      o = copyRun((view ??= plainView(input)), from, n, out, o);
      result = out.subarray(0, o);
    }
    this.#out += result.length;
    return result;
  }

  /** Finishes the line ending owed by a trailing CR; returns the bytes to write. */
  finish(): Uint8Array {
    if (this.#failed) throw this.#failed;
    if (!this.#pendingCr) return EMPTY;
    this.#pendingCr = false;
    this.#atLineStart = true;
    this.#out += 1;
    return Buffer.from([LF]);
  }

  addOut(n: number): void {
    this.#out += n;
  }
}
