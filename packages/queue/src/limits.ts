import { SmtpError } from '@smtpkit/client';
import type { DestinationLimits, LimitsOptions } from './types.js';

const MINUTE = 60_000;
const BACKOFF_START = 1_000;
const BACKOFF_MAX = 10 * MINUTE;

/** The limits for one destination: its own entry, else `default`, else none. */
export function limitsFor(options: LimitsOptions | undefined, destination: string): DestinationLimits {
  return options?.[destination] ?? options?.default ?? {};
}

/** Checks every entry; a bad value is an `ERR_QUEUE_OPTIONS` error naming it. */
export function checkLimits(options: LimitsOptions | undefined): void {
  for (const [destination, limits] of Object.entries(options ?? {})) {
    for (const [key, value] of Object.entries(limits ?? {})) {
      if (!['sessions', 'newSessionsPerMinute', 'messagesPerSecond', 'messagesPerSession'].includes(key)) {
        throw new SmtpError(`limits.${destination}: unknown limit "${key}"`, { kind: 'input', code: 'ERR_QUEUE_OPTIONS' });
      }
      if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
        throw new SmtpError(`limits.${destination}.${key} must be a positive integer, got ${JSON.stringify(value)}`, { kind: 'input', code: 'ERR_QUEUE_OPTIONS' });
      }
    }
  }
}

/**
 * One destination's limits and health in one process: open sessions, sessions opened in the last minute,
 * messages started in the last second, and a back-off when it is down or asks us to slow down (421, 4.7.x).
 * Every check returns how long to wait (0 = go), so the dispatcher never blocks on one destination.
 */
export class DestinationGate {
  sessions = 0;
  #opened: number[] = [];
  #started: number[] = [];
  #pausedUntil = 0;
  #backoff = 0;

  constructor(readonly limits: DestinationLimits) {}

  /** ms until a new session may be opened. */
  waitToOpen(now: number): number {
    const paused = this.#pausedUntil - now;
    if (paused > 0) return paused;
    if (this.limits.sessions !== undefined && this.sessions >= this.limits.sessions) return Infinity;
    return this.#windowWait(this.#opened, MINUTE, this.limits.newSessionsPerMinute, now);
  }

  /** ms until another message may start. */
  waitToSend(now: number): number {
    const paused = this.#pausedUntil - now;
    if (paused > 0) return paused;
    return this.#windowWait(this.#started, 1000, this.limits.messagesPerSecond, now);
  }

  opened(now: number): void {
    this.sessions++;
    this.#opened.push(now);
  }

  closed(): void {
    this.sessions--;
  }

  started(now: number): void {
    this.#started.push(now);
  }

  /** Down or throttled: pause, doubling from 1 s up to 10 min; any success resets it. */
  signal(kind: 'ok' | 'down' | 'throttled', now: number): void {
    if (kind === 'ok') {
      this.#backoff = 0;
      return;
    }
    // Transactions already under way when the pause began report their failures during it: one pause, not a
    // doubling for each of them.
    if (now < this.#pausedUntil) return;
    this.#backoff = Math.min(this.#backoff === 0 ? BACKOFF_START : this.#backoff * 2, BACKOFF_MAX);
    this.#pausedUntil = now + this.#backoff;
  }

  /** Forget a back-off (`retryNow`). */
  resume(): void {
    this.#pausedUntil = 0;
  }

  #windowWait(times: number[], window: number, max: number | undefined, now: number): number {
    while (times.length > 0 && (times[0] ?? 0) <= now - window) times.shift();
    if (max === undefined || times.length < max) return 0;
    return (times[times.length - max] ?? now) + window - now;
  }
}
