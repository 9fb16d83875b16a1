import { isSmtpError } from '@smtpkit/wire';
import type { TranscriptEvent } from '../transcript.js';

/** What is known about a failed attempt. */
export interface AttemptFacts {
  /** Body octets were written, or the end of data (".", BDAT … LAST) may have been: see {@link BodyWatch}. */
  bodyStarted: boolean;
  /** Connection-level failures already charged to this send. */
  failures: number;
  /** Whether the session is still usable after the failure. */
  usable: boolean;
}

/**
 * Notices when a transaction reaches its body: `onProgress` reported octets, or the client wrote
 * the end of data or a BDAT chunk (seen in the transcript, which also covers an empty body).
 * From then on a failure without a reply leaves the message's fate unknown.
 */
export class BodyWatch {
  started = false;

  /** Transcript hook: `C: .`, `C: <message n bytes>`, `C: BDAT n [LAST]`. */
  observe(e: TranscriptEvent): void {
    if (e.dir === 'C' && (e.text === '.' || e.text.startsWith('<message') || /^BDAT\b/i.test(e.text))) {
      this.started = true;
    }
  }

  /** `onProgress` hook. */
  progress(): void {
    this.started = true;
  }
}

/**
 * True when a failed send may still have been delivered: it failed without a reply (reset,
 * timeout, garbage, abort) after its body started. Such a send must not be repeated: it would
 * duplicate the message (RFC 5321 §6.1: once the final dot is acknowledged the server is
 * responsible for it, and the client cannot know whether that happened).
 */
export function mayHaveBeenDelivered(error: unknown, bodyStarted: boolean): boolean {
  if (!bodyStarted) return false;
  // A reply settles it: the server said what happened to the message.
  return !(isSmtpError(error) && error.replyCode !== undefined);
}

/**
 * Whether a failed send may be retried once on another session: only when the session died at
 * connection level (connect failure, reset, timeout, 421) before the message could have been
 * taken — before its body started — and the send was not retried already. Everything else is
 * reported to the caller as is.
 */
export function retryDecision(error: unknown, facts: AttemptFacts): 'retry' | 'fail' {
  if (facts.failures >= 1 || facts.usable || facts.bodyStarted) return 'fail';
  if (!isSmtpError(error) || !error.retryable) return 'fail';
  const connectionLevel = error.kind === 'connection' || error.kind === 'timeout' || error.replyCode === 421;
  return connectionLevel ? 'retry' : 'fail';
}
