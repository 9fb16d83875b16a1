import { isSmtpError, type SmtpError } from '@smtpkit/wire';
import { connect } from '../connect.js';
import type { SendReceiver } from '../session.js';
import { checkSession, mayHaveBeenDelivered, outcomeUnknown, queuedBehindFailure, retryDecision } from './retry.js';
import { submit } from './submit.js';
import { newJob, SendQueue } from './queue.js';
import { RateGate } from './rate-limit.js';
import type { BodyProgress } from '../progress.js';
import { abortedError, poolClosedError, poolFullError, unusableError } from '../errors.js';
import { resolvePoolOptions, type PoolSettings } from './settings.js';
import { deferredToAnotherSession, withContinuation } from '../recipient-limit.js';
import type { SendOptions, SendResult, Session } from '../types.js';
import type { ConnectFn, Pool, PoolJob as Job, PoolOptions, Slot } from './types.js';
import { clearIdle, countState, discard, idle, newSlot, pickIdle, pickJoinable, removeSlot } from './slots.js';

/** {@link createPool}'s pool: one class, its methods shared by every pool. */
export class SessionPool implements Pool, SendReceiver<Job> {
  readonly #settings: PoolSettings;
  readonly #connectFn: ConnectFn;
  /** Pumps again once a rate limit lets the next send or connection through. */
  readonly #gate = new RateGate(() => this.#pump());
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
    this.#settings = resolvePoolOptions(options);
    this.#connectFn = options.connectFn ?? connect;
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
    if (this.#closing) return Promise.reject(poolClosedError());
    const signal = sendOptions.signal;
    if (signal?.aborted) return Promise.reject(abortedError(signal.reason, 'while queued in the pool'));
    if (this.#queue.length >= this.#settings.maxQueue) return Promise.reject(poolFullError(this.#settings.maxQueue));
    const { job, promise } = newJob(sendOptions);
    if (signal) {
      const onAbort = (): void => {
        if (this.#queue.remove(job)) {
          this.#settle(job, abortedError(signal.reason, 'while queued in the pool'));
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

  #discard(slot: Slot, error?: Error): void {
    discard(this.#slots, slot, error);
  }

  #retire(slot: Slot): void {
    clearIdle(slot);
    slot.state = 'quitting';
    const session = slot.session;
    void (session ? session.quit() : Promise.resolve())
      .catch(() => session?.destroy())
      .finally(() => {
        removeSlot(this.#slots, slot);
        this.#pump();
      });
  }

  #park(slot: Slot): void {
    const session = slot.session;
    if (!session || !session.usable) {
      this.#discard(slot);
      return;
    }
    if (slot.transactions >= this.#settings.maxMessages || (this.#closing && this.#queue.length === 0)) {
      this.#retire(slot);
      return;
    }
    idle(slot, this.#settings.idleTimeout, () => this.#retire(slot));
  }

  /** Sends a session may carry at once: several only when it pipelines (RFC 2920). */
  readonly #capacity = (session: Session): number =>
    session.capabilities.pipelining && this.#settings.connectOptions.pipelining !== 'never' ? this.#settings.maxPipelined : 1;

  #open(): void {
    const slot = newSlot();
    this.#slots.push(slot);
    this.#connectFn(this.#settings.connectOptions).then(
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
        removeSlot(this.#slots, slot);
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
    if (job.bounces > this.#settings.maxConnections) this.#settle(job, error);
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
      this.#settle(job, abortedError(signal.reason, 'while queued in the pool'));
      this.#leave(slot);
      return;
    }
    slot.inflight.push(job);
    if (first && (slot.dirty || job.check || Date.now() - slot.idleSince >= this.#settings.checkAfterIdle)) void this.#checkThenSend(slot, job);
    else this.#transact(slot, job);
  }

  async #checkThenSend(slot: Slot, job: Job): Promise<void> {
    slot.checking = true;
    const failure = await checkSession(slot.session!, this.#settings.checkCommand);
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
    job.slot = slot;
    submit(session, job.options, this, job);
  }

  /**
   * The outcome of a send handed to a session (see {@link submit}).
   * @internal
   */
  sendDone(job: Job, error: unknown, result: SendResult | undefined, progress: BodyProgress): void {
    const slot = job.slot as Slot;
    if (result) this.#sent(slot, job, result);
    else {
      this.#failed(slot, job, slot.session as Session, error, progress);
      this.#leave(slot, job);
    }
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

  /** A send failed: back to the queue when that is safe (see {@link createPool}), else rejected. */
  #failed(slot: Slot, job: Job, session: Session, error: unknown, progress: BodyProgress): void {
    slot.dirty = true;
    if (queuedBehindFailure(error, progress, session)) {
      job.check = true;
      job.bounces++;
      if (job.bounces > this.#settings.maxConnections) this.#settle(job, error);
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

  #pump(): void {
    const queue = this.#queue;
    while (queue.length > 0) {
      const idle = pickIdle(this.#slots) ?? pickJoinable(this.#slots, this.#capacity, this.#settings.maxMessages);
      if (idle) {
        if (this.#settings.messageRate !== undefined && this.#gate.limited(this.#settings.messageRate)) break;
        this.#run(idle, queue.shift() as Job);
        continue;
      }
      if (countState(this.#slots, 'connecting') >= queue.length || this.#slots.length >= this.#settings.maxConnections) break;
      if (this.#settings.connectionRate !== undefined && this.#gate.limited(this.#settings.connectionRate)) break;
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
