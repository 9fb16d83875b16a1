import { SessionPool } from './pool/session-pool.js';
import type { Pool, PoolOptions } from './pool/types.js';

export type { ConnectFn, Pool, PoolOptions } from './pool/types.js';

/**
 * A pool of SMTP sessions to one server, with the same `send()` as a {@link Session}.
 *
 * - Sends queue in order and spread over up to `maxConnections` sessions. A session that offers
 *   PIPELINING carries up to `maxPipelinedPerConnection` sends at once: it runs them in order, and
 *   each next envelope follows the previous end of data in one write (RFC 2920 §3.1). Others run
 *   one transaction at a time.
 * - A session is checked (RSET, or NOOP, under the command timeout) before reuse when it was idle
 *   longer than `checkAfterIdle` or its last transaction failed. It is never reused after a
 *   timeout, an abort, a 421, a protocol error or a failed check (`session.usable` is false): it
 *   is destroyed and a new one opened.
 * - Sessions QUIT after `maxMessagesPerConnection` transactions or `idleTimeout` ms idle.
 * - The queue is bounded by `maxQueue`: beyond it `send()` rejects at once with kind
 *   'connection', code `ERR_SMTP_POOL_QUEUE_FULL`, `retryable: true` (nothing was sent; the same
 *   send succeeds once the queue drains, so back off and retry).
 * - A send whose session fails at connection level (connect failure, reset, timeout, 421) before
 *   its body started is retried once on another, checked or new, session. Sends queued behind it
 *   on that session, which wrote nothing or only their envelope, go back to the queue uncharged. Once body octets went
 *   out it is never retried by the pool; its error says whether the caller may. When the end of
 *   data went out and no reply came, the message may have been delivered (RFC 5321 §4.1.1.4,
 *   §6.1): the send rejects with code `ERR_SMTP_OUTCOME_UNKNOWN`, `retryable: false`.
 * - A send's `signal` removes it from the queue (rejecting with kind 'aborted'); once running, it
 *   aborts the transaction and the session is dropped.
 * - After `close()`, `send()` rejects with kind 'input', code `ERR_SMTP_POOL_CLOSED`.
 *
 * @example
 * ```ts
 * const pool = createPool({ host: 'smtp.example.com', port: 587, auth: { user, pass }, maxConnections: 3 });
 * await Promise.all(messages.map((m) => pool.send({ from: 'a@example.com', to: [m.to], data: m.raw })));
 * await pool.close();
 * ```
 */
export function createPool(options: PoolOptions): Pool {
  return new SessionPool(options);
}
