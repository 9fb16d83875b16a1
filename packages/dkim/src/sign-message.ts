import { Buffer } from 'node:buffer';
import { DEFAULT_MAX_HEADER_SIZE } from './constants.js';
import { DkimError } from './errors.js';
import { MessageHasher, slices, toBytes } from './message-hasher.js';
import type { MessageDigest } from './message-hasher.js';
import { createSigner } from './signer.js';
import type { DkimSigner, DkimSignerOptions } from './signer.js';

/** A message that can be read more than once: a `BuiltMessage` of `@smtpkit/mime` is one. */
export interface ReusableSource {
  stream(): AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
  /** `false` means a second `stream()` fails: spool such a message first. */
  readonly reusable?: boolean;
  /** `true` when the source says its body is 8-bit (mime's `eightBit`). */
  readonly eightBit?: boolean;
}

/**
 * What {@link signMessage} signs: bytes or a string in memory, a {@link ReusableSource}, or a function
 * returning a fresh stream of the same bytes on every call.
 */
export type SignSource = string | Uint8Array | ReusableSource | (() => AsyncIterable<Uint8Array> | Iterable<Uint8Array>);

/** Options of {@link signMessage}. */
export interface SignMessageOptions {
  /** One or more signatures, each added on top of the message in this order (see `dual`). */
  signers: DkimSignerOptions | DkimSigner | ReadonlyArray<DkimSignerOptions | DkimSigner>;
  /**
   * Sign an 8-bit body. Off by default: a relay that converts 8bit to quoted-printable (RFC 6152 §3)
   * breaks the body hash (RFC 6376 §5.3).
   */
  allow8bit?: boolean;
  /** Largest header section kept while hashing (default 1 MiB). */
  maxHeaderSize?: number;
}

/** A signed message: its DKIM-Signature fields, then the source's bytes, streamed again. */
export interface SignedMessage extends AsyncIterable<Uint8Array> {
  /** The DKIM-Signature fields put on top, CRLF-terminated. */
  readonly signatures: string;
  /** Exact size in octets of what {@link stream} yields. */
  readonly size: number;
  /** Always true: every {@link stream} reads the source again and checks it did not change. */
  readonly reusable: true;
  /**
   * The signed message: the signature fields, then a second pass over the source, normalized as it was
   * signed. The last chunk is held back until the second pass is known to equal the first; if it does
   * not, iteration throws `ERR_DKIM_SOURCE_CHANGED` instead, so an SMTP client never ends the data.
   */
  stream(): AsyncIterable<Uint8Array>;
  toBuffer(): Promise<Uint8Array>;
}

function isSigner(s: DkimSignerOptions | DkimSigner): s is DkimSigner {
  return typeof (s as DkimSigner).sign === 'function';
}

function opener(source: SignSource): () => AsyncIterable<unknown> | Iterable<unknown> {
  if (typeof source === 'string') {
    const bytes = Buffer.from(source, 'utf8');
    return () => slices(bytes);
  }
  if (source instanceof Uint8Array) return () => slices(source);
  if (typeof source === 'function') return source;
  if (typeof source === 'object' && source !== null && typeof (source as ReusableSource).stream === 'function') {
    const s = source as ReusableSource;
    if (s.reusable === false) {
      throw new DkimError('the message reads a one-shot stream and cannot be read twice; spool it first (bytes, or a function opening the same bytes again)', {
        code: 'ERR_DKIM_SOURCE_NOT_REUSABLE',
      });
    }
    return () => s.stream();
  }
  if (typeof source === 'object' && source !== null && (Symbol.asyncIterator in source || Symbol.iterator in source)) {
    throw new DkimError('a stream can be read only once and signing reads the message twice; pass bytes, a reusable message, or a function opening the stream', {
      code: 'ERR_DKIM_SOURCE_NOT_REUSABLE',
    });
  }
  throw new DkimError('the message must be a string, bytes, a reusable message or a function returning a stream', { code: 'ERR_DKIM_INVALID_CONTENT' });
}

async function hashPass(open: () => AsyncIterable<unknown> | Iterable<unknown>, signers: readonly DkimSigner[], options: SignMessageOptions): Promise<MessageDigest> {
  const hasher = new MessageHasher({
    modes: signers.map((s) => s.body),
    maxHeaderSize: options.maxHeaderSize ?? DEFAULT_MAX_HEADER_SIZE,
    sevenBit: options.allow8bit !== true,
  });
  for await (const chunk of open()) hasher.push(toBytes(chunk));
  return hasher.end().digest;
}

function changed(): DkimError {
  return new DkimError('the message changed between the signing pass and the sending pass; nothing was completed (the source must yield the same bytes every time)', {
    code: 'ERR_DKIM_SOURCE_CHANGED',
  });
}

async function* sendPass(open: () => AsyncIterable<unknown> | Iterable<unknown>, header: Buffer, first: MessageDigest, maxHeaderSize: number): AsyncGenerator<Uint8Array> {
  yield header;
  // Only the fingerprint is recomputed: normalization is the same code as in the first pass.
  const hasher = new MessageHasher({ modes: [], maxHeaderSize, sevenBit: false });
  let held: Uint8Array | undefined;
  for await (const chunk of open()) {
    const out = hasher.push(toBytes(chunk));
    if (out.length === 0) continue;
    if (held) yield held;
    held = out;
  }
  const { tail, digest } = hasher.end();
  if (digest.size !== first.size || !digest.digest.equals(first.digest)) throw changed();
  if (held && tail.length > 0) yield Buffer.concat([held, tail]);
  else if (held || tail.length > 0) yield held ?? tail;
}

/**
 * Signs a message with one or more DKIM signatures (RFC 6376, RFC 8463) in bounded memory: a first
 * pass hashes it (keeping only the header section), the signatures are computed, and the result
 * streams the message again behind them. Nothing is sent unsigned: every problem is a {@link DkimError},
 * thrown here or, if the source changes, by the second pass before its last chunk.
 *
 * @example
 * ```ts
 * const signed = await signMessage(message, { signers: [{ domain: 'example.com', selector: 'mail', privateKey: pem }] });
 * await session.send({ ...message.envelope, data: signed, size: signed.size });
 * ```
 */
export async function signMessage(source: SignSource, options: SignMessageOptions): Promise<SignedMessage> {
  if (typeof options !== 'object' || options === null) {
    throw new DkimError('signMessage needs options with signers', { code: 'ERR_DKIM_INVALID_OPTION', field: 'signers' });
  }
  const given = Array.isArray(options.signers) ? options.signers : [options.signers];
  if (given.length === 0) throw new DkimError('signers: at least one signer is needed', { code: 'ERR_DKIM_INVALID_OPTION', field: 'signers' });
  const signers = given.map((s: DkimSignerOptions | DkimSigner, i) => (isSigner(s) ? s : createSigner(s, `signers[${i}]`)));
  if (options.allow8bit !== true && typeof source === 'object' && source !== null && (source as ReusableSource).eightBit === true) {
    throw new DkimError('the message has 8bit or binary parts: a relay converting them breaks the signature (RFC 6376 §5.3); build it 7-bit or set allow8bit', {
      code: 'ERR_DKIM_8BIT_BODY',
    });
  }
  const open = opener(source);
  const first = await hashPass(open, signers, options);
  if (!first.fields.some((f) => f.name === 'from')) {
    throw new DkimError('the message has no From field, which every signature must cover (RFC 6376 §5.4)', { code: 'ERR_DKIM_NO_FROM' });
  }
  let signatures = '';
  for (const signer of signers) {
    const body = first.bodyHashes.get(signer.body) as { hash: Buffer; length: number };
    signatures += signer.sign(first.fields, body.hash, body.length);
  }
  const header = Buffer.from(signatures, 'latin1');
  const stream = (): AsyncIterable<Uint8Array> => sendPass(open, header, first, options.maxHeaderSize ?? DEFAULT_MAX_HEADER_SIZE);
  return {
    signatures,
    size: header.length + first.size,
    reusable: true,
    stream,
    toBuffer: async () => {
      const parts: Uint8Array[] = [];
      for await (const c of stream()) parts.push(c);
      return Buffer.concat(parts);
    },
    [Symbol.asyncIterator]: () => stream()[Symbol.asyncIterator](),
  };
}
