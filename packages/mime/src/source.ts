import { Buffer } from 'node:buffer';
import { MimeError } from './errors.js';

/** A stream of bytes: an iterable, an async iterable (a Node `Readable`), or a web ReadableStream. */
export type ByteStream = Iterable<Uint8Array> | AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>;

/**
 * Attachment content: bytes, a string (UTF-8), a stream of bytes, or a function opening a fresh stream of
 * the same bytes on every call (`() => createReadStream(path)`), which keeps the message reusable.
 */
export type ContentSource = string | Uint8Array | ByteStream | (() => ByteStream);

/** A content source made uniform: how to read it, whether it can be read twice, its size if known. */
export interface OpenableSource {
  open(): AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
  reusable: boolean;
  size: number | undefined;
  /** The whole content, when it was given in memory (a string or bytes). */
  bytes?: Uint8Array;
}

/** Views (no copies) of at most this many octets, so a huge buffer is encoded a piece at a time. */
const SLICE = 1024 * 1024;

function* slices(bytes: Uint8Array): Generator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += SLICE) yield bytes.subarray(i, i + SLICE);
}

function toBytes(chunk: unknown, field: string): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  throw new MimeError(`${field}: a content stream yielded ${typeof chunk}, expected Uint8Array`, { code: 'ERR_MIME_INVALID_CONTENT', field });
}

async function* fromWebStream(stream: ReadableStream<Uint8Array>, field: string): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield toBytes(value, field);
    }
  } finally {
    reader.releaseLock();
  }
}

async function* checked(source: AsyncIterable<unknown> | Iterable<unknown>, field: string): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) yield toBytes(chunk, field);
}

/** A stream returned by a content function, read as bytes. */
function fromStream(stream: ByteStream, field: string): AsyncIterable<Uint8Array> {
  if (typeof stream === 'object' && stream !== null) {
    if (Symbol.asyncIterator in stream || Symbol.iterator in stream) return checked(stream as AsyncIterable<unknown>, field);
    if (typeof (stream as ReadableStream<Uint8Array>).getReader === 'function') return fromWebStream(stream as ReadableStream<Uint8Array>, field);
  }
  throw new MimeError(`${field}: the content function returned ${typeof stream}, expected a stream of Uint8Array`, { code: 'ERR_MIME_INVALID_CONTENT', field });
}

/** Wraps any accepted content in an {@link OpenableSource}. */
export function toOpenable(content: ContentSource, field: string, declaredSize?: number): OpenableSource {
  if (typeof content === 'string' || content instanceof Uint8Array) {
    const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    return { open: () => slices(bytes), reusable: true, size: bytes.length, bytes };
  }
  if (declaredSize !== undefined && (!Number.isSafeInteger(declaredSize) || declaredSize < 0)) {
    throw new MimeError(`${field}: size must be a non-negative integer`, { code: 'ERR_MIME_INVALID_OPTION', field });
  }
  if (typeof content === 'function') {
    return { open: () => fromStream(content(), field), reusable: true, size: declaredSize };
  }
  if (typeof content === 'object' && content !== null) {
    if (Array.isArray(content)) {
      const chunks = content as Uint8Array[];
      const size = chunks.reduce((n, c) => n + (c instanceof Uint8Array ? c.length : NaN), 0);
      return { open: () => checked(chunks, field), reusable: true, size: Number.isNaN(size) ? declaredSize : size };
    }
    if (Symbol.asyncIterator in content) {
      return { open: () => checked(content as AsyncIterable<unknown>, field), reusable: false, size: declaredSize };
    }
    if (typeof (content as unknown as ReadableStream<Uint8Array>).getReader === 'function') {
      return { open: () => fromWebStream(content as unknown as ReadableStream<Uint8Array>, field), reusable: false, size: declaredSize };
    }
    if (Symbol.iterator in content) {
      return { open: () => checked(content as Iterable<unknown>, field), reusable: false, size: declaredSize };
    }
  }
  throw new MimeError(`${field}: content must be a string, Uint8Array, iterable or stream of Uint8Array`, { code: 'ERR_MIME_INVALID_CONTENT', field });
}
