import { Buffer, isAscii } from 'node:buffer';
import { inputError } from './errors.js';

const CR = 0x0d;
const LF = 0x0a;
const EQUALS = 0x3d;
const HEX = Buffer.from('0123456789ABCDEF', 'latin1');
/** RFC 2045 §6.7 rule 5: encoded lines are at most 76 characters, the soft break's "=" included. */
const QP_LINE = 76;
/** RFC 2045 §6.8: base64 lines of at most 76 characters; 57 octets make one full line. */
const BASE64_LINE_OCTETS = 57;

/** Printable ASCII but "=" (RFC 2045 §6.7 rule 2): written as itself in quoted-printable. */
function isLiteral(c: number): boolean {
  return c > 0x20 && c < 0x7f && c !== EQUALS;
}

/** A growable output buffer; {@link take} hands out what was written and starts again. */
export class ByteBuilder {
  #buf: Buffer = Buffer.allocUnsafe(1024);
  #len = 0;

  get length(): number {
    return this.#len;
  }

  byte(c: number): void {
    if (this.#len === this.#buf.length) this.#grow(1);
    this.#buf[this.#len++] = c;
  }

  bytes(b: Uint8Array, start = 0, end = b.length): void {
    const n = end - start;
    if (n <= 0) return;
    if (this.#len + n > this.#buf.length) this.#grow(n);
    const buf = this.#buf;
    let at = this.#len;
    // Short runs (quoted-printable writes many) are copied by hand: a subarray per run costs more than the copy.
    if (n < 64) for (let i = start; i < end; i++) buf[at++] = b[i] as number;
    else buf.set(b.subarray(start, end), at);
    this.#len += n;
  }

  crlf(): void {
    this.byte(CR);
    this.byte(LF);
  }

  ascii(text: string): void {
    const n = text.length;
    if (this.#len + n > this.#buf.length) this.#grow(n);
    this.#buf.write(text, this.#len, 'latin1');
    this.#len += n;
  }

  /** Everything written since the last call, as a copy of its own. */
  take(): Uint8Array {
    const out = Buffer.from(this.#buf.subarray(0, this.#len));
    this.#len = 0;
    return out;
  }

  #grow(n: number): void {
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#len + n));
    this.#buf.copy(next, 0, 0, this.#len);
    this.#buf = next;
  }
}

/**
 * Where the content of a body part goes, one line at a time: `data` for octets of a line (never CR LF),
 * `eol` for a line break (`crlf` false: a bare LF), `finish` once the content ended (before a boundary or
 * at the end of the message).
 */
export interface ContentSink {
  data(b: Uint8Array, start: number, end: number): void;
  eol(crlf: boolean): void;
  finish(): void;
}

/**
 * Quoted-printable (RFC 2045 §6.7), streamed: line breaks of the content become hard breaks (CRLF), long
 * lines get soft breaks (`=` CRLF) so no encoded line exceeds 76 characters, white space before a line
 * break is encoded (rule 3), and every octet outside printable ASCII (and "=") becomes `=XX`.
 */
export class QuotedPrintableSink implements ContentSink {
  readonly #out: ByteBuilder;
  #col = 0;
  /** A space or tab not written yet: encoded when a line break follows (rule 3), literal otherwise. */
  #space = -1;

  constructor(out: ByteBuilder) {
    this.#out = out;
  }

  data(b: Uint8Array, start: number, end: number): void {
    const out = this.#out;
    let col = this.#col;
    let space = this.#space;
    for (let i = start; i < end; ) {
      const c = b[i] as number;
      if (space >= 0) {
        if (col >= QP_LINE - 1) col = softBreak(out);
        out.byte(space);
        col++;
        space = -1;
      }
      if (c > 0x20 && c < 0x7f && c !== EQUALS) {
        // A run of octets that stand for themselves (rule 2): copied in pieces that fit the line.
        let j = i + 1;
        while (j < end && isLiteral(b[j] as number)) j++;
        while (i < j) {
          if (col >= QP_LINE - 1) col = softBreak(out);
          const n = Math.min(j - i, QP_LINE - 1 - col);
          out.bytes(b, i, i + n);
          col += n;
          i += n;
        }
        continue;
      }
      if (c === 0x20 || c === 0x09) space = c;
      else {
        if (col > QP_LINE - 4) col = softBreak(out);
        out.byte(EQUALS);
        out.byte(HEX[c >> 4] as number);
        out.byte(HEX[c & 15] as number);
        col += 3;
      }
      i++;
    }
    this.#col = col;
    this.#space = space;
  }

  eol(): void {
    this.finish();
    this.#out.crlf();
    this.#col = 0;
  }

  finish(): void {
    const space = this.#space;
    if (space < 0) return;
    // White space before a line break or the end is encoded (rule 3).
    if (this.#col > QP_LINE - 4) this.#col = softBreak(this.#out);
    this.#out.byte(EQUALS);
    this.#out.byte(HEX[space >> 4] as number);
    this.#out.byte(HEX[space & 15] as number);
    this.#col += 3;
    this.#space = -1;
  }
}

/** A soft line break (RFC 2045 §6.7 rule 5); the column after it. */
function softBreak(out: ByteBuilder): number {
  out.byte(EQUALS);
  out.crlf();
  return 0;
}

/**
 * Base64 (RFC 2045 §6.8), streamed in 76-character lines. Line breaks of text are encoded as CRLF (its
 * canonical form, RFC 2045 §6.8); other content keeps its octets as they were (`keepLineEnds`).
 */
export class Base64Sink implements ContentSink {
  readonly #out: ByteBuilder;
  readonly #keepLineEnds: boolean;
  readonly #carry = Buffer.allocUnsafe(BASE64_LINE_OCTETS);
  #held = 0;
  #lines = 0;

  constructor(out: ByteBuilder, keepLineEnds: boolean) {
    this.#out = out;
    this.#keepLineEnds = keepLineEnds;
  }

  data(b: Uint8Array, start: number, end: number): void {
    let at = start;
    while (at < end) {
      const n = Math.min(BASE64_LINE_OCTETS - this.#held, end - at);
      this.#carry.set(b.subarray(at, at + n), this.#held);
      this.#held += n;
      at += n;
      if (this.#held === BASE64_LINE_OCTETS) this.#line();
    }
  }

  eol(crlf: boolean): void {
    if (crlf || !this.#keepLineEnds) this.data(CRLF_BYTES, 0, 2);
    else this.data(CRLF_BYTES, 1, 2);
  }

  finish(): void {
    if (this.#held > 0) this.#line();
  }

  #line(): void {
    // The content's last line is followed by the boundary's own CRLF: lines are separated, not ended.
    if (this.#lines++ > 0) this.#out.crlf();
    this.#out.ascii(this.#carry.toString('base64', 0, this.#held));
    this.#held = 0;
  }
}

const CRLF_BYTES = Buffer.from('\r\n', 'latin1');

/** Content copied as it is, which must then be 7-bit: `where` names it in the error. */
export class SevenBitCopySink implements ContentSink {
  readonly #out: ByteBuilder;
  readonly #where: string;

  constructor(out: ByteBuilder, where: string) {
    this.#out = out;
    this.#where = where;
  }

  data(b: Uint8Array, start: number, end: number): void {
    const piece = b.subarray(start, end);
    if (!isAscii(piece)) throw unconvertible(this.#where);
    this.#out.bytes(piece);
  }

  eol(): void {
    this.#out.crlf();
  }

  finish(): void {}
}

/** 8-bit octets where no transfer encoding can carry them faithfully. */
export function unconvertible(where: string): Error {
  return inputError(
    `the message has 8-bit octets in ${where}, which cannot be converted to 7-bit for a server without 8BITMIME (RFC 6152 §3)`,
    'ERR_SMTP_8BIT_UNCONVERTIBLE',
  );
}
