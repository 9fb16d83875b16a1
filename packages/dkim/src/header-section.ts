import { Buffer } from 'node:buffer';
import { DkimError } from './errors.js';

/** One header field as it appears in the message: its bytes as latin1 (CRLF and folds included). */
export interface HeaderField {
  /** Lower-case field name, without surrounding whitespace. */
  name: string;
  raw: string;
}

/** Splits a CRLF-canonical header section (without the blank line) into fields (RFC 5322 §2.2, §2.2.3). */
export function parseHeaderFields(head: string): HeaderField[] {
  const fields: HeaderField[] = [];
  let pos = 0;
  while (pos < head.length) {
    let end = head.indexOf('\r\n', pos);
    end = end < 0 ? head.length : end + 2;
    while (end < head.length && (head[end] === ' ' || head[end] === '\t')) {
      const next = head.indexOf('\r\n', end);
      end = next < 0 ? head.length : next + 2;
    }
    const raw = head.slice(pos, end);
    const colon = raw.indexOf(':');
    if (colon > 0) fields.push({ name: raw.slice(0, colon).trim().toLowerCase(), raw });
    pos = end;
  }
  return fields;
}

/**
 * Finds the end of the header section in a CRLF-canonical stream, keeping at most `maxSize` octets of
 * header; everything after the blank line is handed on as body, in the caller's chunks.
 */
export class HeaderSplitter {
  #text = '';
  #done = false;
  #maxSize: number;
  #head = '';

  constructor(maxSize: number) {
    this.#maxSize = maxSize;
  }

  /** True once the blank line was seen (or the message ended). */
  get done(): boolean {
    return this.#done;
  }

  /** The header section as latin1, each field with its CRLF, without the blank line. */
  get head(): string {
    return this.#head;
  }

  /** Feeds a chunk; returns the part of it that belongs to the body (empty while still in the header). */
  push(chunk: Uint8Array): Uint8Array {
    if (this.#done) return chunk;
    const before = this.#text.length;
    this.#text += Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('latin1');
    // A message that starts with CRLF has no header section at all.
    if (this.#text.length >= 2 && this.#text.startsWith('\r\n')) return this.#finish(0, chunk.subarray(2 - before));
    const at = this.#text.indexOf('\r\n\r\n', Math.max(0, before - 3));
    if (at >= 0) return this.#finish(at + 2, chunk.subarray(at + 4 - before));
    if (this.#text.length > this.#maxSize) {
      throw new DkimError(`no end of the header section within ${this.#maxSize} octets`, { code: 'ERR_DKIM_HEADER_TOO_LARGE' });
    }
    return new Uint8Array(0);
  }

  /** The message ended: a message without a blank line is all header (RFC 5322 §3.5 allows no body). */
  end(): void {
    if (!this.#done) this.#finish(this.#text.length, new Uint8Array(0));
  }

  #finish(headEnd: number, rest: Uint8Array): Uint8Array {
    this.#done = true;
    this.#head = this.#text.slice(0, headEnd);
    this.#text = '';
    return rest;
  }
}
