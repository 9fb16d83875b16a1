import { Buffer } from 'node:buffer';
import { ENCODED_LINE_LENGTH } from './constants.js';

/** RFC 2045 §6.8: 57 input octets make one 76-character line. */
const LINE_IN = (ENCODED_LINE_LENGTH / 4) * 3;
/** Input per output block: 840 lines of 78 octets (76 + CRLF) = 65,520 octets, just under 64 KiB. */
const BLOCK_IN = LINE_IN * 840;

function asBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/** Largest input encoded into one output block (two blocks' worth, about 128 KiB out), so huge chunks stream in pieces. */
const MAX_DIRECT = BLOCK_IN * 2;

/**
 * Writes base64 of `src[start, end)` into `out` at `at` as 76-character lines (RFC 2045 §6.8), each line
 * preceded by CRLF, the first one too when `continued` (more lines came before it). Returns the offset after
 * the last line. One native encode and one latin1 write per call, then the lines are moved apart in place
 * from the last to the first (memmove), which is far cheaper than building lines one by one.
 */
export function writeBase64Lines(src: Buffer, start: number, end: number, out: Buffer, at: number, continued: boolean): number {
  const text = src.toString('base64', start, end);
  const len = text.length;
  if (len === 0) return at;
  const lead = continued ? 2 : 0;
  out.write(text, at + lead, len, 'latin1');
  const lines = Math.ceil(len / ENCODED_LINE_LENGTH);
  for (let i = lines - 1; i > 0; i--) {
    const from = at + lead + i * ENCODED_LINE_LENGTH;
    const to = at + lead + i * (ENCODED_LINE_LENGTH + 2);
    out.copyWithin(to, from, Math.min(from + ENCODED_LINE_LENGTH, at + lead + len));
    out[to - 2] = 0x0d;
    out[to - 1] = 0x0a;
  }
  if (continued) {
    out[at] = 0x0d;
    out[at + 1] = 0x0a;
  }
  return at + lead + len + 2 * (lines - 1);
}

/**
 * Base64 of all of `src` into `out` at `at` as CRLF-joined 76-character lines, no CRLF after the last
 * (RFC 2045 §6.8), encoded a block at a time so no string larger than a block is made. Returns the end offset.
 */
export function writeBase64(src: Buffer, out: Buffer, at: number): number {
  let end = at;
  for (let i = 0; i < src.length; i += BLOCK_IN) end = writeBase64Lines(src, i, Math.min(src.length, i + BLOCK_IN), out, end, i > 0);
  return end;
}

/** Octets {@link writeBase64Lines} writes for `n` input octets. */
function linesLength(n: number, continued: boolean): number {
  return n === 0 ? 0 : base64EncodedLength(n) + (continued ? 2 : 0);
}

/**
 * Streaming base64 (RFC 2045 §6.8): push any chunking, get 76-character lines joined by CRLF in blocks
 * of about 64 KiB or the size of the input chunk. The output has no CRLF after the last line. Large
 * chunks are encoded straight from the caller's memory; only small chunks and the odd octets at a
 * chunk's end (fewer than 57) are copied. Memory stays bounded whatever the input size.
 *
 * @example
 * ```ts
 * const enc = new Base64Encoder();
 * const out = [...enc.push(bytes), ...enc.end()];
 * ```
 */
export class Base64Encoder {
  private readonly carry = Buffer.allocUnsafe(BLOCK_IN);
  private carryLength = 0;
  private started = false;
  private inBytes = 0;

  /** Input octets seen so far. */
  get bytesIn(): number {
    return this.inBytes;
  }

  /** Encodes what can be encoded now; keeps the rest for the next call. */
  push(chunk: Uint8Array): Uint8Array[] {
    const buf = asBuffer(chunk);
    this.inBytes += buf.length;
    const out: Uint8Array[] = [];
    // Small pieces are gathered until a block's worth is there.
    if (this.carryLength + buf.length < BLOCK_IN) {
      buf.copy(this.carry, this.carryLength);
      this.carryLength += buf.length;
      return out;
    }
    let offset = 0;
    let head: Buffer | undefined;
    if (this.carryLength > 0) {
      // Complete the held octets to whole lines with the start of this chunk (at most 56 octets copied).
      const take = Math.min((LINE_IN - (this.carryLength % LINE_IN)) % LINE_IN, buf.length);
      buf.copy(this.carry, this.carryLength, 0, take);
      this.carryLength += take;
      offset = take;
      if (this.carryLength === LINE_IN) head = this.carry;
      else out.push(this.emit(this.carry, 0, this.carryLength));
      this.carryLength = 0;
    }
    const whole = buf.length - ((buf.length - offset) % LINE_IN);
    while (offset < whole) {
      const stop = Math.min(whole, offset + MAX_DIRECT);
      out.push(this.emit(buf, offset, stop, head));
      head = undefined;
      offset = stop;
    }
    if (head !== undefined) out.push(this.emit(buf, offset, offset, head));
    if (offset < buf.length) {
      buf.copy(this.carry, 0, offset);
      this.carryLength = buf.length - offset;
    }
    return out;
  }

  /** Flushes the last, possibly short, line (with its '=' padding). */
  end(): Uint8Array[] {
    if (this.carryLength === 0) return [];
    const block = this.emit(this.carry, 0, this.carryLength);
    this.carryLength = 0;
    return [block];
  }

  /** `head` (one whole line's input, or none) and `src[start, end)` as one block of lines. */
  private emit(src: Buffer, start: number, end: number, head?: Buffer): Uint8Array {
    const headLength = head === undefined ? 0 : LINE_IN;
    const out = Buffer.allocUnsafe(linesLength(headLength, this.started) + linesLength(end - start, this.started || headLength > 0));
    let at = 0;
    if (head !== undefined) {
      at = writeBase64Lines(head, 0, LINE_IN, out, 0, this.started);
      this.started = true;
    }
    at = writeBase64Lines(src, start, end, out, at, this.started);
    this.started = true;
    return at === out.length ? out : out.subarray(0, at);
  }
}

/**
 * Base64 with 76-character lines joined by CRLF (RFC 2045 §6.8), no trailing CRLF.
 *
 * @example
 * ```ts
 * encodeBase64(new Uint8Array(60)); // 'AAAA…AAAA\r\nAAAAAA=='
 * ```
 */
export function encodeBase64(input: string | Uint8Array): string {
  const buf = typeof input === 'string' ? Buffer.from(input, 'utf8') : asBuffer(input);
  if (buf.length === 0) return '';
  const out = Buffer.allocUnsafe(base64EncodedLength(buf.length));
  writeBase64Lines(buf, 0, buf.length, out, 0, false);
  return out.toString('latin1');
}

/** Size in octets of {@link encodeBase64} output for `n` input octets. */
export function base64EncodedLength(n: number): number {
  if (n === 0) return 0;
  const chars = 4 * Math.ceil(n / 3);
  return chars + 2 * (Math.ceil(chars / ENCODED_LINE_LENGTH) - 1);
}

/** Streaming variant of {@link encodeBase64}: encodes an async source lazily, ~64 KiB per yielded block. */
export async function* base64Stream(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const encoder = new Base64Encoder();
  for await (const chunk of source) {
    for (const block of encoder.push(chunk)) yield block;
  }
  for (const block of encoder.end()) yield block;
}
