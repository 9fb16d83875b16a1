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
 * Base64 of `head` (one whole line, or empty) then `src[start, end)` as 76-character lines, each
 * preceded by CRLF. One native encode and one latin1 write per piece, then the lines are moved apart
 * in place from the last to the first (memmove), which is far cheaper than building lines one by one.
 */
function encodeLinesWithLeadingCrlf(src: Buffer, start: number, end: number, head?: string): Buffer {
  const text = src.toString('base64', start, end);
  const len = text.length;
  const lines = Math.ceil(len / ENCODED_LINE_LENGTH);
  const base = head === undefined ? 0 : ENCODED_LINE_LENGTH + 2;
  const out = Buffer.allocUnsafe(base + len + 2 * lines);
  if (head !== undefined) {
    out[0] = 0x0d;
    out[1] = 0x0a;
    out.write(head, 2, ENCODED_LINE_LENGTH, 'latin1');
  }
  out.write(text, base, len, 'latin1');
  for (let i = lines - 1; i >= 0; i--) {
    const from = base + i * ENCODED_LINE_LENGTH;
    const to = base + i * (ENCODED_LINE_LENGTH + 2);
    out.copyWithin(to + 2, from, Math.min(from + ENCODED_LINE_LENGTH, base + len));
    out[to] = 0x0d;
    out[to + 1] = 0x0a;
  }
  return out;
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
    let head: string | undefined;
    if (this.carryLength > 0) {
      // Complete the held octets to whole lines with the start of this chunk (at most 56 octets copied).
      const take = Math.min((LINE_IN - (this.carryLength % LINE_IN)) % LINE_IN, buf.length);
      buf.copy(this.carry, this.carryLength, 0, take);
      this.carryLength += take;
      offset = take;
      if (this.carryLength === LINE_IN) head = this.carry.toString('base64', 0, LINE_IN);
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

  private emit(src: Buffer, start: number, end: number, head?: string): Uint8Array {
    const block = encodeLinesWithLeadingCrlf(src, start, end, head);
    if (this.started) return block;
    this.started = true;
    return block.subarray(2);
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
  return encodeLinesWithLeadingCrlf(buf, 0, buf.length).toString('latin1', 2);
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
