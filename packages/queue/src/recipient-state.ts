import type { RecipientOutcome } from './outcome.js';
import { nextAttempt, type RetryPolicy } from './retry.js';
import type { AmbiguousPolicy, LastReply, RecipientStatus, RecipientUpdate } from './types.js';

/** What turning outcomes into states needs. */
export interface StateContext {
  policy: RetryPolicy;
  onAmbiguous: AmbiguousPolicy;
  enqueuedAt: number;
  now: number;
  random: () => number;
}

/** A recipient taken by a transaction: `in-flight`, one more attempt. */
export function claim(r: RecipientStatus): RecipientUpdate {
  return { ...r, state: 'in-flight', attempts: r.attempts + 1, nextAttemptAt: undefined };
}

/**
 * The state a recipient moves to after a transaction (`r` is its in-flight status). Only 4yz recipients are tried
 * again: on the retry schedule, at once after a `452` split, or never once the give-up time has passed (`expired`).
 */
export function settle(r: RecipientStatus, o: RecipientOutcome, ctx: StateContext): RecipientUpdate {
  const base = { recipient: r.recipient, attempts: r.attempts, reply: o.reply, ambiguous: r.ambiguous };
  switch (o.kind) {
    case 'delivered':
      return { ...base, state: 'delivered' };
    case 'bounced':
      return { ...base, state: 'bounced' };
    case 'deferred': {
      if (o.split === true) return { ...base, state: 'deferred', nextAttemptAt: ctx.now };
      const next = nextAttempt(ctx.policy, r.attempts, ctx.enqueuedAt, ctx.now, ctx.random);
      return next === undefined ? { ...base, state: 'expired' } : { ...base, state: 'deferred', nextAttemptAt: next };
    }
    case 'ambiguous':
      return ambiguous(r, o.reply, ctx, nextAttempt(ctx.policy, r.attempts, ctx.enqueuedAt, ctx.now, ctx.random));
  }
}

/** A lost outcome, by the `onAmbiguous` policy: tried again at `retryAt`, final `ambiguous`, or assumed delivered. */
export function ambiguous(r: RecipientStatus, reply: LastReply, ctx: Pick<StateContext, 'onAmbiguous'>, retryAt: number | undefined): RecipientUpdate {
  const base = { recipient: r.recipient, attempts: r.attempts, ambiguous: (r.ambiguous ?? 0) + 1 };
  if (ctx.onAmbiguous === 'assume-sent') return { ...base, state: 'delivered', reply: { ...reply, text: `assumed delivered: ${reply.text}` } };
  if (ctx.onAmbiguous === 'fail' || retryAt === undefined) return { ...base, state: 'ambiguous', reply };
  return { ...base, state: 'ambiguous', reply, nextAttemptAt: retryAt };
}

/** When a waiting recipient is due: queued ones at once, the others at their next attempt. */
export function dueAt(r: RecipientStatus): number | undefined {
  if (r.state === 'queued') return r.nextAttemptAt ?? 0;
  if (r.state === 'deferred' || r.state === 'ambiguous') return r.nextAttemptAt;
  return undefined;
}

/** The earliest time one of `recipients` is due, leaving out those in `busy`; undefined when none waits. */
export function nextDueAt(recipients: readonly RecipientStatus[], busy: ReadonlySet<string> | undefined): number | undefined {
  let next: number | undefined;
  for (const r of recipients) {
    if (busy?.has(r.recipient) === true) continue;
    const at = dueAt(r);
    if (at !== undefined && (next === undefined || at < next)) next = at;
  }
  return next;
}
