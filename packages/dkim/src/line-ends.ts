import { Buffer } from 'node:buffer';

const CR = 0x0d;
const LF = 0x0a;
const CRLF = Buffer.from('\r\n', 'latin1');

/**
 * Line ends as the SMTP data path sends them (RFC 5321 §2.3.8): bare CR and bare LF become CRLF, and
 * the message ends with CRLF. Signing hashes exactly these bytes, so DATA (after dot-stuffing is undone
 * by the server) and BDAT deliver what was signed. Any chunking; a CR at the end of a chunk waits for
 * the next one.
 */
export class LineEndNormalizer {
  #pendingCr = false;
  #last = LF; // an empty message needs no final CRLF of its own: end() decides

  #started = false;

  /** The normalized form of `chunk` (the input itself when it needs no change). */
  push(chunk: Uint8Array): Uint8Array {
    if (chunk.length === 0) return chunk;
    this.#started = true;
    if (!this.#pendingCr && isCanonical(chunk)) {
      this.#last = chunk[chunk.length - 1] as number;
      return chunk;
    }
    const out = Buffer.allocUnsafe(chunk.length * 2 + 1);
    let o = 0;
    let i = 0;
    if (this.#pendingCr) {
      out[o++] = CR;
      out[o++] = LF;
      this.#pendingCr = false;
      if (chunk[0] === LF) i = 1;
    }
    for (; i < chunk.length; i++) {
      const b = chunk[i] as number;
      if (b === CR) {
        if (i + 1 === chunk.length) {
          this.#pendingCr = true;
          break;
        }
        out[o++] = CR;
        out[o++] = LF;
        if (chunk[i + 1] === LF) i++;
      } else if (b === LF) {
        out[o++] = CR;
        out[o++] = LF;
      } else out[o++] = b;
    }
    if (o > 0) this.#last = out[o - 1] as number;
    return out.subarray(0, o);
  }

  /** What is left: a pending CR's LF, or the final CRLF a message must end with (RFC 5321 §4.1.1.4). */
  end(): Uint8Array {
    if (this.#pendingCr) {
      this.#pendingCr = false;
      this.#last = LF;
      return CRLF;
    }
    if (this.#started && this.#last !== LF) {
      this.#last = LF;
      return CRLF;
    }
    return new Uint8Array(0);
  }
}

/** True when every CR is followed by LF and every LF follows a CR, within the chunk. */
function isCanonical(chunk: Uint8Array): boolean {
  const b = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (b[b.length - 1] === CR) return false;
  let i = b.indexOf(LF);
  while (i >= 0) {
    if (i === 0 || b[i - 1] !== CR) return false;
    i = b.indexOf(LF, i + 1);
  }
  i = b.indexOf(CR);
  while (i >= 0) {
    if (b[i + 1] !== LF) return false;
    i = b.indexOf(CR, i + 1);
  }
  return true;
}
