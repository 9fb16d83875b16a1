import { Buffer, isAscii } from 'node:buffer';
import { createHash } from 'node:crypto';
import type { Canonicalization } from './canonicalize.js';
import { createBodyCanonicalizer } from './canonicalize.js';
import type { BodyCanonicalizer } from './canonicalize.js';
import { DkimError } from './errors.js';
import { HeaderSplitter, parseHeaderFields } from './header-section.js';
import type { HeaderField } from './header-section.js';
import { LineEndNormalizer } from './line-ends.js';

/** What one pass over a message leaves: its header fields and fingerprints; never its body. */
export interface MessageDigest {
  fields: HeaderField[];
  /** Body hash per canonicalization asked for, with the canonical body length (for `l=`). */
  bodyHashes: Map<Canonicalization, { hash: Buffer; length: number }>;
  /** Octets of the CRLF-normalized message. */
  size: number;
  /** SHA-256 of the CRLF-normalized message: the second pass must reproduce it. */
  digest: Buffer;
}

/** Options of {@link MessageHasher}. */
export interface MessageHasherOptions {
  modes: Iterable<Canonicalization>;
  maxHeaderSize: number;
  /** Refuse a body holding octets over 127 (RFC 6376 §5.3: a relay's 8bit→7bit conversion breaks the signature). */
  sevenBit: boolean;
}

/**
 * One streaming pass: line ends normalized as they will be sent, the header section kept (bounded),
 * the body canonicalized into one SHA-256 per mode, and the whole normalized message fingerprinted.
 */
export class MessageHasher {
  readonly #normalizer = new LineEndNormalizer();
  readonly #splitter: HeaderSplitter;
  readonly #bodies = new Map<Canonicalization, { hash: ReturnType<typeof createHash>; body: BodyCanonicalizer }>();
  readonly #digest = createHash('sha256');
  readonly #sevenBit: boolean;
  #size = 0;

  constructor(options: MessageHasherOptions) {
    this.#splitter = new HeaderSplitter(options.maxHeaderSize);
    this.#sevenBit = options.sevenBit;
    for (const mode of options.modes) {
      if (this.#bodies.has(mode)) continue;
      const hash = createHash('sha256');
      this.#bodies.set(mode, { hash, body: createBodyCanonicalizer(mode, hash) });
    }
  }

  /** Feeds raw message bytes; returns them normalized (what is hashed, and what is to be sent). */
  push(chunk: Uint8Array): Uint8Array {
    const out = this.#normalizer.push(chunk);
    if (out.length > 0) this.#take(out);
    return out;
  }

  /** Ends the message; returns the bytes still to send (a final CRLF, if the message lacked one) and the digest. */
  end(): { tail: Uint8Array; digest: MessageDigest } {
    const tail = this.#normalizer.end();
    if (tail.length > 0) this.#take(tail);
    this.#splitter.end();
    const bodyHashes = new Map<Canonicalization, { hash: Buffer; length: number }>();
    for (const [mode, { hash, body }] of this.#bodies) {
      const length = body.end();
      bodyHashes.set(mode, { hash: hash.digest(), length });
    }
    return {
      tail,
      digest: { fields: parseHeaderFields(this.#splitter.head), bodyHashes, size: this.#size, digest: this.#digest.digest() },
    };
  }

  #take(bytes: Uint8Array): void {
    this.#digest.update(bytes);
    this.#size += bytes.length;
    const body = this.#splitter.push(bytes);
    if (body.length === 0) return;
    if (this.#sevenBit && !isAscii(body)) {
      throw new DkimError('the body holds 8-bit octets: a relay converting it to 7-bit breaks the signature (RFC 6376 §5.3); encode it as quoted-printable or base64, or set allow8bit', {
        code: 'ERR_DKIM_8BIT_BODY',
      });
    }
    for (const entry of this.#bodies.values()) entry.body.push(body);
  }
}

/** Views of at most 1 MiB, so a big buffer is normalized a piece at a time. */
export function* slices(bytes: Uint8Array): Generator<Uint8Array> {
  const SLICE = 1 << 20;
  for (let i = 0; i < bytes.length; i += SLICE) yield bytes.subarray(i, i + SLICE);
}

/** A chunk as bytes (strings are UTF-8), or a clear refusal. */
export function toBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  throw new DkimError(`a message source yielded ${typeof chunk}, expected Uint8Array`, { code: 'ERR_DKIM_INVALID_CONTENT' });
}
