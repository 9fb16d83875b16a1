import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SlotKeeper, type SlotRenewer } from '../src/slot-keeper.js';

// The Redis limiter's slots expire (so a killed worker frees its slot); a session kept open longer than its slot's
// time to live must have the slot renewed, or end before the slot lapses, or the destination's `sessions` limit
// no longer holds across workers.

const TTL = 6_000;

describe('SlotKeeper', () => {
  beforeEach(() => vi.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => vi.useRealTimers());

  function keeper(renew: SlotRenewer['renewSlot']): { k: SlotKeeper; calls: string[] } {
    const calls: string[] = [];
    const k = new SlotKeeper({ renewSlot: (d, t) => (calls.push(`${d} ${t}`), renew(d, t)) }, TTL, () => Date.now());
    return { k, calls };
  }

  it('renews a held slot every third of its time to live while Redis answers, and never ends the session', async () => {
    const { k, calls } = keeper(async () => 0);
    const end = vi.fn();
    k.renewed('relay:25', 't1');
    k.bind('t1', end);
    await vi.advanceTimersByTimeAsync(TTL * 5);
    expect(end).not.toHaveBeenCalled();
    expect(k.lapsed('t1')).toBe(false);
    expect(calls.length).toBeGreaterThanOrEqual(6);
    expect(calls.every((c) => c === 'relay:25 t1')).toBe(true);
    k.stop();
  });

  it('ends the session before the slot lapses when Redis cannot be reached, and the slot may not open a session', async () => {
    const { k } = keeper(() => Promise.reject(new Error('Connection is closed.')));
    const end = vi.fn();
    k.renewed('relay:25', 't1');
    k.bind('t1', end);
    await vi.advanceTimersByTimeAsync(TTL * (2 / 3));
    expect(end).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(TTL * (1 / 6) + 1_000);
    expect(end).toHaveBeenCalledTimes(1);
    expect(k.lapsed('t1')).toBe(true);
    const late = vi.fn();
    k.bind('t1', late); // a session opened for a lapsed slot is ended at once
    expect(late).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(TTL * 2);
    expect(end).toHaveBeenCalledTimes(1);
    k.stop();
  });

  it('ends the session at once when Redis says the slot expired', async () => {
    const { k } = keeper(async () => -1);
    const end = vi.fn();
    k.renewed('relay:25', 't1');
    k.bind('t1', end);
    await vi.advanceTimersByTimeAsync(TTL / 3 + TTL / 6);
    expect(end).toHaveBeenCalledTimes(1);
    k.stop();
  });

  it('forgets a slot given back', async () => {
    const { k, calls } = keeper(async () => 0);
    k.renewed('relay:25', 't1');
    k.drop('t1');
    await vi.advanceTimersByTimeAsync(TTL * 3);
    expect(calls).toEqual([]);
    expect(k.lapsed('t1')).toBe(false);
    k.stop();
  });
});
