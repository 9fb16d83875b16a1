import type { SendOptions, SendResult } from '../types.js';
import type { PoolJob } from './types.js';

/**
 * The pool's queue of waiting sends: first in, first out, with the few other moves the pool needs
 * (back to the head, back to a position, out when aborted).
 *
 * Taking from the head is O(1): an index moves instead of every element (`Array#shift` moves them all
 * once the array is too large for V8 to trim in place, which made a queue of 100,000 sends quadratic).
 * The space before the head is given back once it is most of the array.
 */
export class SendQueue<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  /** The oldest item, or undefined when empty. */
  shift(): T | undefined {
    if (this.#head === this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined; // not kept alive by the queue
    if (this.#head === this.#items.length) {
      this.#items.length = 0;
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Put `item` back at the head. */
  unshift(item: T): void {
    if (this.#head > 0) this.#items[--this.#head] = item;
    else this.#items.unshift(item);
  }

  /** Put `item` at position `index` from the head (clamped to the end). */
  insert(index: number, item: T): void {
    this.#items.splice(this.#head + Math.min(Math.max(index, 0), this.length), 0, item);
  }

  /** Take `item` out wherever it is; false when it is not queued. */
  remove(item: T): boolean {
    const i = this.#items.indexOf(item, this.#head);
    if (i < 0) return false;
    this.#items.splice(i, 1);
    return true;
  }

  /** Every item, oldest first, leaving the queue empty. */
  takeAll(): T[] {
    const all = this.#items.slice(this.#head) as T[];
    this.#items = [];
    this.#head = 0;
    return all;
  }
}

const noop = (): void => {};

/** A send queued on the pool, and the promise the caller gets. */
export function newJob(options: SendOptions): { job: PoolJob; promise: Promise<SendResult> } {
  const job: PoolJob = {
    options,
    resolve: noop,
    reject: noop,
    failures: 0,
    check: false,
    bounces: 0,
    detach: noop,
    slot: undefined,
    continuing: undefined,
  };
  const promise = new Promise<SendResult>((resolve, reject) => {
    job.resolve = resolve;
    job.reject = reject;
  });
  return { job, promise };
}
