import { connect, SmtpError, type ConnectOptions, type Session } from '@smtpkit/client';
import type { DestinationGate } from './limits.js';

/** Idle sessions are closed after this long by default (RFC 5321 §4.5.3.2 lets a server drop an idle client after 5 min). */
const IDLE_TIMEOUT = 5_000;

/** Options of a {@link SessionCache}. */
export interface SessionCacheOptions {
  /** How long an unused session stays open, ms; default 5000. */
  idleTimeout?: number;
  /**
   * Called with the session's tag once its connection is gone (after QUIT, a failure, or a connect that failed): a
   * slot held for it may be given up.
   */
  onClosed?: (tag: string | undefined) => void | Promise<void>;
  /** Whether a session tagged `tag` may still be opened (the Redis worker: its limiter slot is still held). */
  mayOpen?: (tag: string | undefined) => boolean;
  /** Called with each session opened. */
  onOpened?: (lease: SessionLease) => void;
}

/** A session lent to one transaction. */
export interface SessionLease {
  session: Session;
  sent: number;
  /** The caller's name for what the session holds (the Redis worker: its limiter slot). */
  tag?: string;
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
    private readonly cacheOptions: SessionCacheOptions = {},
  ) {}

  /**
   * Synchronously takes an idle session, or reserves a slot for a new one when the gate allows it; undefined
   * when neither is possible. Reserving here, not after an await, keeps concurrent jobs inside the limit.
   */
  reserve(): SessionLease | 'new' | undefined {
    for (let idle = this.#idle.pop(); idle !== undefined; idle = this.#idle.pop()) {
      clearTimeout(idle.timer);
      if (idle.lease.session.usable) return idle.lease;
      void this.#closeLease(idle.lease);
    }
    if (this.gate.waitToOpen(this.now()) > 0) return undefined;
    this.gate.opened(this.now());
    return 'new';
  }

  /** The reserved session: opened now for `'new'`, tagged `tag`. Throws the connect error (the slot is freed). */
  async acquire(reserved: SessionLease | 'new', tag?: string): Promise<SessionLease> {
    if (reserved !== 'new') return reserved;
    try {
      if (this.cacheOptions.mayOpen?.(tag) === false) {
        throw new SmtpError('the destination\'s session slot lapsed before the session opened', { kind: 'connection', code: 'ERR_QUEUE_SLOT_LAPSED', retryable: true });
      }
      const lease: SessionLease = { session: await connect(this.options), sent: 0, ...(tag !== undefined ? { tag } : {}) };
      this.cacheOptions.onOpened?.(lease);
      return lease;
    } catch (error) {
      this.gate.closed();
      await this.cacheOptions.onClosed?.(tag);
      throw error;
    }
  }

  /** Gives back a reserved `'new'` slot that was not used (the caller could not open a session after all). */
  unreserve(): void {
    this.gate.closed();
  }

  /** Closes a session; its slot is freed once the connection is gone, as the server counts it. */
  async #closeLease(lease: SessionLease): Promise<void> {
    try {
      await lease.session.quit();
    } finally {
      this.gate.closed();
      await this.cacheOptions.onClosed?.(lease.tag);
    }
  }

  /**
   * Back to the idle list when still usable and under `messagesPerSession`; closed otherwise. Resolves once the
   * session is parked or its connection is gone (a limiter slot may be given up only then). `sent` false: the
   * lease carried no message (taken, then not used).
   */
  async release(lease: SessionLease, sent = true): Promise<void> {
    if (sent) lease.sent++;
    const max = this.gate.limits.messagesPerSession;
    if (!lease.session.usable || (max !== undefined && lease.sent >= max)) {
      await this.#closeLease(lease);
      return;
    }
    const entry = {
      lease,
      timer: setTimeout(() => {
        this.#idle = this.#idle.filter((e) => e !== entry);
        void this.#closeLease(lease);
      }, this.cacheOptions.idleTimeout ?? IDLE_TIMEOUT),
    };
    entry.timer.unref();
    this.#idle.push(entry);
  }

  /** Closes a lease taken from the cache and not to be used (its limiter slot was lost). */
  discard(lease: SessionLease): Promise<void> {
    return this.#closeLease(lease);
  }

  async close(): Promise<void> {
    const idle = this.#idle;
    this.#idle = [];
    await Promise.all(
      idle.map(async (e) => {
        clearTimeout(e.timer);
        await this.#closeLease(e.lease);
      }),
    );
  }
}
