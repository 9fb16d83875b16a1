import type { SmtpError } from '@smtpkit/wire';
import { mayHaveBeenDelivered } from '../pool/retry.js';

/** What `deliver()` knows about a failed attempt. */
export interface AttemptOutcome {
  /** The end of data went out (see `BodyWatch.endWritten`). */
  endWritten: boolean;
  /** Whether the body can be read again for another attempt. */
  canResend: boolean;
}

/**
 * After a failed attempt on one MX address: try the next address / host, or stop for this domain.
 * RFC 5321 §5.1 and §4.2.1: a transient failure (connection refused or lost, timeout, TLS or
 * protocol trouble, a 4xx reply) moves on; a permanent 5xx reply stops, as do a local input error,
 * an abort, a body that cannot be read again, and a failure without a reply after the end of data
 * went out (the message may have been delivered; sending it to another host could duplicate it).
 */
export function nextStep(error: SmtpError, outcome: AttemptOutcome): 'next' | 'stop' {
  if (error.kind === 'aborted' || error.kind === 'input') return 'stop';
  if (!outcome.canResend) return 'stop';
  if (mayHaveBeenDelivered(error, outcome.endWritten)) return 'stop';
  if (error.replyCode !== undefined) return error.replyCode >= 500 ? 'stop' : 'next';
  return 'next';
}
