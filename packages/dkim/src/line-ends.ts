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
  #last = LF;
  #started = false; // an empty message needs no final CRLF of its own

  /** The normalized form of `chunk` (the input itself when it needs no change). */
  push(chunk: Uint8Array): Uint8Array {
    if (chunk.length === 0) return chunk;
    this.#started = true;
    let from = 0;
    let to = chunk.length;
    const prefix = this.#pendingCr;
    if (prefix) {
      this.#pendingCr = false;
      if (chunk[0] === LF) from = 1;
    }
    // A CR at the end waits for the next chunk, which says whether it is a line end of its own.
    if (chunk[to - 1] === CR) {
      this.#pendingCr = true;
      to--;
    }
    const body = chunk.subarray(from, to);
    let out = isCanonical(body) ? body : rewrite(body);
    if (prefix) out = Buffer.concat([CRLF, out]);
    if (out.length > 0) this.#last = out[out.length - 1] as number;
    return out;
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

/** Bare CR and bare LF become CRLF (the input does not end with CR). */
function rewrite(chunk: Uint8Array): Uint8Array {
  const out = Buffer.allocUnsafe(chunk.length * 2);
  let o = 0;
  for (let i = 0; i < chunk.length; i++) {
    const b = chunk[i] as number;
    if (b === CR || b === LF) {
      out[o++] = CR;
      out[o++] = LF;
      if (b === CR && chunk[i + 1] === LF) i++;
    } else out[o++] = b;
  }
  return out.subarray(0, o);
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
