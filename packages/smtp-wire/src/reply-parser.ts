import { Buffer } from 'node:buffer';
import { inputError, protocolError } from './errors.js';
import { enhancedAt } from './reply.js';
import type { EnhancedStatus, Reply } from './reply.js';

/** Default bound on one reply line, CRLF included. RFC 5321 §4.5.3.1.5 asks for 512; real servers send more. */
export const DEFAULT_MAX_LINE_LENGTH = 4096;
/** Default bound on the number of lines in one reply. */
export const DEFAULT_MAX_REPLY_LINES = 256;
/** Default bound on the octets of one reply, all lines and CRLFs included. */
export const DEFAULT_MAX_REPLY_SIZE = 65536;

/** Options of {@link ReplyParser}. Strict by default; leniency is opt-in by name. */
export interface ReplyParserOptions {
  /** Longest accepted line in octets, CRLF included (default 4096). Longer → `ERR_SMTP_REPLY_TOO_LONG`. */
  maxLineLength?: number;
  /** Most lines in one reply (default 256). More → `ERR_SMTP_REPLY_TOO_LONG`. */
  maxReplyLines?: number;
  /** Most octets in one reply (default 65536). More → `ERR_SMTP_REPLY_TOO_LONG`. */
  maxReplySize?: number;
  /** Lenient: accept a bare LF as a line ending (default false: a protocol error, RFC 5321 §2.3.8). */
  allowBareLf?: boolean;
  /** Parse RFC 3463 `x.y.z` from the first line into `Reply.enhanced` (default true). */
  enhancedStatusCodes?: boolean;
}

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const DASH = 0x2d;

/** Octets searched with a plain loop before {@link findByte} hands over to the native search. */
const SHORT_SCAN = 64;

/**
 * The first `byte` in `buf[from, to)`, or -1. Reply lines are short: a plain loop over the first octets
 * costs less than a call into the native search, which takes over for long stretches.
 */
function findByte(buf: Buffer, byte: number, from: number, to: number): number {
  const stop = to < from + SHORT_SCAN ? to : from + SHORT_SCAN;
  for (let i = from; i < stop; i++) if (buf[i] === byte) return i;
  if (stop === to) return -1;
  const at = buf.indexOf(byte, stop);
  return at === -1 || at >= to ? -1 : at;
}

function limit(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) {
    throw inputError(`ReplyParserOptions.${name} must be a positive integer, got ${value}`);
  }
  return value;
}

/**
 * Incremental SMTP reply parser (RFC 5321 §4.2): bytes in, complete replies out, no I/O.
 *
 * Any split of the input gives the same replies; several replies in one chunk come out together.
 * Every buffer is bounded by the options. Malformed input throws an {@link SmtpError} of kind `protocol`
 * carrying the byte offset; after that the parser stays failed.
 *
 * @example
 * ```ts
 * const parser = new ReplyParser();
 * parser.push(Buffer.from('250-mail.example.com\r\n250 PIPE'));   // []
 * parser.push(Buffer.from('LINING\r\n'));  // [{ code: 250, lines: ['mail.example.com', 'PIPELINING'], ... }]
 * ```
 */
export class ReplyParser {
  readonly #maxLine: number;
  readonly #maxLines: number;
  readonly #maxSize: number;
  readonly #allowBareLf: boolean;
  readonly #enhanced: boolean;

  /** Bytes of the incomplete current line. */
  #partial: Buffer = Buffer.alloc(0);
  #partialLen = 0;
  /** Completed lines of the current, unfinished reply. */
  #lines: string[] = [];
  #code = 0;
  /** The enhanced status of the current reply's first line, parsed from its octets. */
  #firstEnhanced: EnhancedStatus | undefined;
  #replySize = 0;
  /** Stream offset of the first byte of the chunk being parsed. */
  #offset = 0;
  #failed: Error | undefined;

  constructor(options: ReplyParserOptions = {}) {
    this.#maxLine = limit(options.maxLineLength, DEFAULT_MAX_LINE_LENGTH, 'maxLineLength');
    this.#maxLines = limit(options.maxReplyLines, DEFAULT_MAX_REPLY_LINES, 'maxReplyLines');
    this.#maxSize = limit(options.maxReplySize, DEFAULT_MAX_REPLY_SIZE, 'maxReplySize');
    this.#allowBareLf = options.allowBareLf ?? false;
    this.#enhanced = options.enhancedStatusCodes ?? true;
  }

  /** Octets held for the incomplete reply (lines already received plus the partial line). */
  get bufferedBytes(): number {
    return this.#replySize + this.#partialLen;
  }

  /** True when no part of a reply is buffered: the next byte starts a new reply. */
  get isIdle(): boolean {
    return this.bufferedBytes === 0;
  }

  /** Total octets consumed so far. */
  get offset(): number {
    return this.#offset;
  }

  /**
   * Feeds received bytes; returns the replies completed by them, in order (often none).
   * @throws {SmtpError} kind `protocol` on malformed or over-long input; the parser is dead afterwards.
   */
  push(chunk: Uint8Array): Reply[] {
    if (this.#failed) throw this.#failed;
    try {
      return this.#push(chunk);
    } catch (e) {
      this.#failed = e as Error;
      throw e;
    }
  }

  #push(input: Uint8Array): Reply[] {
    const chunk = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    const replies: Reply[] = [];
    const n = chunk.length;
    let pos = 0;
    while (pos < n) {
      const lf = findByte(chunk, LF, pos, n);
      if (lf === -1) {
        this.#keepPartial(chunk, pos, n);
        break;
      }
      let line: Buffer;
      let lineStart: number; // stream offset of the line's first byte
      if (this.#partialLen > 0) {
        const total = this.#partialLen + (lf + 1 - pos);
        this.#checkLineLength(total, this.#offset + pos - this.#partialLen);
        line = Buffer.allocUnsafe(total);
        this.#partial.copy(line, 0, 0, this.#partialLen);
        chunk.copy(line, this.#partialLen, pos, lf + 1);
        lineStart = this.#offset + pos - this.#partialLen;
        this.#partialLen = 0;
        if (this.#partial.length > 1024) this.#partial = Buffer.alloc(0);
      } else {
        this.#checkLineLength(lf + 1 - pos, this.#offset + pos);
        line = chunk;
        lineStart = this.#offset + pos;
      }
      const from = line === chunk ? pos : 0;
      const to = line === chunk ? lf + 1 : line.length;
      const reply = this.#line(line, from, to, lineStart);
      if (reply) replies.push(reply);
      pos = lf + 1;
    }
    this.#offset += n;
    return replies;
  }

  #checkLineLength(length: number, lineStart: number): void {
    if (length > this.#maxLine) {
      throw protocolError(
        `reply line longer than ${this.#maxLine} octets`,
        lineStart + this.#maxLine,
        'ERR_SMTP_REPLY_TOO_LONG',
      );
    }
    if (this.#replySize + length > this.#maxSize) {
      throw protocolError(
        `reply larger than ${this.#maxSize} octets`,
        lineStart + (this.#maxSize - this.#replySize),
        'ERR_SMTP_REPLY_TOO_LONG',
      );
    }
  }

  /** Stores an unterminated tail, failing as soon as it can no longer fit the limits. */
  #keepPartial(chunk: Buffer, from: number, to: number): void {
    const add = to - from;
    const total = this.#partialLen + add;
    // The line still needs at least its LF: fail now rather than buffer a line that can never fit.
    this.#checkLineLength(total + 1, this.#offset + from - this.#partialLen);
    if (this.#partial.length < total) {
      const grown = Buffer.allocUnsafe(Math.min(Math.max(total, this.#partial.length * 2, 256), this.#maxLine));
      this.#partial.copy(grown, 0, 0, this.#partialLen);
      this.#partial = grown;
    }
    chunk.copy(this.#partial, this.#partialLen, from, to);
    this.#partialLen = total;
  }

  /** Handles one complete line `buf[from, to)` ending in LF; returns a reply when this line ends one. */
  #line(buf: Buffer, from: number, to: number, start: number): Reply | undefined {
    const lfAt = to - 1;
    let end = lfAt; // exclusive end of the line's content
    if (end > from && buf[end - 1] === CR) {
      end--;
    } else if (!this.#allowBareLf) {
      throw protocolError('reply line ends in a bare LF, not CRLF (RFC 5321 §2.3.8)', start + (lfAt - from));
    }
    // A CR anywhere else inside the line is never a line ending (RFC 5321 §2.3.8).
    const cr = findByte(buf, CR, from, end);
    if (cr !== -1) {
      throw protocolError('bare CR inside a reply line', start + (cr - from));
    }
    const len = end - from;
    // RFC 5321 §4.2: Reply-code = %x32-35 %x30-35 %x30-39
    const d0 = len > 0 ? (buf[from] as number) : -1;
    const d1 = len > 1 ? (buf[from + 1] as number) : -1;
    const d2 = len > 2 ? (buf[from + 2] as number) : -1;
    if (d0 < 0x32 || d0 > 0x35) throw protocolError('reply code must start with a digit 2-5', start);
    if (d1 < 0x30 || d1 > 0x35) throw protocolError('second digit of reply code must be 0-5', start + 1);
    if (d2 < 0x30 || d2 > 0x39) throw protocolError('third character of reply code must be a digit', start + 2);
    const code = (d0 - 48) * 100 + (d1 - 48) * 10 + (d2 - 48);
    let isLast: boolean;
    if (len === 3) {
      isLast = true; // "250" CRLF: no text (RFC 5321 §4.2, textstring is optional)
    } else {
      const sep = buf[from + 3];
      if (sep === SP) isLast = true;
      else if (sep === DASH) isLast = false;
      else throw protocolError('reply code must be followed by a space, a hyphen or CRLF', start + 3);
    }
    if (this.#lines.length > 0 && code !== this.#code) {
      throw protocolError(
        `reply code ${code} differs from ${this.#code} earlier in the same multi-line reply (RFC 5321 §4.2.1)`,
        start,
      );
    }
    if (this.#lines.length + 1 > this.#maxLines) {
      throw protocolError(`reply has more than ${this.#maxLines} lines`, start, 'ERR_SMTP_REPLY_TOO_LONG');
    }
    // UTF-8, Node's default: naming no encoding spares this per-line path Node's lookup of the encoding's name.
    const text = len > 4 ? buf.toString(undefined, from + 4, end) : '';
    // RFC 3463 status from the reply's first line, read from its octets.
    const enhanced =
      this.#lines.length === 0 ? (this.#enhanced && len > 4 ? enhancedAt(buf, from + 4, end, d0 - 48) : undefined) : this.#firstEnhanced;
    if (!isLast) {
      this.#firstEnhanced = enhanced;
      this.#code = code;
      this.#lines.push(text);
      this.#replySize += to - from;
      return undefined;
    }
    // A one-line reply (most are) gets an exact-size array: replies are often kept (results, errors).
    let lines: string[];
    if (this.#lines.length === 0) lines = [text];
    else {
      lines = this.#lines;
      lines.push(text);
      this.#lines = [];
    }
    this.#replySize = 0;
    this.#code = 0;
    this.#firstEnhanced = undefined;
    const reply: Reply = { code, lines, text: lines.length === 1 ? text : lines.join('\n') };
    if (enhanced) reply.enhanced = enhanced;
    return reply;
  }
}

/** Parses a buffer that holds exactly one complete reply. @throws {SmtpError} kind `protocol`. */
export function parseReply(input: Uint8Array | string, options?: ReplyParserOptions): Reply {
  const parser = new ReplyParser(options);
  const replies = parser.push(typeof input === 'string' ? Buffer.from(input, 'utf8') : input);
  if (replies.length !== 1 || !parser.isIdle) {
    throw protocolError(`expected exactly one complete reply, got ${replies.length}`, parser.offset);
  }
  return replies[0] as Reply;
}
