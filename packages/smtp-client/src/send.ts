import type { RecipientOutcome, Reply, SmtpError, TransactionOutcome } from '@smtpkit/wire';
import type { Conversation } from './conversation.js';
import { recipientError, recipientsRejected, replyError } from './errors.js';
import type { SendRun } from './plan.js';
import type { EnvelopeCheck, RecipientRejection, SendResult } from './types.js';

export { RecipientsRejectedError } from './errors.js';

/** Recipients accepted and refused, in envelope order. */
export interface RecipientOutcomes {
  accepted: string[];
  rejected: RecipientRejection[];
}

/**
 * Accepted and refused recipients of a transaction, in envelope order. A recipient deferred over the server's
 * limit (RFC 5321 §4.5.3.1.10) is refused with the reply that deferred it, or, when it was never asked (no
 * PIPELINING), with the first such reply; one never asked otherwise is in neither list.
 */
function recipientOutcomes(recipients: readonly RecipientOutcome[]): RecipientOutcomes {
  let positive = 0;
  for (let i = 0; i < recipients.length; i++) if ((recipients[i] as RecipientOutcome).status === 'accepted') positive++;
  const accepted: string[] = new Array<string>(positive);
  const rejected: RecipientRejection[] = [];
  let overLimit: RecipientOutcome | undefined;
  let a = 0;
  for (let i = 0; i < recipients.length; i++) {
    const r = recipients[i] as RecipientOutcome;
    if (r.status === 'accepted') accepted[a++] = r.address;
    else if (r.status !== 'unsent') {
      if (r.status === 'deferred' && r.reply) overLimit ??= r;
      const by = r.reply ? r : overLimit;
      if (!by?.reply) continue;
      rejected.push({ address: r.address, reply: by.reply, error: recipientError(by.reply, by.command, r.address) });
    }
  }
  return { accepted, rejected };
}

/** The error of a transaction that did not send its message; ends the session when the outcome says so. */
function failure(conv: Conversation, outcome: TransactionOutcome, via: 'DATA' | 'BDAT', total: number, lmtp: boolean): SmtpError {
  const reply = outcome.reply as Reply;
  let error: SmtpError;
  switch (outcome.end) {
    case 'mail-refused':
      error = replyError(reply, outcome.command ?? 'MAIL FROM', 'MAIL FROM');
      break;
    case 'recipients-refused': {
      const { accepted, rejected } = recipientOutcomes(outcome.recipients);
      error = recipientsRejected(rejected, accepted.length === 0, total);
      break;
    }
    case 'data-refused':
      error = replyError(reply, 'DATA');
      break;
    case 'message-refused': {
      const { accepted, rejected } = recipientOutcomes(outcome.recipients);
      // LMTP: every recipient refused, some after the data (RFC 2033 §4.2): the recipients' refusals.
      error = lmtp && accepted.length === 0 && rejected.length > 0 ? recipientsRejected(rejected, true, total) : replyError(reply, via, 'message');
      break;
    }
    case 'closing':
      error = replyError(reply, outcome.command ?? 'unsolicited', 'server closing the connection;');
      break;
    default:
      error = replyError(reply, outcome.command ?? 'RSET');
  }
  return outcome.sessionUsable ? error : conv.fail(error);
}

/**
 * What a send gave: its result when the server took the message (for at least one recipient), else the typed
 * error (a reply error, {@link RecipientsRejectedError}, …).
 */
export function sendResult(conv: Conversation, run: SendRun, outcome: TransactionOutcome): SendResult {
  const via = run.prepared.useBdat ? 'BDAT' : 'DATA';
  if (run.oneWrite && conv.transcript.enabled) conv.transcript.emit('*', `message sent in one BDAT chunk: ${run.bytes} bytes`);
  if (outcome.end !== 'sent') throw failure(conv, outcome, via, run.o.to.length, run.lmtp);
  const { accepted, rejected } = recipientOutcomes(outcome.recipients);
  const done = Date.now();
  const envelopeDone = run.oneWrite ? done : run.envelopeDone;
  const result: SendResult = {
    accepted,
    rejected,
    reply: outcome.reply as Reply,
    bytes: run.bytes,
    timings: { startedAt: run.startedAt, envelopeMs: envelopeDone - run.startedAt, dataMs: done - envelopeDone, totalMs: done - run.startedAt },
  };
  if (run.info.messageId) result.messageId = run.info.messageId;
  return result;
}

/** What `checkEnvelope` gave: the replies to MAIL FROM and each RCPT TO, or the error when MAIL was refused. */
export function envelopeCheck(conv: Conversation, outcome: TransactionOutcome, total: number): EnvelopeCheck {
  if (outcome.end !== 'checked') throw failure(conv, outcome, 'DATA', total, false);
  const { accepted, rejected } = recipientOutcomes(outcome.recipients);
  return { mail: outcome.mail as Reply, accepted, rejected };
}
