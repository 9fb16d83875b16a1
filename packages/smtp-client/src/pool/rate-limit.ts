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
