import type { Session } from '../types.js';
import type { Slot } from './types.js';

/** A slot for a session being opened. */
export function newSlot(): Slot {
  return {
    state: 'connecting',
    session: undefined,
    transactions: 0,
    idleSince: Date.now(),
    dirty: false,
    checking: false,
    idleTimer: undefined,
    inflight: [],
    requeued: 0,
  };
}

/** Slots in `state`. An array, scanned with an indexed loop: it is read for every send (at most maxConnections). */
export function countState(slots: readonly Slot[], state: Slot['state']): number {
  let n = 0;
  for (let i = 0; i < slots.length; i++) if ((slots[i] as Slot).state === state) n++;
  return n;
}

export function removeSlot(slots: Slot[], slot: Slot): void {
  const i = slots.indexOf(slot);
  if (i >= 0) slots.splice(i, 1);
}

/** The idle slot to use next: the most recently used, so hot sessions stay hot and the others reach their idle timeout. */
export function pickIdle(slots: readonly Slot[]): Slot | undefined {
  let best: Slot | undefined;
  for (let i = 0; i < slots.length; i++) {
    const s = slots[i] as Slot;
    if (s.state === 'idle' && (!best || s.idleSince >= best.idleSince)) best = s;
  }
  return best;
}

export function clearIdle(slot: Slot): void {
  if (slot.idleTimer !== undefined) clearTimeout(slot.idleTimer);
  slot.idleTimer = undefined;
}

/** A busy, healthy session with room for one more send (`capacity`), the least loaded first. */
export function pickJoinable(slots: readonly Slot[], capacity: (session: Session) => number, maxMessages: number): Slot | undefined {
  let best: Slot | undefined;
  for (let i = 0; i < slots.length; i++) {
    const s = slots[i] as Slot;
    const session = s.session;
    if (s.state !== 'busy' || s.dirty || s.checking || !session?.usable) continue;
    const n = s.inflight.length;
    if (n >= capacity(session) || s.transactions + n >= maxMessages) continue;
    if (!best || n < best.inflight.length) best = s;
  }
  return best;
}

/** The slot's session is dropped: out of the pool, destroyed. */
export function discard(slots: Slot[], slot: Slot, error?: Error): void {
  clearIdle(slot);
  removeSlot(slots, slot);
  slot.session?.destroy(error);
}

/** The slot is idle from now; `retire` runs when it stays idle for `timeout` ms. */
export function idle(slot: Slot, timeout: number, retire: () => void): void {
  slot.state = 'idle';
  slot.idleSince = Date.now();
  clearIdle(slot);
  slot.idleTimer = setTimeout(() => {
    if (slot.state === 'idle') retire();
  }, timeout);
  slot.idleTimer.unref?.();
}
