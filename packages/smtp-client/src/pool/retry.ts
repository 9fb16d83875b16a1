import { isSmtpError, SmtpError } from '@smtpkit/wire';
import type { BodyProgress } from '../progress.js';
import { unusableError } from '../errors.js';
import type { SendOptions, Session } from '../types.js';

/** What is known about a failed attempt. */
export interface AttemptFacts {
  /** The body started going out: see {@link BodyWatch.started}. */
  bodyStarted: boolean;
  /** Connection-level failures already charged to this send. */
  failures: number;
  /** Whether the session is still usable after the failure. */
  usable: boolean;
}

/**
 * A {@link BodyProgress} kept from the send's `onProgress` and `onEndOfData` hooks (see {@link watched}),
 * for a session that does not report it itself:
 * - `started`: body octets were written, or the end of data was;
 * - `endWritten`: the end of data went out (`.` after DATA, `BDAT n LAST`), which also covers an
 *   empty body. From then on a failure without a reply leaves the message's fate unknown.
 */
export class BodyWatch implements BodyProgress {
  started = false;
  endWritten = false;

  /** `onProgress` hook. */
  progress(): void {
    this.started = true;
  }

  /** `onEndOfData` hook. */
  endOfData(): void {
    this.started = true;
    this.endWritten = true;
  }
}

/** `options` with hooks that tell `watch` how far the send got; the caller's own hooks still run. */
export function watched(options: SendOptions, watch: BodyWatch): SendOptions {
  const userProgress = options.onProgress;
  const userEnd = options.onEndOfData;
  // Copied, then the hooks set: V8 keeps one hidden class for every copy this way, where properties
  // added to an object made by spread cost a new one each time (this runs for every message).
  const copy: SendOptions = Object.assign({}, options);
  copy.onProgress = (n) => {
    watch.progress();
    userProgress?.(n);
  };
  copy.onEndOfData = () => {
    watch.endOfData();
    userEnd?.();
  };
  return copy;
}

/**
 * True when a failed send may still have been delivered: the end of data went out and no reply
 * came (reset, timeout, garbage, abort). RFC 5321 §4.1.1.4 / §6.1: the server takes responsibility
 * when it accepts the end of data, and the client cannot know whether that happened.
 */
export function mayHaveBeenDelivered(error: unknown, endWritten: boolean): boolean {
  if (!endWritten) return false;
  // A reply settles it: the server said what happened to the message.
  return !(isSmtpError(error) && error.replyCode !== undefined);
}

/**
 * The error for a send whose outcome is unknown (see {@link mayHaveBeenDelivered}): code
 * `ERR_SMTP_OUTCOME_UNKNOWN`, the original kind, `retryable: false` (resending could deliver the
 * message twice), the original error as `cause`.
 */
export function outcomeUnknown(error: unknown): SmtpError {
  const original = isSmtpError(error) ? error : undefined;
  const reason = error instanceof Error ? error.message : String(error);
  return new SmtpError(`the message may have been delivered: no reply to the end of data (${reason})`, {
    kind: original?.kind ?? 'connection',
    code: 'ERR_SMTP_OUTCOME_UNKNOWN',
    retryable: false,
    ...(original?.command !== undefined ? { command: original.command } : {}),
    hint: 'the whole message was sent but its reply never came; resending could deliver it twice',
    cause: error,
  });
}

/**
 * Whether a failed send may be retried once on another session: only when the session died at
 * connection level (connect failure, reset, timeout, 421) before the body started, and the send
 * was not retried already. Everything else is reported to the caller as is.
 */
export function retryDecision(error: unknown, facts: AttemptFacts): 'retry' | 'fail' {
  if (facts.failures >= 1 || facts.usable || facts.bodyStarted) return 'fail';
  if (!isSmtpError(error) || !error.retryable) return 'fail';
  const connectionLevel = error.kind === 'connection' || error.kind === 'timeout' || error.replyCode === 421;
  return connectionLevel ? 'retry' : 'fail';
}

/** The liveness check before reuse (RSET or NOOP): why the session cannot be reused, or undefined. */
export async function checkSession(session: Session, command: 'RSET' | 'NOOP'): Promise<SmtpError | undefined> {
  try {
    await (command === 'NOOP' ? session.noop() : session.reset());
    return session.usable ? undefined : unusableError();
  } catch (error) {
    return isSmtpError(error) ? error : unusableError(error);
  }
}

/**
 * A send queued behind the one that killed its session: nothing of its own went out, or only its envelope,
 * written ahead after the previous end of data (RFC 2920 §3.1), which the server drops with the connection.
 * Not its fault: it goes back to the queue uncharged.
 */
export function queuedBehindFailure(error: unknown, progress: BodyProgress, session: Session): boolean {
  return !progress.started && !session.usable && isSmtpError(error) && error.code === 'ERR_SMTP_SESSION_UNUSABLE';
}
