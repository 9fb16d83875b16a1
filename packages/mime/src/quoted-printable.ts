import { Buffer } from 'node:buffer';

const HEX = '0123456789ABCDEF';
const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const TAB = 0x09;
const EQUALS = 0x3d;
const DOT = 0x2e;
const UPPER_F = 0x46;
/** RFC 2045 §6.7 (5): 76 characters per line including the '=' of a soft break, so 75 of content. */
const MAX_CONTENT = 75;

/**
 * Streaming quoted-printable for text (RFC 2045 §6.7). Line breaks in the input (CRLF, bare LF or bare
 * CR) become CRLF hard breaks; lines are soft-broken at 76 characters without splitting an `=XX`;
 * trailing space and tab are encoded (rule 3); and for robustness a '.' or 'F' starting a line is
 * encoded, so no line begins with "." (dot-stuffing, RFC 5321 §4.5.2) or "From " (mbox).
 *
 * @example
 * ```ts
 * const qp = new QuotedPrintableEncoder();
 * const bytes = Buffer.concat([qp.push(Buffer.from('café\n')), qp.end()]); // 'caf=C3=A9\r\n'
 * ```
 */
export class QuotedPrintableEncoder {
  private linePos = 0;
  private pendingWs = -1;
  private pendingCr = false;
  private out: Buffer = Buffer.alloc(0);
  private pos = 0;

  /** Encodes `chunk`; a trailing space, tab or CR is held until the next byte shows what follows it. */
  push(chunk: Uint8Array): Uint8Array {
    // Worst case: every byte becomes =XX, plus a soft break (3 octets) per 25 input bytes, plus held bytes.
    this.out = Buffer.allocUnsafe(chunk.length * 3 + Math.ceil(chunk.length / 25) * 3 + 16);
    this.pos = 0;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i] as number;
      if (this.pendingCr) {
        this.pendingCr = false;
        this.hardBreak();
        if (b === LF) continue;
      }
      if (b === CR) {
        this.flushWs(true);
        this.pendingCr = true;
      } else if (b === LF) {
        this.flushWs(true);
        this.hardBreak();
      } else if (b === SP || b === TAB) {
        this.flushWs(false);
        this.pendingWs = b;
      } else {
        this.flushWs(false);
        if (b >= 33 && b <= 126 && b !== EQUALS) this.literal(b);
        else this.escaped(b);
      }
    }
    return this.out.subarray(0, this.pos);
  }

  /** Flushes held bytes: trailing whitespace is encoded, a final CR becomes CRLF. */
  end(): Uint8Array {
    this.out = Buffer.allocUnsafe(16);
    this.pos = 0;
    this.flushWs(true);
    if (this.pendingCr) {
      this.pendingCr = false;
      this.hardBreak();
    }
    return this.out.subarray(0, this.pos);
  }

  private flushWs(atLineEnd: boolean): void {
    const ws = this.pendingWs;
    if (ws < 0) return;
    this.pendingWs = -1;
    if (atLineEnd) this.escaped(ws);
    else this.literal(ws);
  }

  private room(n: number): void {
    if (this.linePos + n > MAX_CONTENT) {
      this.out[this.pos++] = EQUALS;
      this.out[this.pos++] = CR;
      this.out[this.pos++] = LF;
      this.linePos = 0;
    }
  }

  private literal(b: number): void {
    this.room(1);
    if (this.linePos === 0 && (b === DOT || b === UPPER_F)) {
      this.escaped(b);
      return;
    }
    this.out[this.pos++] = b;
    this.linePos += 1;
  }

  private escaped(b: number): void {
    this.room(3);
    this.out[this.pos++] = EQUALS;
    this.out[this.pos++] = HEX.charCodeAt(b >> 4);
    this.out[this.pos++] = HEX.charCodeAt(b & 15);
    this.linePos += 3;
  }

  private hardBreak(): void {
    this.out[this.pos++] = CR;
    this.out[this.pos++] = LF;
    this.linePos = 0;
  }
}

/**
 * Quoted-printable encoding of text (RFC 2045 §6.7), see {@link QuotedPrintableEncoder} for the rules.
 * A string is encoded as UTF-8.
 *
 * @example
 * ```ts
 * encodeQuotedPrintable('naïve = 1 \n'); // 'na=C3=AFve =3D 1=20\r\n'
 * ```
 */
export function encodeQuotedPrintable(input: string | Uint8Array): string {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  const qp = new QuotedPrintableEncoder();
  const a = Buffer.from(qp.push(bytes));
  return a.toString('latin1') + Buffer.from(qp.end()).toString('latin1');
}

/** Streaming variant of {@link encodeQuotedPrintable}. */
export async function* quotedPrintableStream(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const qp = new QuotedPrintableEncoder();
  for await (const chunk of source) {
    const out = qp.push(chunk);
    if (out.length > 0) yield out;
  }
  const tail = qp.end();
  if (tail.length > 0) yield tail;
}
