import { isSmtpError, type SmtpError } from '@smtpkit/wire';
import { connect } from './connect.js';
import { SmtpSession, type SendReceiver } from './session.js';
import { BodyWatch, mayHaveBeenDelivered, outcomeUnknown, retryDecision, watched } from './pool/retry.js';
import { SendQueue } from './pool/queue.js';
import type { SlidingWindow } from './pool/rate-limit.js';
import type { BodyProgress } from './progress.js';
import { abortError, closedError, queueFullError, resolvePoolOptions, unusableError } from './pool/settings.js';
import { deferredToAnotherSession, withContinuation } from './recipient-limit.js';
import type { ConnectOptions, SendOptions, SendResult, Session } from './types.js';

const noop = (): void => {};

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

interface Job {
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
  /** The session carrying the send, while one of ours does (see {@link SessionPool.sendDone}). */
  slot: Slot | undefined;
  /**
   * The send's first result, when recipients it deferred over the server's limit could not go on its session
   * (it ended): the job now carries them to another session (RFC 5321 §4.5.3.1.10), `to` as first given.
   */
  continuing: { first: SendResult; to: readonly string[] } | undefined;
}

interface Slot {
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
  inflight: Job[];
  /** Sends put back in the queue since the session died, to keep their order. */
  requeued: number;
}

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

/** The pool's `resolve`/`reject` of the send being queued, taken from the Promise executor (no closure per send). */
let capturedResolve: ((result: SendResult) => void) | undefined;
let capturedReject: ((error: unknown) => void) | undefined;
function capture(resolve: (result: SendResult) => void, reject: (error: unknown) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

/**
 * {@link createPool}'s pool. A class, not closures made by `createPool`: its methods are the same
 * functions for every pool, so a process that opens pools one after another (or several at once) runs code
 * V8 has already optimized instead of compiling it again per pool.
 */
class SessionPool implements Pool, SendReceiver<Job> {
  readonly #maxConnections: number;
  readonly #maxMessages: number;
  readonly #maxPipelined: number;
  readonly #maxQueue: number;
  readonly #idleTimeout: number;
  readonly #checkAfterIdle: number;
  readonly #checkCommand: 'RSET' | 'NOOP';
  readonly #connectOptions: ConnectOptions;
  readonly #connectFn: ConnectFn;
  readonly #messageRate: SlidingWindow | undefined;
  readonly #connectionRate: SlidingWindow | undefined;
  /** The timer that pumps again once a rate limit lets the next send or connection through. */
  #rateTimer: ReturnType<typeof setTimeout> | undefined;
  #rateDue = 0;
  // An array, not a Set: it is scanned for every send, and indexed loops allocate nothing (at most maxConnections).
  readonly #slots: Slot[] = [];
  readonly #queue = new SendQueue<Job>();
  #closing = false;
  #closeWaiters: Array<() => void> = [];
  #pumpQueued = false;
  /** {@link pumpSoon}'s microtask: made once per pool. */
  readonly #pumpQueuedSends = (): void => {
    this.#pumpQueued = false;
    this.#pump();
  };

  constructor(options: PoolOptions) {
    const settings = resolvePoolOptions(options);
    this.#maxConnections = settings.maxConnections;
    this.#maxMessages = settings.maxMessages;
    this.#maxPipelined = settings.maxPipelined;
    this.#maxQueue = settings.maxQueue;
    this.#idleTimeout = settings.idleTimeout;
    this.#checkAfterIdle = settings.checkAfterIdle;
    this.#checkCommand = settings.checkCommand;
    this.#connectOptions = settings.connectOptions;
    this.#connectFn = options.connectFn ?? connect;
    this.#messageRate = settings.messageRate;
    this.#connectionRate = settings.connectionRate;
  }

  get size(): number {
    return this.#slots.length;
  }

  get pending(): number {
    return this.#queue.length;
  }

  get closed(): boolean {
    return this.#closing;
  }

  send(sendOptions: SendOptions): Promise<SendResult> {
    if (this.#closing) return Promise.reject(closedError());
    const signal = sendOptions.signal;
    if (signal?.aborted) return Promise.reject(abortError(signal.reason));
    if (this.#queue.length >= this.#maxQueue) return Promise.reject(queueFullError(this.#maxQueue));
    const promise = new Promise<SendResult>(capture);
    const job: Job = {
      options: sendOptions,
      resolve: capturedResolve as (result: SendResult) => void,
      reject: capturedReject as (error: unknown) => void,
      failures: 0,
      check: false,
      bounces: 0,
      detach: noop,
      slot: undefined,
      continuing: undefined,
    };
    capturedResolve = undefined;
    capturedReject = undefined;
    if (signal) {
      const onAbort = (): void => {
        if (this.#queue.remove(job)) {
          this.#settle(job, abortError(signal.reason));
          this.#pump();
        }
      };
      signal.addEventListener('abort', onAbort, { once: true });
      job.detach = () => signal.removeEventListener('abort', onAbort);
    }
    this.#queue.push(job);
    this.#pumpSoon();
    return promise;
  }

  close(): Promise<void> {
    this.#closing = true;
    return new Promise<void>((resolve) => {
      this.#closeWaiters.push(resolve);
      this.#pump();
    });
  }

  #countState(state: Slot['state']): number {
    const slots = this.#slots;
    let n = 0;
    for (let i = 0; i < slots.length; i++) if ((slots[i] as Slot).state === state) n++;
    return n;
  }

  #removeSlot(slot: Slot): void {
    const i = this.#slots.indexOf(slot);
    if (i >= 0) this.#slots.splice(i, 1);
  }

  #discard(slot: Slot, error?: Error): void {
    clearIdle(slot);
    this.#removeSlot(slot);
    slot.session?.destroy(error);
  }

  #retire(slot: Slot): void {
    clearIdle(slot);
    slot.state = 'quitting';
    const session = slot.session;
    void (session ? session.quit() : Promise.resolve())
      .catch(() => session?.destroy())
      .finally(() => {
        this.#removeSlot(slot);
        this.#pump();
      });
  }

  #park(slot: Slot): void {
    const session = slot.session;
    if (!session || !session.usable) {
      this.#discard(slot);
      return;
    }
    if (slot.transactions >= this.#maxMessages || (this.#closing && this.#queue.length === 0)) {
      this.#retire(slot);
      return;
    }
    slot.state = 'idle';
    slot.idleSince = Date.now();
    clearIdle(slot);
    slot.idleTimer = setTimeout(() => {
      if (slot.state === 'idle') this.#retire(slot);
    }, this.#idleTimeout);
    slot.idleTimer.unref?.();
  }

  #pickIdle(): Slot | undefined {
    // Most recently used first: hot sessions stay hot and the others reach their idle timeout.
    const slots = this.#slots;
    let best: Slot | undefined;
    for (let i = 0; i < slots.length; i++) {
      const s = slots[i] as Slot;
      if (s.state === 'idle' && (!best || s.idleSince >= best.idleSince)) best = s;
    }
    return best;
  }

  /** Sends a session may carry at once: several only when it pipelines (RFC 2920). */
  #capacity(session: Session): number {
    return session.capabilities.pipelining && this.#connectOptions.pipelining !== 'never' ? this.#maxPipelined : 1;
  }

  /** A busy, healthy, pipelining session with room for one more send, the least loaded first. */
  #pickJoinable(): Slot | undefined {
    const slots = this.#slots;
    let best: Slot | undefined;
    for (let i = 0; i < slots.length; i++) {
      const s = slots[i] as Slot;
      const session = s.session;
      if (s.state !== 'busy' || s.dirty || s.checking || !session?.usable) continue;
      const n = s.inflight.length;
      if (n >= this.#capacity(session) || s.transactions + n >= this.#maxMessages) continue;
      if (!best || n < best.inflight.length) best = s;
    }
    return best;
  }

  #open(): void {
    const slot: Slot = {
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
    this.#slots.push(slot);
    this.#connectFn(this.#connectOptions).then(
      (session) => {
        slot.session = session;
        if (session.usable) {
          this.#park(slot);
          this.#pump();
        } else {
          this.#discard(slot);
          this.#connectFailed(unusableError());
        }
      },
      (error: unknown) => {
        this.#removeSlot(slot);
        this.#connectFailed(error);
      },
    );
  }

  /**
   * The send at the head of the queue pays for a failed connection: retried once when the failure
   * is transient, rejected otherwise, so a dead server cannot spin the pool. Invalid connection
   * options (kind 'input') reject every queued send at once.
   */
  #connectFailed(error: unknown): void {
    if (isSmtpError(error) && error.kind === 'input') {
      // Bad connection options fail every connect the same way: reject everything waiting.
      for (const job of this.#queue.takeAll()) this.#settle(job, error);
      this.#pump();
      return;
    }
    const job = this.#queue.shift();
    if (job) {
      const decision = retryDecision(error, { bodyStarted: false, failures: job.failures, usable: false });
      if (decision === 'retry') {
        job.failures++;
        this.#queue.unshift(job);
      } else {
        this.#settle(job, error);
      }
    }
    this.#pump();
  }

  /**
   * A session failed its check before a send: the send goes back to the head of the queue
   * uncharged, unless it has bounced off more sessions than the pool can hold (a server that
   * fails every check would otherwise make the pool reconnect forever).
   */
  #bounce(job: Job, error: SmtpError): void {
    job.bounces++;
    if (job.bounces > this.#maxConnections) this.#settle(job, error);
    else this.#queue.unshift(job);
    this.#pump();
  }

  #settle(job: Job, error: unknown, result?: SendResult): void {
    job.detach();
    const c = job.continuing;
    // The message went to some recipients already: the others get this outcome, and the send resolves.
    if (c) job.resolve(withContinuation(c.first, c.to, result ?? (isSmtpError(error) ? error : unusableError(error))));
    else if (result) job.resolve(result);
    else job.reject(error);
  }

  /** The liveness check; resolves with why the session cannot be reused, or undefined. */
  async #check(session: Session): Promise<SmtpError | undefined> {
    try {
      await (this.#checkCommand === 'NOOP' ? session.noop() : session.reset());
      return session.usable ? undefined : unusableError();
    } catch (error) {
      return isSmtpError(error) ? error : unusableError(error);
    }
  }

  /** Put a send back at the head of the queue; several from one dead session keep their order. */
  #requeue(slot: Slot, job: Job): void {
    if (slot.session?.usable) this.#queue.unshift(job);
    else this.#queue.insert(slot.requeued++, job);
  }

  /** A send left the session: park it when nothing else runs there, then hand out work. */
  #leave(slot: Slot, job?: Job): void {
    if (job) {
      job.slot = undefined;
      const i = slot.inflight.indexOf(job);
      if (i >= 0) slot.inflight.splice(i, 1);
    }
    if (slot.inflight.length === 0 && slot.state === 'busy') this.#park(slot);
    this.#pump();
  }

  /** Hand a send to a session; a session's first send after idling or a failure checks it first. */
  #run(slot: Slot, job: Job): void {
    const first = slot.inflight.length === 0;
    slot.state = 'busy';
    clearIdle(slot);
    const signal = job.options.signal;
    if (signal?.aborted) {
      this.#settle(job, abortError(signal.reason));
      this.#leave(slot);
      return;
    }
    slot.inflight.push(job);
    if (first && (slot.dirty || job.check || Date.now() - slot.idleSince >= this.#checkAfterIdle)) void this.#checkThenSend(slot, job);
    else this.#transact(slot, job);
  }

  async #checkThenSend(slot: Slot, job: Job): Promise<void> {
    slot.checking = true;
    const failure = await this.#check(slot.session!);
    slot.checking = false;
    if (failure) {
      slot.inflight.splice(slot.inflight.indexOf(job), 1);
      this.#discard(slot);
      this.#bounce(job, failure);
      return;
    }
    slot.dirty = false;
    this.#transact(slot, job);
  }

  #transact(slot: Slot, job: Job): void {
    const session = slot.session!;
    if (!session.usable) {
      slot.inflight.splice(slot.inflight.indexOf(job), 1);
      if (slot.inflight.length === 0) this.#discard(slot);
      this.#bounce(job, unusableError());
      return;
    }
    if (session instanceof SmtpSession) {
      // Our own session reports back to the pool directly ({@link sendDone}), with how far the body got:
      // no promise, no closure and no wrapped options per send between the session and the pool.
      job.slot = slot;
      session.submit(job.options, this, job);
      return;
    }
    // Any other session: its progress is followed through the send's hooks.
    const watch = new BodyWatch();
    session.send(watched(job.options, watch)).then(
      (result) => this.#sent(slot, job, result),
      (error: unknown) => this.#notSent(slot, job, session, error, watch),
    );
  }

  /**
   * The outcome of a send handed to one of our sessions (see {@link SmtpSession.submit}).
   * @internal
   */
  sendDone(job: Job, error: unknown, result: SendResult | undefined, progress: BodyProgress): void {
    const slot = job.slot as Slot;
    if (result) this.#sent(slot, job, result);
    else this.#notSent(slot, job, slot.session as Session, error, progress);
  }

  #sent(slot: Slot, job: Job, result: SendResult): void {
    slot.transactions++;
    const rest = job.continuing ? [] : deferredToAnotherSession(result);
    if (rest.length > 0) {
      // Its session ended before the recipients over the limit got their transaction: another session takes them.
      job.continuing = { first: result, to: job.options.to };
      job.options = { ...job.options, to: rest };
      job.check = true;
      this.#requeue(slot, job);
    } else this.#settle(job, undefined, result);
    this.#leave(slot, job);
  }

  #notSent(slot: Slot, job: Job, session: Session, error: unknown, progress: BodyProgress): void {
    this.#failed(slot, job, session, error, progress);
    this.#leave(slot, job);
  }

  /** A send failed: back to the queue when that is safe (see {@link createPool}), else rejected. */
  #failed(slot: Slot, job: Job, session: Session, error: unknown, progress: BodyProgress): void {
    slot.dirty = true;
    if (!progress.started && !session.usable && isSmtpError(error) && error.code === 'ERR_SMTP_SESSION_UNUSABLE') {
      // Queued behind a send that killed the session: nothing of its own went out, or only its
      // envelope, written early after the previous end of data (RFC 2920 §3.1), which the server
      // drops with the connection. Not its fault: back to the queue, uncharged.
      job.check = true;
      job.bounces++;
      if (job.bounces > this.#maxConnections) this.#settle(job, error);
      else this.#requeue(slot, job);
      return;
    }
    slot.transactions++;
    const decision = retryDecision(error, { bodyStarted: progress.started, failures: job.failures, usable: session.usable });
    if (decision === 'retry') {
      job.failures++;
      job.check = true;
      this.#requeue(slot, job);
    } else {
      this.#settle(job, mayHaveBeenDelivered(error, progress.endWritten) ? outcomeUnknown(error) : error);
    }
  }

  /**
   * Sends made together (in one tick) are handed out by one pump after they are all queued, not by one
   * each: queueing stays a push, whatever the number of sends.
   */
  #pumpSoon(): void {
    if (this.#pumpQueued) return;
    this.#pumpQueued = true;
    queueMicrotask(this.#pumpQueuedSends);
  }

  /**
   * True when `rate` allows nothing more now: the pump runs again when it does. Otherwise the event
   * is counted and false returned.
   */
  #limited(rate: SlidingWindow): boolean {
    const now = Date.now();
    const wait = rate.wait(now);
    if (wait === 0) {
      rate.take(now);
      return false;
    }
    const due = now + wait;
    if (this.#rateTimer === undefined || due < this.#rateDue) {
      if (this.#rateTimer !== undefined) clearTimeout(this.#rateTimer);
      this.#rateDue = due;
      this.#rateTimer = setTimeout(() => {
        this.#rateTimer = undefined;
        this.#pump();
      }, wait);
    }
    return true;
  }

  #pump(): void {
    const queue = this.#queue;
    while (queue.length > 0) {
      const idle = this.#pickIdle() ?? this.#pickJoinable();
      if (idle) {
        if (this.#messageRate !== undefined && this.#limited(this.#messageRate)) break;
        this.#run(idle, queue.shift() as Job);
        continue;
      }
      if (this.#countState('connecting') >= queue.length || this.#slots.length >= this.#maxConnections) break;
      if (this.#connectionRate !== undefined && this.#limited(this.#connectionRate)) break;
      this.#open();
    }
    if (this.#closing && queue.length === 0) {
      for (const s of this.#slots.slice()) if (s.state === 'idle') this.#retire(s);
      if (this.#slots.length === 0) {
        const waiters = this.#closeWaiters;
        this.#closeWaiters = [];
        for (const w of waiters) w();
      }
    }
  }
}

function clearIdle(slot: Slot): void {
  if (slot.idleTimer !== undefined) clearTimeout(slot.idleTimer);
  slot.idleTimer = undefined;
}
