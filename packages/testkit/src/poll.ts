/** Options of {@link pollUntil}. */
export interface PollOptions<T> {
  /** Give up after this long, ms. */
  timeoutMs: number;
  /** Pause between reads, ms; default 25. */
  intervalMs?: number;
  /** The error to throw at the deadline, given the last value read (it may read a log for the message). */
  fail: (last: T) => Error | Promise<Error>;
}

/**
 * Reads until `done` accepts the value, pausing between reads; throws `fail(last)` once `timeoutMs` has passed.
 * Bounded: about `timeoutMs / intervalMs` reads. `read` may throw to stop early (a server that exited).
 */
export async function pollUntil<T>(read: () => Promise<T>, done: (value: T) => boolean, options: PollOptions<T>): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() >= deadline) throw await options.fail(value);
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 25));
  }
}
