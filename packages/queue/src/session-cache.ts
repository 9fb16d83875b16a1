import { connect, type ConnectOptions, type Session } from '@smtpkit/client';
import type { DestinationGate } from './limits.js';

/** Idle sessions are closed after this long (RFC 5321 §4.5.3.2 lets a server drop an idle client after 5 min). */
const IDLE_TIMEOUT = 5_000;

/** A session lent to one transaction. */
export interface SessionLease {
  session: Session;
  sent: number;
}

/**
 * The sessions a worker keeps to one relay: reused up to `messagesPerSession`, opened only when the destination's
 * gate allows (concurrent sessions, new sessions per minute), closed after a failure or when idle.
 */
export class SessionCache {
  #idle: Array<{ lease: SessionLease; timer: NodeJS.Timeout }> = [];

  constructor(
    private readonly options: ConnectOptions,
    private readonly gate: DestinationGate,
    private readonly now: () => number,
  ) {}

  get hasIdle(): boolean {
    return this.#idle.length > 0;
  }

  /** An idle session, or a new one (the caller checked the gate). Throws the connect error. */
  async acquire(): Promise<SessionLease> {
    for (let idle = this.#idle.pop(); idle !== undefined; idle = this.#idle.pop()) {
      clearTimeout(idle.timer);
      if (idle.lease.session.usable) return idle.lease;
      this.gate.closed();
    }
    this.gate.opened(this.now());
    try {
      return { session: await connect(this.options), sent: 0 };
    } catch (error) {
      this.gate.closed();
      throw error;
    }
  }

  /** Back to the idle list when still usable and under `messagesPerSession`; closed otherwise. */
  release(lease: SessionLease): void {
    lease.sent++;
    const max = this.gate.limits.messagesPerSession;
    if (!lease.session.usable || (max !== undefined && lease.sent >= max)) {
      this.gate.closed();
      void lease.session.quit();
      return;
    }
    const entry = {
      lease,
      timer: setTimeout(() => {
        this.#idle = this.#idle.filter((e) => e !== entry);
        this.gate.closed();
        void lease.session.quit();
      }, IDLE_TIMEOUT),
    };
    entry.timer.unref();
    this.#idle.push(entry);
  }

  async close(): Promise<void> {
    const idle = this.#idle;
    this.#idle = [];
    await Promise.all(
      idle.map(async (e) => {
        clearTimeout(e.timer);
        this.gate.closed();
        await e.lease.session.quit();
      }),
    );
  }
}
