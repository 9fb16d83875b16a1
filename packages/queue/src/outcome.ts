import { isSmtpError, RecipientsRejectedError, type Reply, type SendResult } from '@smtpkit/client';
import type { LastReply } from './types.js';

/** What one transaction did to one recipient, before the retry policy turns it into a state. */
export interface RecipientOutcome {
  recipient: string;
  kind: 'delivered' | 'deferred' | 'bounced' | 'ambiguous';
  reply: LastReply;
  /** RFC 5321 §4.5.3.1.10: `452` after other recipients were accepted: try again at once, in a new transaction. */
  split?: boolean;
}

/** What a transaction says about its destination (`down`: no session could be opened). */
export type DestinationSignal = 'ok' | 'down' | 'throttled';

/** The outcomes of one transaction, and what they say about the destination. */
export interface TransactionOutcome {
  recipients: RecipientOutcome[];
  destination: DestinationSignal;
}

// RFC 3463 §3.8 4.7.x (security or policy, e.g. rate limits) and common wording of rate-limit replies.
const RATE_LIMITED = /\b(rate limit|rate-limit|too many (?:connections|messages|sessions)|throttl|slow down)/i;

function lastReply(reply: Reply, host: string): LastReply {
  return {
    code: reply.code,
    ...(reply.enhanced ? { enhanced: `${reply.enhanced.klass}.${reply.enhanced.subject}.${reply.enhanced.detail}` } : {}),
    text: reply.text,
    host,
  };
}

function byCode(recipient: string, reply: Reply, host: string): RecipientOutcome {
  const r = lastReply(reply, host);
  if (reply.code >= 200 && reply.code < 300) return { recipient, kind: 'delivered', reply: r };
  if (reply.code >= 500) return { recipient, kind: 'bounced', reply: r };
  return { recipient, kind: 'deferred', reply: r };
}

function isThrottle(reply: Reply | undefined): boolean {
  if (reply === undefined) return false;
  if (reply.code === 421) return true;
  return reply.code >= 400 && reply.code < 500 && (reply.enhanced?.subject === 7 || RATE_LIMITED.test(reply.text));
}

/**
 * A successful send: every accepted recipient is delivered (the final reply was 2yz), every refused one is
 * deferred (4yz) or bounced (5yz) by its own RCPT reply. Only the 4yz ones are tried again.
 */
export function outcomeOfResult(recipients: readonly string[], result: SendResult, host: string): TransactionOutcome {
  const accepted = new Set(result.accepted);
  const rejected = new Map(result.rejected.map((r) => [r.address, r.reply]));
  const out = recipients.map((recipient): RecipientOutcome => {
    const reply = rejected.get(recipient);
    if (reply === undefined || accepted.has(recipient)) return { recipient, kind: 'delivered', reply: lastReply(result.reply, host) };
    const o = byCode(recipient, reply, host);
    return reply.code === 452 ? { ...o, split: true } : o;
  });
  // Some recipients went through: the destination takes mail, whatever one RCPT said.
  return { recipients: out, destination: 'ok' };
}

/**
 * A failed send. Refused recipients keep their own replies; a refused MAIL FROM or DATA applies to all; a
 * failure without a reply after the end of data is `ambiguous` (RFC 1047: the message may have arrived);
 * before it, a deferral; bad input (too large for the server, 8-bit to a 7-bit server) a bounce.
 */
export function outcomeOfError(recipients: readonly string[], error: unknown, host: string, endOfData: boolean): TransactionOutcome {
  if (error instanceof RecipientsRejectedError) {
    const replies = new Map(error.rejected.map((r) => [r.address, r.reply]));
    return {
      recipients: recipients.map((recipient) => {
        const reply = replies.get(recipient);
        return reply === undefined ? { recipient, kind: 'deferred', reply: { text: error.message, host } } : byCode(recipient, reply, host);
      }),
      destination: error.rejected.some((r) => isThrottle(r.reply)) ? 'throttled' : 'ok',
    };
  }
  const smtp = isSmtpError(error) ? error : undefined;
  const message = error instanceof Error ? error.message : String(error);
  if (smtp?.reply !== undefined) {
    const reply = smtp.reply;
    return { recipients: recipients.map((recipient) => byCode(recipient, reply, host)), destination: isThrottle(reply) ? 'throttled' : 'ok' };
  }
  const local: LastReply = { text: message, host };
  if (endOfData) return { recipients: recipients.map((recipient) => ({ recipient, kind: 'ambiguous', reply: local })), destination: 'ok' };
  const kind = smtp?.kind === 'input' ? 'bounced' : 'deferred';
  return { recipients: recipients.map((recipient) => ({ recipient, kind, reply: local })), destination: 'ok' };
}
