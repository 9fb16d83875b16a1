import { Buffer, isAscii } from 'node:buffer';
import { inputError } from './errors.js';
import { readMimeHead, withEncoding, type MimeHead } from './mime-head.js';
import { BARE_LF, CRLF, LeafPart, NO_EOL, type Eol } from './seven-bit-leaf.js';
import {
  Base64Sink,
  ByteBuilder,
  QuotedPrintableSink,
  SevenBitCopySink,
  type ContentSink,
} from './transfer-encoders.js';

export { DOWNGRADE_SAMPLE } from './seven-bit-leaf.js';

const CR = 0x0d;
const LF = 0x0a;
const DASH = 0x2d;
const CR_BYTE = Buffer.from([CR]);
/** A header section larger than this is refused (bounded memory). */
export const MAX_DOWNGRADE_HEADER = 64 * 1024;
/** A line starting with "-" is held this long at most while it may be a boundary (RFC 2046 §5.1.1: 70 + "--" x 2 + padding). */
const MAX_DELIMITER_LINE = 998;
/** Multiparts and nested messages inside each other, at most. */
const MAX_DEPTH = 64;

const TEXT_PLAIN = ['text', 'plain'] as const;

const MESSAGE_RFC822 = ['message', 'rfc822'] as const;

interface Multipart {
  /** `--` + the boundary (RFC 2046 §5.1.1). */
  dash: Buffer;
  digest: boolean;
}

/**
 * The 8-bit → 7-bit conversion an SMTP client applies for a server without 8BITMIME (RFC 6152 §3, as
 * Postfix's smtp client does): every leaf part whose body is 8-bit (declared `8bit` or `binary`, or
 * 7bit-labelled with 8-bit octets in its first {@link DOWNGRADE_SAMPLE} octets) is re-encoded as
 * quoted-printable, or base64 when it is not text or mostly non-ASCII, and its Content-Transfer-Encoding
 * rewritten; multiparts and nested messages are walked with their boundaries and 7-bit lines untouched.
 *
 * Pure and streaming: `push` any chunking, `end` once; memory stays bounded (a header section, one
 * sample, one possible boundary line). What cannot be converted faithfully is refused with an
 * {@link SmtpError} of kind `input`: a message without MIME-Version (`ERR_SMTP_NOT_MIME`), raw 8-bit
 * octets in a header (`ERR_SMTP_8BIT_HEADERS`, RFC 6532 needs SMTPUTF8), or 8-bit octets in a
 * preamble, an epilogue or an already encoded part (`ERR_SMTP_8BIT_UNCONVERTIBLE`).
 *
 * Line breaks come out as CRLF; dot-stuffing is left to the {@link DataEncoder}.
 *
 * @example
 * ```ts
 * const down = new SevenBitDowngrade();
 * const out = Buffer.concat([down.push(message), down.end()]);
 * ```
 */
export class SevenBitDowngrade {
  readonly #out = new ByteBuilder();
  readonly #frames: Multipart[] = [];
  #mode: 'header' | 'body' = 'header';
  /** The header lines of the entity being read, its size, and what its type defaults to. */
  #header: Buffer[] = [];
  #headerBytes = 0;
  #defaultType: readonly [string, string] = TEXT_PLAIN;
  #top = true;
  #depth = 0;
  #sink: ContentSink | undefined;
  /** The current line when it is held whole (a header line, or a body line that may be a boundary). */
  #line: Buffer[] = [];
  #lineBytes = 0;
  /** The current body line streams to the sink (it cannot be a boundary). */
  #streaming = false;
  #atLineStart = true;
  /** A CR at the end of the last chunk, not yet known to start a CRLF. */
  #cr = false;
  /** The body's last line break, held: before a boundary it belongs to the boundary (RFC 2046 §5.1.1). */
  #pendingEol: Eol = NO_EOL;
  #ended = false;
  #converted = 0;

  /** Leaf parts re-encoded so far. */
  get converted(): number {
    return this.#converted;
  }

  /** The message header has been read and accepted: what can be refused before any body octet is. */
  get headerChecked(): boolean {
    return !this.#top;
  }

  /** Converts the next piece of the message; returns the output ready so far. */
  push(chunk: Uint8Array): Uint8Array {
    if (this.#ended) throw inputError('SevenBitDowngrade: push() after end()');
    let at = 0;
    if (this.#cr && chunk.length > 0) {
      this.#cr = false;
      // The held CR starts a CRLF: the line ends; otherwise it was a bare CR in the line.
      if (chunk[0] === LF) {
        this.#lineEnd(CRLF);
        at = 1;
      } else this.#piece(CR_BYTE, 0, 1);
    }
    while (at < chunk.length) {
      const lf = chunk.indexOf(LF, at);
      if (lf === -1) {
        let end = chunk.length;
        if (chunk[end - 1] === CR) {
          this.#cr = true;
          end--;
        }
        this.#piece(chunk, at, end);
        break;
      }
      const crlf = lf > at && chunk[lf - 1] === CR;
      this.#piece(chunk, at, crlf ? lf - 1 : lf);
      this.#lineEnd(crlf ? CRLF : BARE_LF);
      at = lf + 1;
    }
    return this.#out.take();
  }

  /** The end of the message: the last line, the last part's content; returns the rest of the output. */
  end(): Uint8Array {
    if (this.#ended) return new Uint8Array(0);
    if (this.#cr) {
      this.#cr = false;
      this.#piece(CR_BYTE, 0, 1);
    }
    if (!this.#atLineStart) this.#lineDone(NO_EOL);
    this.#ended = true;
    if (this.#mode === 'header') this.#endHeader(false);
    this.#sink?.finish();
    // The message's last line break ends its last line, as the one before a boundary does.
    if (this.#pendingEol !== NO_EOL) this.#out.crlf();
    this.#pendingEol = NO_EOL;
    return this.#out.take();
  }

  /** Octets of the current line (no CR LF). */
  #piece(b: Uint8Array, start: number, end: number): void {
    if (start >= end) return;
    if (this.#atLineStart) {
      this.#atLineStart = false;
      // A body line that cannot be a boundary streams; a header line, or one starting with "-", is held.
      this.#streaming = this.#mode === 'body' && (b[start] !== DASH || this.#frames.length === 0);
      if (this.#streaming) this.#contentLineStarts();
    }
    if (this.#streaming) {
      (this.#sink as ContentSink).data(b, start, end);
      return;
    }
    this.#line.push(Buffer.from(b.subarray(start, end)));
    this.#lineBytes += end - start;
    if (this.#mode === 'body' && this.#lineBytes > MAX_DELIMITER_LINE) {
      // Too long for a boundary: content after all.
      this.#streaming = true;
      this.#contentLineStarts();
      const held = this.#takeLine();
      (this.#sink as ContentSink).data(held, 0, held.length);
    } else if (this.#mode === 'header' && this.#headerBytes + this.#lineBytes > MAX_DOWNGRADE_HEADER) {
      throw inputError(`a header section is longer than ${MAX_DOWNGRADE_HEADER} octets; refusing to convert it`, 'ERR_SMTP_8BIT_UNCONVERTIBLE');
    }
  }

  /** A content line begins: the line break before it is content too. */
  #contentLineStarts(): void {
    if (this.#pendingEol !== NO_EOL) (this.#sink as ContentSink).eol(this.#pendingEol === CRLF);
    this.#pendingEol = NO_EOL;
  }

  #lineEnd(eol: Eol): void {
    if (this.#atLineStart) {
      // An empty line.
      this.#atLineStart = false;
      this.#streaming = this.#mode === 'body';
      if (this.#streaming) this.#contentLineStarts();
    }
    this.#lineDone(eol);
  }

  /** The current line is complete; `eol` is how it ended (at the end of the message: {@link NO_EOL}). */
  #lineDone(eol: Eol): void {
    this.#atLineStart = true;
    if (this.#streaming) {
      this.#streaming = false;
      this.#pendingEol = eol;
      return;
    }
    const line = this.#takeLine();
    const delimiter = this.#delimiter(line);
    if (delimiter) {
      this.#onDelimiter(delimiter.index, delimiter.close, line, eol);
      return;
    }
    if (this.#mode === 'body') {
      this.#contentLineStarts();
      (this.#sink as ContentSink).data(line, 0, line.length);
      this.#pendingEol = eol;
      return;
    }
    if (line.length === 0) {
      this.#endHeader(true);
      return;
    }
    if (!isAscii(line)) {
      throw inputError(
        `${this.#top ? 'the message header' : 'a part header'} has raw 8-bit octets ("${line.toString('latin1', 0, line.indexOf(0x3a) > 0 ? line.indexOf(0x3a) : 20)}"); ` +
          'only SMTPUTF8 (RFC 6532) can carry them, and a server without 8BITMIME cannot take the message (RFC 6152 §3)',
        'ERR_SMTP_8BIT_HEADERS',
      );
    }
    this.#header.push(line);
    this.#headerBytes += line.length + 2;
  }

  #takeLine(): Buffer {
    const parts = this.#line;
    const line = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, this.#lineBytes);
    this.#line = [];
    this.#lineBytes = 0;
    return line;
  }

  /** Which enclosing multipart `line` is a boundary of (innermost first), if any (RFC 2046 §5.1.1). */
  #delimiter(line: Buffer): { index: number; close: boolean } | undefined {
    if (line[0] !== DASH || line[1] !== DASH) return undefined;
    for (let k = this.#frames.length - 1; k >= 0; k--) {
      const dash = (this.#frames[k] as Multipart).dash;
      if (line.length < dash.length || line.compare(dash, 0, dash.length, 0, dash.length) !== 0) continue;
      let at = dash.length;
      const close = line[at] === DASH && line[at + 1] === DASH;
      if (close) at += 2;
      // Transport padding: white space may follow a boundary.
      while (at < line.length && (line[at] === 0x20 || line[at] === 0x09)) at++;
      if (at === line.length) return { index: k, close };
    }
    return undefined;
  }

  #onDelimiter(index: number, close: boolean, line: Buffer, eol: Eol): void {
    if (this.#mode === 'header') this.#endHeader(false);
    (this.#sink as ContentSink).finish();
    this.#sink = undefined;
    const frame = this.#frames[index] as Multipart;
    this.#frames.length = close ? index : index + 1;
    this.#depth = this.#frames.length;
    if (this.#pendingEol !== NO_EOL) this.#out.crlf();
    this.#pendingEol = NO_EOL;
    this.#out.bytes(line);
    if (close) {
      this.#mode = 'body';
      this.#sink = new SevenBitCopySink(this.#out, 'the epilogue of a multipart');
      this.#pendingEol = eol;
      return;
    }
    if (eol !== NO_EOL) this.#out.crlf();
    this.#enterEntity(frame.digest ? MESSAGE_RFC822 : TEXT_PLAIN);
  }

  #enterEntity(defaultType: readonly [string, string]): void {
    if (++this.#depth > MAX_DEPTH) throw inputError(`MIME structure nested deeper than ${MAX_DEPTH} levels; refusing to convert it`, 'ERR_SMTP_8BIT_UNCONVERTIBLE');
    this.#mode = 'header';
    this.#header = [];
    this.#headerBytes = 0;
    this.#defaultType = defaultType;
  }

  /** The header section ended (at an empty line when `blank`); what follows depends on the type. */
  #endHeader(blank: boolean): void {
    const head = readMimeHead(this.#header, this.#defaultType);
    if (this.#top && !head.mimeVersion) {
      throw inputError(
        'the message has 8-bit octets but no MIME-Version header, so it cannot be converted to 7-bit for a server without 8BITMIME (RFC 6152 §3, RFC 2045 §4)',
        'ERR_SMTP_NOT_MIME',
      );
    }
    this.#top = false;
    this.#header = [];
    this.#mode = 'body';
    this.#pendingEol = NO_EOL;
    const eightBit = head.encoding === '8bit' || head.encoding === 'binary';
    if (head.type === 'multipart' && head.boundary) {
      this.#emitHead(eightBit ? withEncoding(head, '7bit') : head.lines, blank);
      this.#frames.push({ dash: Buffer.from(`--${head.boundary}`, 'latin1'), digest: head.subtype === 'digest' });
      this.#sink = new SevenBitCopySink(this.#out, 'the preamble of a multipart');
    } else if (head.type === 'message' && (head.subtype === 'rfc822' || head.subtype === 'global') && blank) {
      // RFC 2046 §5.2.1: a message part is 7bit, 8bit or binary; converted inside, it becomes 7bit.
      this.#emitHead(eightBit ? withEncoding(head, '7bit') : head.lines, true);
      this.#enterEntity(TEXT_PLAIN);
    } else {
      this.#sink = new LeafPart(head, (encoding) => this.#leafStarts(head, blank, encoding));
    }
  }

  /** Write header lines, each with CRLF, then the empty line that ends them when there was one. */
  #emitHead(lines: readonly Buffer[], blank: boolean): void {
    for (const l of lines) {
      this.#out.bytes(l);
      this.#out.crlf();
    }
    if (blank) this.#out.crlf();
  }

  /** A leaf part decided how its content goes: write its header; the sink for its content. */
  #leafStarts(head: MimeHead, blank: boolean, encoding: 'quoted-printable' | 'base64' | undefined): ContentSink {
    if (!encoding) {
      this.#emitHead(head.lines, blank);
      return new SevenBitCopySink(this.#out, `a part declared ${head.encoding}`);
    }
    this.#converted++;
    this.#emitHead(withEncoding(head, encoding), blank);
    return encoding === 'base64' ? new Base64Sink(this.#out, head.type !== 'text') : new QuotedPrintableSink(this.#out);
  }
}
