import { Buffer } from 'node:buffer';

/**
 * Streaming line-end canonicalisation (RFC 5322 §2.3): bare LF and bare CR become CRLF, CRLF stays.
 * A CR at the end of a chunk is held until the next chunk shows whether LF follows.
 */
export class LineEndCanonicalizer {
  private pendingCr = false;

  push(chunk: Uint8Array): Uint8Array {
    let extra = 0;
    const n = chunk.length;
    // Fast path: count line ends that need an extra octet.
    let prevCr = this.pendingCr;
    for (let i = 0; i < n; i++) {
      const b = chunk[i] as number;
      if (b === 0x0a && !prevCr) extra++;
      else if (prevCr && b !== 0x0a) extra++;
      prevCr = b === 0x0d;
    }
    if (extra === 0 && !this.pendingCr && !prevCr) return chunk;
    const out = Buffer.allocUnsafe(n + extra + 2);
    let o = 0;
    let cr = this.pendingCr;
    for (let i = 0; i < n; i++) {
      const b = chunk[i] as number;
      if (b === 0x0d) {
        if (cr) {
          out[o++] = 0x0d;
          out[o++] = 0x0a;
        }
        cr = true;
        continue;
      }
      if (cr) {
        out[o++] = 0x0d;
        if (b !== 0x0a) out[o++] = 0x0a;
        cr = false;
      } else if (b === 0x0a) out[o++] = 0x0d;
      out[o++] = b;
    }
    this.pendingCr = cr;
    return out.subarray(0, o);
  }

  end(): Uint8Array {
    if (!this.pendingCr) return new Uint8Array(0);
    this.pendingCr = false;
    return Buffer.from('\r\n', 'latin1');
  }
}

/** Canonicalises line ends of a whole buffer. */
export function canonicalizeLineEnds(bytes: Uint8Array): Uint8Array {
  const c = new LineEndCanonicalizer();
  const a = c.push(bytes);
  const b = c.end();
  return b.length === 0 ? a : Buffer.concat([a, b]);
}
