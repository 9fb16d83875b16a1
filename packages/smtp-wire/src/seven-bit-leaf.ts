import { Buffer, isAscii } from 'node:buffer';
import type { MimeHead } from './mime-head.js';
import { unconvertible, type ContentSink } from './transfer-encoders.js';

/** A part's first octets looked at to choose quoted-printable or base64, at most (bounded memory). */
export const DOWNGRADE_SAMPLE = 4096;

/** How a line ended: not at all (the end of the message), with a bare LF, or with CRLF. */
export type Eol = 0 | 1 | 2;
export const NO_EOL: Eol = 0;
export const BARE_LF: Eol = 1;
export const CRLF: Eol = 2;

/** Writes a leaf part's header for the encoding chosen (undefined: copied as it is); returns the sink for its content. */
export type LeafStart = (encoding: 'quoted-printable' | 'base64' | undefined) => ContentSink;

/**
 * A leaf part's content: held until {@link DOWNGRADE_SAMPLE} octets (or the part's end) are in, then the
 * encoding is chosen and the part's header written, and everything goes straight to its encoder.
 */
export class LeafPart implements ContentSink {
  readonly #head: MimeHead;
  readonly #start: LeafStart;
  /** Held content: octets, and line breaks. */
  #held: Array<Buffer | Eol> = [];
  #heldBytes = 0;
  #target: ContentSink | undefined;

  constructor(head: MimeHead, start: LeafStart) {
    this.#head = head;
    this.#start = start;
  }

  data(b: Uint8Array, start: number, end: number): void {
    if (this.#target) return this.#target.data(b, start, end);
    this.#held.push(Buffer.from(b.subarray(start, end)));
    this.#heldBytes += end - start;
    if (this.#heldBytes >= DOWNGRADE_SAMPLE) this.#decide();
  }

  eol(crlf: boolean): void {
    if (this.#target) return this.#target.eol(crlf);
    this.#held.push(crlf ? CRLF : BARE_LF);
    this.#heldBytes += 2;
    if (this.#heldBytes >= DOWNGRADE_SAMPLE) this.#decide();
  }

  finish(): void {
    if (!this.#target) this.#decide();
    (this.#target as ContentSink).finish();
  }

  #decide(): void {
    const encoding = chooseEncoding(this.#head, this.#held);
    const target = this.#start(encoding);
    this.#target = target;
    const held = this.#held;
    this.#held = [];
    for (const piece of held) {
      if (typeof piece === 'number') target.eol(piece === CRLF);
      else target.data(piece, 0, piece.length);
    }
  }
}

/**
 * How a leaf part travels 7-bit: undefined to copy it (it is 7-bit already), else the encoding. A part
 * declared 8bit or binary is converted, and so is one left at 7bit whose sample has 8-bit octets; text
 * goes as quoted-printable unless base64 of the sample is over 20% smaller (the rule @smtpkit/mime
 * builds by), anything else as base64. An already encoded part with 8-bit octets is refused.
 */
function chooseEncoding(head: MimeHead, sample: ReadonlyArray<Buffer | Eol>): 'quoted-printable' | 'base64' | undefined {
  let octets = 0;
  let escaped = 0;
  for (const piece of sample) {
    if (typeof piece === 'number') {
      octets += 2;
      continue;
    }
    octets += piece.length;
    for (let i = 0; i < piece.length; i++) {
      const c = piece[i] as number;
      if (c >= 0x7f || (c < 0x20 && c !== 0x09) || c === 0x3d) escaped++;
    }
  }
  const declared = head.encoding;
  const sevenBit = declared === '7bit';
  const eightBitSeen = sample.some((p) => typeof p !== 'number' && !isAscii(p));
  if (!(declared === '8bit' || declared === 'binary' || (sevenBit && eightBitSeen))) {
    if (eightBitSeen) throw unconvertible(`a part declared ${declared}`);
    return undefined;
  }
  if (head.type !== 'text') return 'base64';
  // Quoted-printable stays readable unless base64 is clearly (over 20%) smaller.
  return (octets + 2 * escaped) * 0.8 > Math.ceil(octets / 3) * 4 ? 'base64' : 'quoted-printable';
}
