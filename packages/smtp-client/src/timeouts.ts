import { SmtpError } from '@smtpkit/wire';
import { abortedError } from './errors.js';

/** Per-step deadlines in milliseconds. */
export interface Timeouts {
  connect: number;
  greeting: number;
  ehlo: number;
  starttls: number;
  auth: number;
  mail: number;
  rcpt: number;
  dataInit: number;
  dataBlock: number;
  dataDone: number;
  /** RSET / NOOP / QUIT. */
  command: number;
}

const MINUTE = 60_000;

/**
 * Defaults from RFC 5321 §4.5.3.2: initial 220 5 min, MAIL 5 min, RCPT 5 min, DATA initiation 2 min,
 * data block 3 min, DATA termination 10 min. EHLO/STARTTLS/AUTH/RSET use the 5-minute command
 * timeout; the TCP connect (and implicit TLS handshake) 30 s.
 */
export const DEFAULT_TIMEOUTS: Readonly<Timeouts> = Object.freeze({
  connect: 30_000,
  greeting: 5 * MINUTE,
  ehlo: 5 * MINUTE,
  starttls: 5 * MINUTE,
  auth: 5 * MINUTE,
  mail: 5 * MINUTE,
  rcpt: 5 * MINUTE,
  dataInit: 2 * MINUTE,
  dataBlock: 3 * MINUTE,
  dataDone: 10 * MINUTE,
  command: 5 * MINUTE,
});

/** QUIT never waits longer than this, whatever the command timeout (a lost 221 is not a failure). */
export const QUIT_WAIT_CAP = 5_000;

/** Merge user overrides with the defaults, rejecting nonsense early. */
export function resolveTimeouts(overrides: Partial<Timeouts> | undefined): Timeouts {
  const t: Timeouts = { ...DEFAULT_TIMEOUTS };
  for (const [key, value] of Object.entries(overrides ?? {})) {
    if (!(key in t)) {
      throw new SmtpError(`unknown timeout "${key}"`, { kind: 'input', code: 'ERR_SMTP_INPUT' });
    }
    if (value === undefined) continue;
    if (typeof value !== 'number' || !(value > 0)) {
      throw new SmtpError(`timeout "${key}" must be a positive number of milliseconds`, {
        kind: 'input',
        code: 'ERR_SMTP_INPUT',
      });
    }
    t[key as keyof Timeouts] = value;
  }
  return t;
}

/** The name of a step, used in timeout errors ("timed out waiting for the reply to RCPT"). */
export type Step = keyof Timeouts;

/**
 * A deadline for one step combined with the caller's signal. `signal` aborts with a typed
 * {@link SmtpError} as its reason: kind 'timeout' naming the step, or kind 'aborted'.
 */
export interface Deadline {
  readonly signal: AbortSignal;
  clear(): void;
}

/** Start a deadline of `ms` for `step`, also tripped by any of `signals`. */
export function startDeadline(step: Step, ms: number, signals: Array<AbortSignal | undefined>): Deadline {
  const controller = new AbortController();
  const cleanups: Array<() => void> = [];
  const timer = setTimeout(() => {
    controller.abort(
      new SmtpError(`timed out after ${ms} ms during ${step}`, {
        kind: 'timeout',
        code: 'ERR_SMTP_TIMEOUT',
        retryable: true,
      }),
    );
  }, ms);
  timer.unref?.();
  const onAbort = (s: AbortSignal) => () => controller.abort(abortedError(s.reason, `during ${step}`));
  for (const s of signals) {
    if (!s) continue;
    if (s.aborted) {
      controller.abort(abortedError(s.reason, `during ${step}`));
      break;
    }
    const listener = onAbort(s);
    s.addEventListener('abort', listener, { once: true });
    cleanups.push(() => s.removeEventListener('abort', listener));
  }
  return {
    signal: controller.signal,
    clear() {
      clearTimeout(timer);
      for (const c of cleanups) c();
    },
  };
}

/**
 * The deadline of a session's current step, cheap enough to arm several times per message: one
 * AbortController for the session's life (any timeout or abort ends the session, so it never needs
 * resetting) and one timer that is re-armed only when a step's due time comes earlier than the
 * timer's. A step arms it with its own RFC 5321 §4.5.3.2 limit and disarms it when done.
 */
export class StepClock {
  readonly #controller = new AbortController();
  /** Read on every step: kept here, not fetched through AbortController's getter each time. */
  readonly #signal = this.#controller.signal;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When the armed timer fires (ms since epoch), or 0. */
  #timerAt = 0;
  /** When the current step times out, or 0 when no step is running. */
  #due = 0;
  #ms = 0;
  #step: Step = 'command';
  readonly #onTimer = (): void => this.#fire();

  #detach: (() => void) | undefined;

  constructor(signal?: AbortSignal) {
    if (!signal) return;
    if (signal.aborted) {
      this.#controller.abort(abortedError(signal.reason));
      return;
    }
    const onAbort = (): void => this.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    this.#detach = () => signal.removeEventListener('abort', onAbort);
  }

  /** Aborts with a typed {@link SmtpError}: kind 'timeout' naming the step, or kind 'aborted'. */
  get signal(): AbortSignal {
    return this.#signal;
  }

  /** A step is armed. */
  get running(): boolean {
    return this.#due !== 0;
  }

  /** The step running now and its due time, to restore after a nested step. */
  get state(): { step: Step; due: number; ms: number } {
    return { step: this.#step, due: this.#due, ms: this.#ms };
  }

  /** Start `step` with a limit of `ms`. */
  arm(step: Step, ms: number): void {
    this.#step = step;
    this.#ms = ms;
    const now = Date.now();
    this.#due = now + ms;
    if (this.#timer === undefined || this.#timerAt > this.#due) this.#schedule(ms, now);
  }

  /** Resume an outer step (see {@link state}). */
  restore(state: { step: Step; due: number; ms: number }): void {
    this.#step = state.step;
    this.#due = state.due;
    this.#ms = state.ms;
    if (state.due !== 0 && (this.#timer === undefined || this.#timerAt > state.due)) {
      const now = Date.now();
      this.#schedule(Math.max(0, state.due - now), now);
    }
  }

  /** The current step finished in time. The timer stays, to be re-armed by the next step. */
  disarm(): void {
    this.#due = 0;
  }

  /** Abort the current step (and so the session) for the caller's `reason`. */
  abort(reason: unknown): void {
    if (!this.#controller.signal.aborted) this.#controller.abort(abortedError(reason, this.#due ? `during ${this.#step}` : undefined));
  }

  /** Stop the timer and stop listening to the session's signal, for good. */
  stop(): void {
    this.#detach?.();
    this.#detach = undefined;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#due = 0;
  }

  #schedule(ms: number, now: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = setTimeout(this.#onTimer, ms);
    this.#timer.unref?.();
    this.#timerAt = now + ms;
  }

  #fire(): void {
    this.#timer = undefined;
    if (this.#due === 0 || this.#controller.signal.aborted) return;
    const now = Date.now();
    if (now < this.#due) {
      this.#schedule(this.#due - now, now);
      return;
    }
    this.#controller.abort(
      new SmtpError(`timed out after ${this.#ms} ms during ${this.#step}`, {
        kind: 'timeout',
        code: 'ERR_SMTP_TIMEOUT',
        retryable: true,
      }),
    );
  }
}
