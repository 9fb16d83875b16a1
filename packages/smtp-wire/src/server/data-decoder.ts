import { Buffer } from 'node:buffer';
import { MAX_DATA_LINE } from '../data-encoder.js';

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;

/** What a {@link BodyScanner} noticed in message data, as counts. */
export interface BodyTraits {
  /** LF octets not preceded by CR (RFC 5321 §2.3.8). */
  bareLf: number;
  /** CR octets not followed by LF (RFC 5321 §2.3.8). */
  bareCr: number;
  /** Lines over 998 octets, line ending excluded (RFC 5321 §4.5.3.1.6). */
  longLines: number;
  /** Octets ≥ 0x80 (RFC 6152: only with BODY=8BITMIME or BINARYMIME). */
  eightBit: number;
  /** `.` lines ended or started by a bare LF or CR, the SMTP smuggling shapes (DATA only). */
  smuggling: number;
}

/**
 * Counts the traits of message octets as they stream by: bare LF, bare CR, over-long lines, 8-bit
 * octets. Any chunking gives the same counts. Used on DATA (after un-stuffing) and on BDAT chunks.
 */
export class BodyScanner {
  readonly traits: BodyTraits = { bareLf: 0, bareCr: 0, longLines: 0, eightBit: 0, smuggling: 0 };
  #prev = LF;
  #lineLength = 0;

  /** Scans `bytes[from, to)`. */
  scan(bytes: Uint8Array, from = 0, to = bytes.length): void {
    const t = this.traits;
    let prev = this.#prev;
    let length = this.#lineLength;
    for (let i = from; i < to; i++) {
      const b = bytes[i] as number;
      if (prev === CR && b !== LF) t.bareCr++;
      if (b === LF) {
        if (prev !== CR) t.bareLf++;
        length = 0;
      } else if (b !== CR) {
        if (++length === MAX_DATA_LINE + 1) t.longLines++;
        if (b >= 0x80) t.eightBit++;
      }
      prev = b;
    }
    this.#prev = prev;
    this.#lineLength = length;
  }

  /** Call at the end of the data: a trailing CR with nothing after it is bare. */
  finish(): void {
    if (this.#prev === CR) this.traits.bareCr++;
    this.#prev = LF;
  }
}

/** One step of {@link DataDecoder.push}. */
export interface DataStep {
  /** The un-stuffed message octets of this chunk (may be empty). */
  data: Uint8Array;
  /** True when `<CRLF>.<CRLF>` was found: the message is complete. */
  done: boolean;
  /** Octets after the terminator (pipelined commands); empty unless `done`. */
  rest: Uint8Array;
}

/**
 * The receiving side of DATA (RFC 5321 §4.1.1.4, §4.5.2): removes the dot-stuffing and finds the
 * end of the data, which is `<CRLF>.<CRLF>` and nothing else — a `.` line bounded by a bare LF or a
 * bare CR (`\n.\n`, `\r\n.\n`, `\n.\r\n`, `\r.\r` …) is message content and is counted in
 * `traits.smuggling`. The message octets come out exactly as sent otherwise: no CRLF rewriting
 * (RFC 5321 §2.3.8 findings are counted, not repaired). Any chunking gives the same result.
 *
 * @example
 * ```ts
 * const d = new DataDecoder();
 * d.push(Buffer.from('Subject: x\r\n\r\n..dot\r\n.\r\nQUIT\r\n'));
 * // → { data: 'Subject: x\r\n\r\n.dot\r\n', done: true, rest: 'QUIT\r\n' }
 * ```
 */
export class DataDecoder {
  readonly #scanner = new BodyScanner();
  /** At the start of a line: after the DATA command's CRLF or after a CRLF in the data. */
  #lineStart = true;
  /** Octets held back: 1 = a line-start `.`, 2 = a line-start `.` and a CR. */
  #held = 0;
  /** The last four raw octets, most recent first, for the smuggling shapes. */
  #r1 = LF;
  #r2 = CR;
  #r3 = 0;
  #r4 = 0;
  #done = false;
  #size = 0;

  /** What was noticed so far (complete once `done`). */
  get traits(): BodyTraits {
    return this.#scanner.traits;
  }

  /** Message octets produced so far. */
  get size(): number {
    return this.#size;
  }

  /** Feeds received octets. After `done`, further calls are an error. */
  push(chunk: Uint8Array): DataStep {
    if (this.#done) throw new Error('DataDecoder: the data already ended');
    const out = Buffer.allocUnsafe(chunk.length + 2);
    let n = 0;
    let i = 0;
    let prev = this.#prev;
    for (; i < chunk.length; i++) {
      const b = chunk[i] as number;
      this.#watch(b);
      if (this.#held === 1) {
        if (b === CR) {
          this.#held = 2;
          continue;
        }
        // RFC 5321 §4.5.2: a line-start "." followed by more text is stuffing; drop it.
        this.#held = 0;
        prev = DOT;
      } else if (this.#held === 2) {
        this.#held = 0;
        if (b === LF) {
          this.#done = true;
          i++;
          break;
        }
        out[n++] = CR; // ".\r" then not LF: the dot was stuffing, the CR is content
        prev = CR;
      } else if (this.#lineStart && b === DOT) {
        this.#held = 1;
        this.#lineStart = false;
        continue;
      }
      out[n++] = b;
      this.#lineStart = b === LF && prev === CR;
      prev = b;
    }
    this.#prev = prev;
    const data = out.subarray(0, n);
    this.#scanner.scan(data);
    this.#size += n;
    if (this.#done) this.#scanner.finish();
    return { data, done: this.#done, rest: this.#done ? chunk.subarray(i) : chunk.subarray(chunk.length) };
  }

  /** The previous content octet, a dropped stuffing dot included (it ends any CRLF). */
  #prev = LF;

  /** Counts the smuggling shapes in the raw stream (before un-stuffing). */
  #watch(b: number): void {
    const r1 = this.#r1;
    const r2 = this.#r2;
    const r3 = this.#r3;
    if (b === LF && r1 === DOT && (r2 === LF || r2 === CR)) this.#scanner.traits.smuggling++;
    else if (b === LF && r1 === CR && r2 === DOT && (r3 === CR || (r3 === LF && this.#r4 !== CR))) {
      this.#scanner.traits.smuggling++;
    } else if (b !== LF && r1 === CR && r2 === DOT && (r3 === LF || r3 === CR)) this.#scanner.traits.smuggling++;
    this.#r4 = r3;
    this.#r3 = r2;
    this.#r2 = r1;
    this.#r1 = b;
  }
}
