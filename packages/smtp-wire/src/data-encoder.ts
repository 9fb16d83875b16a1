import { Buffer } from 'node:buffer';
import { toChunks } from './body-source.js';
import type { BodySource } from './body-source.js';
import { inputError } from './errors.js';
import { LineMachine } from './line-machine.js';

/** Longest DATA line in octets, CRLF excluded (RFC 5321 §4.5.3.1.6: 1000 including CRLF). */
export const MAX_DATA_LINE = 998;

/** Options of {@link DataEncoder} and {@link CrlfCanonicalizer}. */
export interface DataEncoderOptions {
  /**
   * Longest accepted body line in octets, line ending excluded, counted on the input (before
   * dot-stuffing). Default 998 for {@link DataEncoder} (RFC 5321 §4.5.3.1.6), `Infinity` for
   * {@link CrlfCanonicalizer}. Longer → SmtpError kind `input`, code `ERR_SMTP_LINE_TOO_LONG`.
   */
  maxLineLength?: number;
}

const TERMINATOR = Buffer.from('.\r\n');
const CRLF_TERMINATOR = Buffer.from('\r\n.\r\n');
const LF_TERMINATOR = Buffer.from('\n.\r\n');

/**
 * Streaming DATA body encoder (RFC 5321 §4.5.2, §2.3.8): every line ending becomes CRLF (a bare CR or
 * LF can never reach the wire, so the body can never end early: no SMTP smuggling), lines starting with
 * "." are dot-stuffed, and {@link DataEncoder.end} adds the terminating `CRLF . CRLF`.
 * Constant memory, correct across every chunk boundary.
 *
 * @example
 * ```ts
 * const enc = new DataEncoder();
 * const a = enc.push(Buffer.from('Subject: hi\n\n.hidden\r'));
 * const b = enc.push(Buffer.from('\nbye'));
 * const c = enc.end(); // a+b+c: "Subject: hi\r\n\r\n..hidden\r\nbye\r\n.\r\n"
 * ```
 */
export class DataEncoder {
  readonly #m: LineMachine;
  #ended = false;

  constructor(options: DataEncoderOptions = {}) {
    this.#m = new LineMachine(true, options.maxLineLength ?? MAX_DATA_LINE);
  }

  /** Octets pushed in so far. */
  get bytesIn(): number {
    return this.#m.bytesIn;
  }

  /** Octets returned so far, terminator included once {@link end} was called. */
  get bytesOut(): number {
    return this.#m.bytesOut;
  }

  /**
   * Returns the canonicalised, dot-stuffed bytes for `chunk` (possibly the same object when nothing
   * had to change, possibly empty).
   * @throws {SmtpError} kind `input`, code `ERR_SMTP_LINE_TOO_LONG`; the encoder is dead afterwards.
   */
  push(chunk: Uint8Array): Uint8Array {
    if (this.#ended) throw inputError('DataEncoder.push() after end()');
    return this.#m.push(chunk);
  }

  /** Returns the end of the data: a CRLF when the body does not end with one, then `.` CRLF (RFC 5321 §4.1.1.4). */
  end(): Uint8Array {
    return Buffer.from(this.#takeTail()); // a copy: the caller may change it
  }

  /** Octets the end of the data takes, as things stand (see {@link end}). */
  get endLength(): number {
    return this.#tail().length;
  }

  /**
   * {@link end} written into `target` at `at` instead of returned, with no copy of its own: for a caller that
   * puts the last body bytes and the end of data in one buffer. `target` needs {@link endLength} octets from
   * `at`. Returns the offset after the end of data.
   */
  endInto(target: Uint8Array, at: number): number {
    const tail = this.#takeTail();
    target.set(tail, at);
    return at + tail.length;
  }

  #tail(): Uint8Array {
    if (this.#m.pendingCr) return LF_TERMINATOR;
    return this.#m.endsWithCrlf ? TERMINATOR : CRLF_TERMINATOR;
  }

  #takeTail(): Uint8Array {
    this.#m.fail();
    if (this.#ended) throw inputError('DataEncoder.end() called twice');
    this.#ended = true;
    const tail = this.#tail();
    this.#m.addOut(tail.length);
    return tail;
  }
}

/**
 * The line-ending half of {@link DataEncoder}, for BDAT (RFC 3030 §2: no dot-stuffing, no terminator):
 * bare CR and bare LF become CRLF, across any chunk boundary.
 */
export class CrlfCanonicalizer {
  readonly #m: LineMachine;

  constructor(options: DataEncoderOptions = {}) {
    this.#m = new LineMachine(false, options.maxLineLength ?? Infinity);
  }

  get bytesIn(): number {
    return this.#m.bytesIn;
  }

  get bytesOut(): number {
    return this.#m.bytesOut;
  }

  /** Canonicalised bytes for `chunk` (the same object when nothing had to change). */
  push(chunk: Uint8Array): Uint8Array {
    return this.#m.push(chunk);
  }

  /** The LF owed to a CR that ended the last chunk, or nothing. */
  end(): Uint8Array {
    return this.#m.finish();
  }
}

/**
 * Encodes a whole body for DATA: canonical CRLF, dot-stuffed, terminator included.
 *
 * @example
 * ```ts
 * for await (const bytes of encodeData('Hello\n.\n')) socket.write(bytes); // "Hello\r\n..\r\n.\r\n"
 * ```
 */
export async function* encodeData(body: BodySource, options?: DataEncoderOptions): AsyncIterable<Uint8Array> {
  const enc = new DataEncoder(options);
  for await (const chunk of toChunks(body)) {
    const out = enc.push(chunk);
    if (out.length > 0) yield out;
  }
  yield enc.end();
}
