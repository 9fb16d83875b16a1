import { Buffer } from 'node:buffer';

const LF = 0x0a;

/** One step of {@link LineReader.push}; `rest` is what follows the line in the chunk. */
export type LineStep =
  | { kind: 'line'; line: Buffer; rest: Uint8Array }
  | { kind: 'too-long'; length: number; rest: Uint8Array }
  | { kind: 'more'; rest: Uint8Array };

/**
 * Frames command lines, bounded (RFC 5321 §4.5.3.1.4): a line over the limit is dropped as it
 * arrives, never buffered, and reported once its LF comes. A line may arrive over any number of
 * chunks; each call reads up to the first LF of its chunk.
 */
export class LineReader {
  #pieces: Buffer[] = [];
  #length = 0;
  #discarding = false;

  /**
   * Reads the next line, `max` octets at most, its line ending included. A complete line comes
   * with its line ending; a line over `max` with the octets counted until it went over.
   */
  push(chunk: Uint8Array, max: number): LineStep {
    const lf = chunk.indexOf(LF);
    const end = lf === -1 ? chunk.length : lf + 1;
    if (!this.#discarding) {
      if (this.#length + end > max) {
        this.#discarding = true;
        this.#pieces = [];
      } else {
        this.#pieces.push(Buffer.from(chunk.subarray(0, end)));
      }
      this.#length += end;
    }
    if (lf === -1) return { kind: 'more', rest: chunk.subarray(chunk.length) };
    const length = this.#length;
    const pieces = this.#pieces;
    this.#pieces = [];
    this.#length = 0;
    if (this.#discarding) {
      this.#discarding = false;
      return { kind: 'too-long', length, rest: chunk.subarray(end) };
    }
    return { kind: 'line', line: Buffer.concat(pieces), rest: chunk.subarray(end) };
  }
}

/** `AUTH PLAIN ***`: mechanism kept, payloads masked, so that a logged line holds no secret. */
export function maskAuth(text: string): string {
  const m = /^(auth +\S+)( .*)?$/i.exec(text);
  return m ? `${m[1]}${m[2] === undefined ? '' : ' ***'}` : '***';
}
