import { SmtpError } from '@smtpkit/wire';

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
  const onAbort = (s: AbortSignal) => () => controller.abort(abortedError(s.reason, step));
  for (const s of signals) {
    if (!s) continue;
    if (s.aborted) {
      controller.abort(abortedError(s.reason, step));
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

/** The typed error for a caller's abort. */
export function abortedError(reason: unknown, step?: Step): SmtpError {
  if (reason instanceof SmtpError) return reason;
  return new SmtpError(step ? `aborted during ${step}` : 'aborted', {
    kind: 'aborted',
    code: 'ERR_SMTP_ABORTED',
    retryable: false,
    cause: reason,
  });
}
