import { Buffer } from 'node:buffer';
import { inputError } from './errors.js';

/** Anything a message body can be given as; a Node `Readable` is an `AsyncIterable<Uint8Array>`. */
export type BodySource = string | Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

/**
 * Turns any {@link BodySource} into an async iterable of byte chunks (strings become UTF-8).
 * @throws {SmtpError} kind `input` (while iterating) for anything that is not text or bytes.
 */
export async function* toChunks(body: BodySource): AsyncIterable<Uint8Array> {
  if (typeof body === 'string') {
    if (body.length > 0) yield Buffer.from(body, 'utf8');
    return;
  }
  if (body instanceof Uint8Array) {
    if (body.length > 0) yield body;
    return;
  }
  if (body !== null && typeof body === 'object') {
    const iterable = body as Partial<AsyncIterable<unknown>> & Partial<Iterable<unknown>>;
    if (typeof iterable[Symbol.asyncIterator] === 'function' || typeof iterable[Symbol.iterator] === 'function') {
      for await (const chunk of body as AsyncIterable<unknown>) {
        if (chunk instanceof Uint8Array) {
          if (chunk.length > 0) yield chunk;
        } else if (typeof chunk === 'string') {
          if (chunk.length > 0) yield Buffer.from(chunk, 'utf8');
        } else {
          throw inputError(`body chunks must be Uint8Array or string, got ${typeof chunk}`);
        }
      }
      return;
    }
  }
  throw inputError('body must be a string, a Uint8Array, or an (async) iterable of Uint8Array');
}
