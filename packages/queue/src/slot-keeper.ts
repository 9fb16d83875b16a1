/** What the keeper needs of the Redis store. */
export interface SlotRenewer {
  /** 0 renewed, -1 the slot is gone. */
  renewSlot(destination: string, token: string): Promise<number>;
}

interface HeldSlot {
  destination: string;
  /** When the slot was last renewed in Redis (it lapses `ttl` later). */
  renewedAt: number;
  lapsed: boolean;
  renewing: boolean;
  /** Ends the session the slot is held for. */
  end: (() => void) | undefined;
}

/**
 * Keeps the Redis limiter slots a worker holds alive while their sessions are open: each is renewed every third of
 * its time to live. A slot that could not be renewed in time (Redis unreachable, or it expired) has its session
 * ended before it lapses, and a session not open yet may not open: other workers may take the slot once it lapses,
 * and the destination's `sessions` limit counts open connections, not slots.
 */
export class SlotKeeper {
  readonly #held = new Map<string, HeldSlot>();
  readonly #timer: NodeJS.Timeout;

  constructor(
    private readonly store: SlotRenewer,
    private readonly ttl: number,
    private readonly now: () => number,
  ) {
    this.#timer = setInterval(() => this.#tick(), Math.max(10, Math.floor(ttl / 6)));
    this.#timer.unref();
  }

  /** A slot was taken or renewed in Redis just now. */
  renewed(destination: string, token: string): void {
    const held = this.#held.get(token);
    if (held !== undefined) held.renewedAt = this.now();
    else this.#held.set(token, { destination, renewedAt: this.now(), lapsed: false, renewing: false, end: undefined });
  }

  /** The session the slot is held for: ended if the slot lapses. */
  bind(token: string, end: () => void): void {
    const held = this.#held.get(token);
    if (held === undefined) return;
    held.end = end;
    if (held.lapsed) end();
  }

  /** True once the slot could not be kept: its session must not be opened or used. */
  lapsed(token: string): boolean {
    return this.#held.get(token)?.lapsed ?? false;
  }

  /** The slot is given back. */
  drop(token: string): void {
    this.#held.delete(token);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#held.clear();
  }

  #lapse(held: HeldSlot): void {
    if (held.lapsed) return;
    held.lapsed = true;
    held.end?.();
  }

  #tick(): void {
    const now = this.now();
    for (const [token, held] of this.#held) {
      if (held.lapsed) continue;
      // A margin of a sixth of the time to live: the session is gone before another worker can take the slot.
      if (now - held.renewedAt >= this.ttl - this.ttl / 6) {
        this.#lapse(held);
        continue;
      }
      if (held.renewing || now - held.renewedAt < this.ttl / 3) continue;
      held.renewing = true;
      this.store.renewSlot(held.destination, token).then(
        (result) => {
          held.renewing = false;
          if (result === 0) held.renewedAt = Math.max(held.renewedAt, now);
          else this.#lapse(held);
        },
        () => {
          held.renewing = false; // Redis unreachable: the deadline above ends the session in time
        },
      );
    }
  }
}
