import { SmtpError } from '@smtpkit/client';
import type { RetryOptions } from './types.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** The default schedule: 5 min, 15 min, 30 min, 1 h, 2 h, 3 h, then every 3 h. */
export const DEFAULT_SCHEDULE: readonly number[] = [5 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 3 * HOUR];
/** Give up after 5 days (RFC 5321 §4.5.4.1: "at least 4-5 days"). */
export const DEFAULT_GIVE_UP_AFTER = 5 * 24 * HOUR;
export const DEFAULT_JITTER = 0.1;

/** A checked retry policy. */
export interface RetryPolicy {
  schedule: readonly number[];
  giveUpAfter: number;
  jitter: number;
}

/** Checks the options; bad values are an `ERR_QUEUE_OPTIONS` error naming the field. */
export function retryPolicy(options: RetryOptions = {}): RetryPolicy {
  const schedule = options.schedule ?? DEFAULT_SCHEDULE;
  const giveUpAfter = options.giveUpAfter ?? DEFAULT_GIVE_UP_AFTER;
  const jitter = options.jitter ?? DEFAULT_JITTER;
  const bad = (field: string, value: unknown): SmtpError =>
    new SmtpError(`retry.${field} is invalid: ${JSON.stringify(value)}`, { kind: 'input', code: 'ERR_QUEUE_OPTIONS' });
  if (schedule.length === 0 || schedule.some((ms) => !Number.isFinite(ms) || ms < 0)) throw bad('schedule', schedule);
  if (!Number.isFinite(giveUpAfter) || giveUpAfter < 0) throw bad('giveUpAfter', giveUpAfter);
  if (!Number.isFinite(jitter) || jitter < 0 || jitter >= 1) throw bad('jitter', jitter);
  return { schedule, giveUpAfter, jitter };
}

/**
 * When a recipient deferred for the `deferrals`-th time is tried next, or undefined when it has to give up
 * (its message is older than `giveUpAfter`). The last attempt is moved to the give-up time when the schedule
 * would pass it, so a recipient is always tried once more at its deadline.
 */
export function nextAttempt(policy: RetryPolicy, deferrals: number, enqueuedAt: number, now: number, random: () => number): number | undefined {
  const deadline = enqueuedAt + policy.giveUpAfter;
  if (now >= deadline) return undefined;
  const base = policy.schedule[Math.min(Math.max(deferrals, 1), policy.schedule.length) - 1] ?? 0;
  const delay = base * (1 + policy.jitter * (2 * random() - 1));
  return Math.min(now + Math.round(delay), deadline);
}
