import { isSmtpError, isTooManyRecipients, SmtpError, type BodySource, type Reply } from '@smtpkit/wire';
import { RecipientsRejectedError, toSmtpError } from './errors.js';
import type { SendRun } from './plan.js';
import { outcomeUnknown } from './pool/retry.js';
import type { BodyProgress } from './progress.js';
import type { Transcript } from './transcript.js';
import type { RecipientRejection, SendOptions, SendResult, TransactionResult } from './types.js';

/** What sends transactions for {@link sendWithinLimits}: the session. */
export interface TransactionSender {
  readonly usable: boolean;
  /** The next queued send is on the wire already (written ahead): nothing may come before it. */
  readonly nextWritten: boolean;
  readonly transcript: Transcript;
  /** One transaction; `ahead` when its first group went out ahead of its turn. */
  transaction(o: SendOptions, progress: BodyProgress, ahead?: SendRun): Promise<SendResult>;
}

/** Some recipients were over the server's limit (RFC 5321 §4.5.3.1.10): they go in a further transaction. */
function hasDeferred(result: SendResult): boolean {
  for (let i = 0; i < result.rejected.length; i++) if (isTooManyRecipients((result.rejected[i] as RecipientRejection).reply)) return true;
  return false;
}

/**
 * A send, in as many transactions as the server's recipient limit asks for (RFC 5321 §4.5.3.1.10: "a client
 * that needs to deliver a message containing over 100 RCPT commands SHOULD be prepared to transmit in
 * 100-recipient chunks if the server declines to accept more"). The one loop above a single transaction, for
 * `session.send`, the pool and `deliver` alike.
 *
 * When the first transaction ends with some recipients accepted and others refused as over the limit (452,
 * or the RFC 3463 status x.5.3; see `isTooManyRecipients`), the same message goes on the same session to the
 * deferred ones, at most as many per transaction as the server took the first time, until each has a final
 * answer or no transaction gets any further. Every recipient appears once in the result: in `accepted`, or in
 * `rejected` with the last reply the server gave about it (see {@link SendResult.transactions}).
 */
export async function sendWithinLimits(s: TransactionSender, o: SendOptions, progress: BodyProgress, ahead: SendRun | undefined): Promise<SendResult> {
  const first = await s.transaction(o, progress, ahead);
  return hasDeferred(first) && o.overLimit !== 'report' ? furtherTransactions(s, o, first) : first;
}

async function furtherTransactions(s: TransactionSender, o: SendOptions, first: SendResult): Promise<SendResult> {
  const transactions: TransactionResult[] = [{ accepted: first.accepted, reply: first.reply }];
  const accepted = first.accepted.slice();
  const rejected: RecipientRejection[] = [];
  let deferred: RecipientRejection[] = [];
  for (const r of first.rejected) (isTooManyRecipients(r.reply) ? deferred : rejected).push(r);
  // The server's limit, as it showed it: the recipients it took before the first one it deferred.
  const limit = Math.max(1, o.to.indexOf((deferred[0] as RecipientRejection).address));
  const source = rereadable(o.data);
  while (deferred.length > 0) {
    const why = cannotContinue(s, source);
    if (why) {
      const code = why === ENDED ? ON_ANOTHER_SESSION : undefined;
      for (const r of deferred) rejected.push(notContinued(r, why, code));
      deferred = [];
      break;
    }
    const batch = deferred.slice(0, limit);
    const rest = deferred.slice(limit);
    s.transcript.note(`${batch.length} recipients over the server's limit: another transaction for them (RFC 5321 §4.5.3.1.10)`);
    let data: BodySource;
    try {
      data = (source as () => BodySource)();
    } catch {
      // A source that refuses a second reading (a one-shot message object) says so before anything is sent.
      for (const r of deferred) rejected.push(notContinued(r, ONCE));
      deferred = [];
      break;
    }
    const progress: BodyProgress = { started: false, endWritten: false };
    let result: SendResult;
    try {
      result = await s.transaction({ ...o, to: batch.map((r) => r.address), data }, progress);
    } catch (err) {
      if (!s.usable && !progress.started && isSmtpError(err) && err.retryable) {
        // The session ended before this transaction's body: nothing of it was delivered; another session may take them.
        for (const r of deferred) rejected.push(notContinued(r, `the session ended (${err.message})`, ON_ANOTHER_SESSION));
        deferred = [];
        break;
      }
      // The whole transaction failed: its recipients get that answer; the rest keep their deferral.
      for (const r of transactionFailed(batch, err, progress)) rejected.push(r);
      for (const r of rest) rejected.push(notContinued(r, 'the previous transaction failed'));
      deferred = [];
      break;
    }
    transactions.push({ accepted: result.accepted, reply: result.reply });
    for (const a of result.accepted) accepted.push(a);
    const again: RecipientRejection[] = [];
    for (const r of result.rejected) (isTooManyRecipients(r.reply) ? again : rejected).push(r);
    deferred = again.concat(rest);
  }
  inOrderOf(o.to, accepted, rejected);
  const done = Date.now();
  const result: SendResult = {
    accepted,
    rejected,
    reply: first.reply,
    bytes: first.bytes,
    timings: { ...first.timings, totalMs: done - first.timings.startedAt },
    transactions,
  };
  if (first.messageId) result.messageId = first.messageId;
  return result;
}

/**
 * The body again for a further transaction, or undefined when it can be read only once. Strings, bytes and
 * arrays are read again; an iterable that makes a fresh iterator each time (not a generator, not a stream) is
 * asked for one up front, so a one-shot source says so before anything is sent.
 */
function rereadable(data: BodySource): (() => BodySource) | undefined {
  if (typeof data === 'string' || data instanceof Uint8Array || Array.isArray(data)) return () => data;
  const d = data as unknown as Record<string | symbol, unknown>;
  if (typeof d.next === 'function' || typeof d.pipe === 'function' || typeof d.read === 'function') return undefined;
  const key = typeof d[Symbol.asyncIterator] === 'function' ? Symbol.asyncIterator : Symbol.iterator;
  return () => {
    const iterator = (d[key] as () => unknown).call(data);
    return { [key]: () => iterator } as unknown as BodySource;
  };
}

const ONCE = 'the message body can be read only once (pass a string, bytes or an array of chunks)';
const ENDED = 'the session ended';

/**
 * The code of a recipient deferred over the server's limit whose further transaction could not run because the
 * session ended: the pool and `deliver` send it on another session ({@link withContinuation}).
 */
export const ON_ANOTHER_SESSION = 'ERR_SMTP_RECIPIENTS_DEFERRED';

/** Why no further transaction can go on this session now, or undefined. */
function cannotContinue(s: TransactionSender, source: (() => BodySource) | undefined): string | undefined {
  if (!source) return ONCE;
  if (!s.usable) return ENDED;
  // Written ahead behind this send (RFC 2920 §3.1): another transaction cannot come before them.
  if (s.nextWritten) return 'the next queued send is already on the wire';
  return undefined;
}

/** A deferred recipient that gets no further transaction: its answer stays the server's deferral (transient). */
function notContinued(r: RecipientRejection, why: string, code = r.error.code): RecipientRejection {
  const error = new SmtpError(`${r.error.message}; not sent in a further transaction: ${why}`, {
    kind: 'reply',
    code,
    retryable: true,
    replyCode: r.reply.code,
    reply: r.reply,
    ...(r.error.enhancedStatus ? { enhancedStatus: r.error.enhancedStatus } : {}),
    ...(r.error.command ? { command: r.error.command } : {}),
  });
  return { address: r.address, reply: r.reply, error };
}

/** Every recipient of a further transaction that failed as a whole, with that failure. */
function transactionFailed(batch: readonly RecipientRejection[], err: unknown, progress: BodyProgress): RecipientRejection[] {
  if (err instanceof RecipientsRejectedError) return err.rejected;
  let error = toSmtpError(err);
  // The end of data went out and no reply came: the message may have reached them (RFC 5321 §4.1.1.4).
  if (progress.endWritten && error.replyCode === undefined) error = outcomeUnknown(error);
  // A failure without a reply keeps the last reply the server gave about the recipient.
  return batch.map((r) => ({ address: r.address, reply: error.reply ?? (r.reply as Reply), error }));
}

/** Recipients a send deferred over the server's limit and could not send on because its session ended. */
export function deferredToAnotherSession(result: SendResult): string[] {
  const out: string[] = [];
  for (const r of result.rejected) if (r.error.code === ON_ANOTHER_SESSION) out.push(r.address);
  return out;
}

/**
 * `first` completed by the send that took its {@link deferredToAnotherSession} recipients on another session:
 * its result, or the error every one of them then gets. Recipients stay once each, in the order of `to`.
 */
export function withContinuation(first: SendResult, to: readonly string[], next: SendResult | SmtpError): SendResult {
  const moved = new Set(deferredToAnotherSession(first));
  const rejected = first.rejected.filter((r) => !moved.has(r.address));
  const accepted = first.accepted.slice();
  const transactions: TransactionResult[] = first.transactions?.slice() ?? [{ accepted: first.accepted, reply: first.reply }];
  if (next instanceof SmtpError) {
    for (const r of first.rejected) if (moved.has(r.address)) rejected.push({ address: r.address, reply: next.reply ?? r.reply, error: next });
  } else {
    for (const a of next.accepted) accepted.push(a);
    for (const r of next.rejected) rejected.push(r);
    for (const t of next.transactions ?? [{ accepted: next.accepted, reply: next.reply }]) transactions.push(t);
  }
  inOrderOf(to, accepted, rejected);
  return { ...first, accepted, rejected, transactions };
}

/** Sort both lists in the order of `to`, where every recipient appears once. */
function inOrderOf(to: readonly string[], accepted: string[], rejected: RecipientRejection[]): void {
  const order = new Map(to.map((a, i) => [a, i]));
  const at = (a: string) => order.get(a) ?? 0;
  accepted.sort((a, b) => at(a) - at(b));
  rejected.sort((a, b) => at(a.address) - at(b.address));
}
