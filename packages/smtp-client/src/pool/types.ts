import type { ConnectOptions, SendOptions, SendResult, Session } from '../types.js';

/** Opens a session; {@link connect} by default. */
export type ConnectFn = (options: ConnectOptions) => Promise<Session>;

/** Options of {@link createPool}: connection settings plus the pool's limits. */
export interface PoolOptions extends ConnectOptions {
  /** Open sessions at most (connecting, busy, idle and quitting ones count). Default 5. */
  maxConnections?: number;
  /** A session QUITs after this many transactions (successful or not). Default 100. */
  maxMessagesPerConnection?: number;
  /**
   * Sends handed to one session at a time when it offers PIPELINING (1 otherwise). Above 1 the next
   * message's envelope goes out with the previous one's end of data (RFC 2920 §3.1), so a connection
   * needs one round trip per message instead of two, and one-write BDAT messages stream with up to
   * this many awaiting their replies (RFC 3030 §4.2). Default 8.
   */
  maxPipelinedPerConnection?: number;
  /** An idle session QUITs after this many milliseconds. Default 30 000. */
  idleTimeout?: number;
  /** Sends waiting for a session at most; beyond, `send()` rejects with `ERR_SMTP_POOL_QUEUE_FULL`. Default 1000. */
  maxQueue?: number;
  /**
   * A session idle for this long (ms) or longer is checked with {@link checkCommand} before it is
   * reused; so is every session after a failed transaction. Default 1000.
   */
  checkAfterIdle?: number;
  /** The liveness check before reuse: `RSET` (default, also clears any transaction state) or `NOOP`. */
  checkCommand?: 'RSET' | 'NOOP';
  /** Opens sessions; default {@link connect}. A hook for tests, proxies and instrumentation. */
  connectFn?: ConnectFn;
  /**
   * At most `messages` sends handed to sessions in any `perMs` milliseconds (a sliding window, over the
   * whole pool; retries count). Sends beyond it wait in the queue, in order. E.g. `{ messages: 10, perMs: 1000 }`.
   */
  rateLimit?: { messages: number; perMs: number };
  /** New connections opened at most per minute (a sliding window); providers cap logins as well as messages. */
  maxConnectionsPerMinute?: number;
}

/** A set of reusable sessions to one server; see {@link createPool}. */
export interface Pool {
  /** Queue a message; resolves like {@link Session.send} once a session has sent it. */
  send(options: SendOptions): Promise<SendResult>;
  /** Stop taking sends, let queued and in-flight sends finish, then QUIT every session. */
  close(): Promise<void>;
  /** Open sessions (connecting, busy, idle or quitting). */
  readonly size: number;
  /** Sends waiting for a session. */
  readonly pending: number;
  /** True once {@link close} was called. */
  readonly closed: boolean;
}

export interface PoolJob {
  options: SendOptions;
  resolve(result: SendResult): void;
  reject(error: unknown): void;
  /** Connection-level failures charged to this send so far (0 or 1: one retry at most). */
  failures: number;
  /** Check the session before use even when it was not idle long (the job is being retried). */
  check: boolean;
  /** Sessions that failed their check while this send waited for them. */
  bounces: number;
  detach(): void;
  /** The session carrying the send, while one of ours does (see `SessionPool.sendDone`). */
  slot: Slot | undefined;
  /**
   * The send's first result, when recipients it deferred over the server's limit could not go on its session
   * (it ended): the job now carries them to another session (RFC 5321 §4.5.3.1.10), `to` as first given.
   */
  continuing: { first: SendResult; to: readonly string[] } | undefined;
}

export interface Slot {
  state: 'connecting' | 'idle' | 'busy' | 'quitting';
  session: Session | undefined;
  transactions: number;
  idleSince: number;
  /** A transaction failed: nothing joins the session, and it is checked before reuse. */
  dirty: boolean;
  /** The liveness check runs: nothing joins the session meanwhile. */
  checking: boolean;
  idleTimer: ReturnType<typeof setTimeout> | undefined;
  /** The sends handed to the session and not settled yet, in the order the session runs them. */
  inflight: PoolJob[];
  /** Sends put back in the queue since the session died, to keep their order. */
  requeued: number;
}
