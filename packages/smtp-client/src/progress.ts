import type { SendOptions } from './types.js';

/**
 * How far a transaction got into its body, recorded by the session as it writes:
 * - `started`: body octets were written, or the end of data was;
 * - `endWritten`: the end of data went out (`.` after DATA, `BDAT n LAST`), which also covers an
 *   empty body. From then on a failure without a reply leaves the message's fate unknown
 *   (RFC 5321 §4.1.1.4, §6.1).
 * The pool reads it to decide whether a failed send may go to another session.
 */
export interface BodyProgress {
  started: boolean;
  endWritten: boolean;
}

/** `n` body octets are on their way: recorded, then the caller's `onProgress`. */
export function bodyProgress(o: SendOptions, progress: BodyProgress, n: number): void {
  progress.started = true;
  o.onProgress?.(n);
}

/** The end of data is on its way: recorded, then the caller's `onEndOfData`. */
export function bodyEnded(o: SendOptions, progress: BodyProgress): void {
  progress.started = true;
  progress.endWritten = true;
  o.onEndOfData?.();
}
