import { SmtpError, type BodySource } from '@smtpkit/wire';

/** A message body `deliver()` can read once per transaction it tries. */
export interface DataSupply {
  /** The body for the next transaction. */
  next(): BodySource;
  /** False when the body was a one-shot stream already (partly) consumed: no further attempt can send it. */
  readonly canRetry: boolean;
}

function isRereadable(data: unknown): boolean {
  return typeof data === 'string' || data instanceof Uint8Array || Array.isArray(data);
}

function notRereadable(message: string): SmtpError {
  return new SmtpError(message, {
    kind: 'input',
    code: 'ERR_SMTP_DATA_NOT_REREADABLE',
    retryable: false,
    hint: 'pass the message as a string or Uint8Array, or as a function returning a fresh stream for each transaction',
  });
}

/**
 * Wraps the `data` option of `deliver()`. Strings, byte arrays and arrays of chunks are reused as is;
 * a function is called for a fresh source per transaction. A one-shot stream (a generator, a Node
 * Readable) can feed only one transaction: with recipients in several domains that is an input
 * error, found before anything is sent.
 */
export function dataSupply(data: BodySource | (() => BodySource), transactions: number): DataSupply {
  if (typeof data === 'function') {
    return {
      next: () => {
        const fresh = data();
        if (fresh === undefined || fresh === null) throw notRereadable('the data function returned no body');
        return fresh;
      },
      canRetry: true,
    };
  }
  if (isRereadable(data)) return { next: () => data, canRetry: true };
  if (transactions > 1) {
    throw notRereadable(
      `the recipients span ${transactions} domains (one transaction each), but data is a one-shot stream that can be read only once`,
    );
  }
  let started = false;
  const tracked: BodySource =
    Symbol.asyncIterator in (data as object)
      ? (async function* () {
          started = true;
          yield* data as AsyncIterable<Uint8Array>;
        })()
      : (function* () {
          started = true;
          yield* data as Iterable<Uint8Array>;
        })();
  let handedOut = false;
  return {
    next: () => {
      if (handedOut && started) throw notRereadable('data is a one-shot stream that was already read by an earlier attempt');
      handedOut = true;
      return tracked;
    },
    get canRetry() {
      return !started;
    },
  };
}
