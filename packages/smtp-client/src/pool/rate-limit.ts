/**
 * A sliding-window limit: at most `limit` events in any `windowMs` milliseconds. It keeps the times
 * of the last `limit` events in a ring, so a check is O(1) and memory is bounded by the limit.
 *
 * @example
 * ```ts
 * const rate = new SlidingWindow(10, 1000); // 10 per second
 * const wait = rate.wait(Date.now());       // 0: go now (then take()); > 0: ms until a slot frees
 * ```
 */
export class SlidingWindow {
  readonly limit: number;
  readonly windowMs: number;
  readonly #times: number[];
  #next = 0;
  #count = 0;

  constructor(limit: number, windowMs: number) {
    this.limit = limit;
    this.windowMs = windowMs;
    this.#times = new Array<number>(limit).fill(0);
  }

  /** Milliseconds until one more event is allowed at `now` (0: allowed now). */
  wait(now: number): number {
    if (this.#count < this.limit) return 0;
    // The oldest of the last `limit` events leaves the window at its time + windowMs.
    const oldest = this.#times[this.#next] as number;
    return Math.max(0, oldest + this.windowMs - now);
  }

  /** Record an event at `now`. */
  take(now: number): void {
    this.#times[this.#next] = now;
    this.#next = (this.#next + 1) % this.limit;
    if (this.#count < this.limit) this.#count++;
  }
}

/** Holds events back while a {@link SlidingWindow} allows none, and calls `ready` when it does again. */
export class RateGate {
  readonly #ready: () => void;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #due = 0;

  constructor(ready: () => void) {
    this.#ready = ready;
  }

  /**
   * True when `rate` allows nothing more now: `ready` runs when it does. Otherwise the event is counted and
   * false returned.
   */
  limited(rate: SlidingWindow): boolean {
    const now = Date.now();
    const wait = rate.wait(now);
    if (wait === 0) {
      rate.take(now);
      return false;
    }
    const due = now + wait;
    if (this.#timer === undefined || due < this.#due) {
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      this.#due = due;
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#ready();
      }, wait);
    }
    return true;
  }
}
