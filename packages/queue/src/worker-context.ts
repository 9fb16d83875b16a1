import { Buffer } from 'node:buffer';
import { buildDsn } from './dsn.js';
import type { RetryPolicy } from './retry.js';
import type {
  AmbiguousPolicy, DsnOptions, EnqueueInput, LimitsOptions, MessageEvent, QueueStore, RecipientEvent, RecipientStatus,
  RecipientUpdate, StoredMessage,
} from './types.js';

/** What a worker (the file spool's or the Redis one) needs from its queue. */
export interface WorkerContext {
  store: QueueStore;
  policy: RetryPolicy;
  limits: LimitsOptions | undefined;
  dsn: DsnOptions | false;
  onAmbiguous: AmbiguousPolicy;
  maxRecipientsPerJob: number;
  now: () => number;
  random: () => number;
  emitRecipient(e: RecipientEvent): void;
  emitMessage(e: MessageEvent): void;
  emitError(e: unknown): void;
  enqueue(input: EnqueueInput): Promise<{ id: string }>;
}

/** The `recipient` event of a state change. */
export function recipientEvent(id: string, u: RecipientUpdate): RecipientEvent {
  return {
    id, recipient: u.recipient, state: u.state, attempt: u.attempts,
    ...(u.reply !== undefined ? { reply: u.reply } : {}),
    ...(u.reply?.host !== undefined ? { host: u.reply.host } : {}),
  };
}

/** The `message` event of a message whose recipients are all final. */
export function messageEvent(m: StoredMessage, dsnId: string | undefined): MessageEvent {
  return { id: m.id, recipients: m.recipients.map((r) => ({ ...r })), ...(dsnId !== undefined ? { dsnId } : {}) };
}

/**
 * The recipients a DSN reports: the bounced and expired ones; none when DSNs are off, the sender is `<>` (RFC 5321
 * §4.5.5: nothing is sent back about such a message) or the message was cancelled.
 */
export function dsnRecipients(ctx: WorkerContext, m: StoredMessage, recipients: readonly RecipientStatus[]): RecipientStatus[] {
  if (ctx.dsn === false || m.from === '' || m.cancelled === true) return [];
  return recipients.filter((r) => r.state === 'bounced' || r.state === 'expired');
}

/**
 * Queues the DSN for `failed` (RFC 3464 `multipart/report`) under the fixed key `dsn:<id>`, so a finisher run again
 * after a crash queues nothing twice; returns its id, or undefined when there is nothing to report.
 */
export async function queueDsn(ctx: WorkerContext, m: StoredMessage, failed: RecipientStatus[], body: () => Promise<Uint8Array>): Promise<string | undefined> {
  if (ctx.dsn === false || failed.length === 0) return undefined;
  const report = buildDsn(m, failed, await body(), ctx.dsn);
  return (await ctx.enqueue({ from: '', to: [m.from], raw: Buffer.from(await report.toBuffer()), idempotencyKey: `dsn:${m.id}` })).id;
}
