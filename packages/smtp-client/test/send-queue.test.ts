import { describe, expect, it } from 'vitest';
import { SendQueue } from '../src/pool/queue.js';

/** A seeded generator, so a failure repeats (xorshift32). */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

describe('SendQueue (the pool queue)', () => {
  it('is first in, first out, and empty reads give undefined', () => {
    const q = new SendQueue<number>();
    expect(q.shift()).toBeUndefined();
    for (let i = 0; i < 5; i++) q.push(i);
    expect(q.length).toBe(5);
    expect([q.shift(), q.shift()]).toEqual([0, 1]);
    q.unshift(1);
    q.insert(1, 9);
    expect(q.remove(3)).toBe(true);
    expect(q.remove(42)).toBe(false);
    expect(q.takeAll()).toEqual([1, 9, 2, 4]);
    expect(q.length).toBe(0);
  });

  it('behaves as a plain array under any mix of moves, across compactions', () => {
    for (const seed of [1, 7, 1234, 99_991]) {
      const random = rng(seed);
      const q = new SendQueue<{ id: number }>();
      const model: { id: number }[] = [];
      let next = 0;
      // Long runs of pushes then shifts drive the head far enough for the queue to compact itself.
      for (let step = 0; step < 20_000; step++) {
        const r = random();
        if (r < 0.45) {
          const item = { id: next++ };
          q.push(item);
          model.push(item);
        } else if (r < 0.85) {
          expect(q.shift()).toBe(model.shift());
        } else if (r < 0.9 && model.length > 0) {
          const item = { id: next++ };
          q.unshift(item);
          model.unshift(item);
        } else if (r < 0.95) {
          const item = { id: next++ };
          const at = Math.floor(random() * (model.length + 3));
          q.insert(at, item);
          model.splice(Math.min(at, model.length), 0, item);
        } else if (model.length > 0) {
          const victim = model[Math.floor(random() * model.length)] as { id: number };
          expect(q.remove(victim)).toBe(true);
          model.splice(model.indexOf(victim), 1);
          expect(q.remove(victim)).toBe(false);
        }
        expect(q.length).toBe(model.length);
      }
      expect(q.takeAll()).toEqual(model);
    }
  });

  it('keeps order through a head far past the compaction point', () => {
    const q = new SendQueue<number>();
    for (let i = 0; i < 10_000; i++) q.push(i);
    for (let i = 0; i < 9_000; i++) expect(q.shift()).toBe(i);
    q.unshift(8_999);
    expect(q.length).toBe(1_001);
    expect(q.takeAll()).toEqual(Array.from({ length: 1_001 }, (_, i) => 8_999 + i));
  });
});
