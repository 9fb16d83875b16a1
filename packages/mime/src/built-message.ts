import { Buffer } from 'node:buffer';
import { MimeError } from './errors.js';

/** The SMTP envelope implied by a message: MAIL FROM and every RCPT TO (Bcc included). */
export interface MessageEnvelope {
  from: string;
  to: string[];
}

/**
 * A message ready to send: an async iterable of its bytes (CRLF line ends, lines ≤ 998 octets unless
 * `binary`), plus what a transport needs to know about it.
 */
export interface BuiltMessage extends AsyncIterable<Uint8Array> {
  /** `<id@domain>` as written in the Message-ID header ('' when a raw message has none). */
  readonly messageId: string;
  /** Envelope sender and recipients (To, Cc and Bcc, deduplicated). */
  readonly envelope: MessageEnvelope;
  /** Exact size in octets when every content's size is known up front, else undefined. */
  readonly size: number | undefined;
  /** True when an address needs SMTPUTF8 (RFC 6531). */
  readonly needsSmtputf8: boolean;
  /** True when a part is `8bit` or `binary`: send with BODY=8BITMIME (RFC 6152) or BINARYMIME. */
  readonly eightBit: boolean;
  /** True when a part is `binary`: send with BODY=BINARYMIME and BDAT (RFC 3030). */
  readonly binary: boolean;
  /** True when {@link stream} may be called more than once. */
  readonly reusable: boolean;
  /**
   * The whole message, when it is held in memory: a raw message given as bytes, or a built one whose parts
   * were all given in memory and which is at most {@link WHOLE_MESSAGE_LIMIT} octets. A transport can take
   * it in one piece, synchronously. Undefined when the message must be read: use {@link stream} or {@link toBuffer}.
   */
  readonly bytes?: Uint8Array;
  /** The message bytes, read lazily. A second call throws `ERR_MIME_ALREADY_CONSUMED` unless `reusable`. */
  stream(): AsyncIterable<Uint8Array>;
  /** The whole message in memory (for small messages). */
  toBuffer(): Promise<Uint8Array>;
  /** The whole message as a string (UTF-8). */
  toString(): Promise<string>;
}

/** What {@link createBuiltMessage} needs: the facts and a factory for the byte stream. */
export interface BuiltMessageInit {
  messageId: string;
  envelope: MessageEnvelope;
  size: number | undefined;
  needsSmtputf8: boolean;
  eightBit: boolean;
  binary: boolean;
  reusable: boolean;
  /** The whole message in memory (then it is the only chunk {@link BuiltMessage.stream} yields). */
  bytes?: Uint8Array;
  /** Opens the byte stream of a message without `bytes`. */
  open?: () => AsyncIterable<Uint8Array>;
  /** Writes the whole message into one Buffer synchronously, when its contents are all in memory. */
  write?: () => Uint8Array;
}

/** A built message up to this many octets, all of it in memory, is written at build time and offered as `bytes`. */
export const WHOLE_MESSAGE_LIMIT = 1024 * 1024;

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

/** Reads a stream into one Buffer, allocated once when the size is known up front. */
async function collect(stream: AsyncIterable<Uint8Array>, size: number | undefined): Promise<Uint8Array> {
  if (size === undefined) {
    const chunks: Uint8Array[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    return Buffer.concat(chunks);
  }
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for await (const chunk of stream) {
    if (at + chunk.length > size) break;
    out.set(chunk, at);
    at += chunk.length;
  }
  if (at !== size) throw new MimeError(`the message did not come out at its computed size ${size}`, { code: 'ERR_MIME_SIZE_MISMATCH' });
  return out;
}

/** Wraps a message's bytes, or a byte-stream factory, as a {@link BuiltMessage}, enforcing single use of one-shot sources. */
export function createBuiltMessage(init: BuiltMessageInit): BuiltMessage {
  const { bytes, open, write } = init;
  if (bytes === undefined && open === undefined) throw new TypeError('createBuiltMessage needs bytes or open');
  let consumed = false;
  const stream = (): AsyncIterable<Uint8Array> => {
    if (bytes !== undefined) return once(bytes);
    if (consumed && !init.reusable) {
      throw new MimeError('this message reads a one-shot stream and was already streamed; build it again to send it again', {
        code: 'ERR_MIME_ALREADY_CONSUMED',
      });
    }
    consumed = true;
    return (open as () => AsyncIterable<Uint8Array>)();
  };
  const toBuffer = async (): Promise<Uint8Array> => bytes ?? write?.() ?? collect(stream(), init.size);
  return {
    messageId: init.messageId,
    envelope: { from: init.envelope.from, to: [...init.envelope.to] },
    size: init.size,
    needsSmtputf8: init.needsSmtputf8,
    eightBit: init.eightBit,
    binary: init.binary,
    reusable: init.reusable,
    bytes,
    stream,
    toBuffer,
    toString: async () => Buffer.from(await toBuffer()).toString('utf8'),
    [Symbol.asyncIterator]: () => stream()[Symbol.asyncIterator](),
  };
}
