import { randomBytes } from 'node:crypto';
import { promises as dns } from 'node:dns';
import { SmtpError, type MxResolver } from '@smtpkit/client';
import type { Job, Worker as BullWorker } from 'bullmq';
import { domainOf, MxDestinations } from './destination.js';
import { DestinationGate, limitsFor } from './limits.js';
import { ambiguous, claim, dueAt, settle } from './recipient-state.js';
import { REDIS_QUEUES, type RedisJobData, type RedisStoreInternals } from './redis-options.js';
import { SessionCache, type SessionLease } from './session-cache.js';
import { SlotKeeper } from './slot-keeper.js';
import { isFinal } from './spool-state.js';
import { relayConnectOptions, transact } from './transaction.js';
import type { DestinationLimits, RecipientStatus, RecipientUpdate, RelayTarget, StoredMessage, Worker, WorkerOptions } from './types.js';
import { dsnRecipients, messageEvent, queueDsn, recipientEvent, type WorkerContext } from './worker-context.js';

/** How long a job waits when another worker holds its recipients (a stalled job being recovered), ms. */
const CONTENDED_DELAY = 500;
/** The periodic repair leaves messages stored less than this long to the enqueue still adding their jobs, ms. */
const REPAIR_GRACE = 1000;
/**
 * An idle relay session is closed after this long, ms: it holds a limiter slot other workers may be waiting for, so
 * it is kept only for the jobs that follow at once.
 */
const IDLE_SESSION = 500;

/** A session lent to one transaction, and the cache it goes back to. */
interface RelaySession {
  cache: SessionCache;
  reserved: SessionLease | 'new';
  /** The limiter slot a new session takes. */
  tag?: string;
}

/**
 * A BullMQ worker over the Redis store: one BullMQ `Worker` per provider queue. Each job is a message's recipients at
 * one domain; a job waits with `moveToDelayed` + `DelayedError` (no attempt used) for its next retry and for the
 * destination's limiter. Recipients found `in-flight` belonged to a worker that died (BullMQ found the job stalled):
 * they become `ambiguous` by the queue's policy.
 */
export class RedisWorker implements Worker {
  readonly ready: Promise<void>;
  readonly #store: RedisStoreInternals;
  readonly #ctx: WorkerContext;
  readonly #options: WorkerOptions;
  #workers: BullWorker[] = [];
  readonly #mx: MxDestinations | undefined;
  readonly #sessions = new Map<string, SessionCache>();
  #repairTimer: NodeJS.Timeout | undefined;
  readonly #keeper: SlotKeeper;

  constructor(store: RedisStoreInternals, ctx: WorkerContext, options: WorkerOptions) {
    this.#store = store;
    this.#ctx = ctx;
    this.#options = options;
    this.#keeper = new SlotKeeper(store, store.options.slotTtl ?? 30_000, ctx.now);
    this.#mx = options.deliver === 'mx' ? new MxDestinations(options.resolver ?? (dns as unknown as MxResolver), ctx.now) : undefined;
    this.ready = this.#start();
    this.ready.catch((error: unknown) => ctx.emitError(error));
  }

  poke(): void {
    // BullMQ workers are woken by Redis itself.
  }

  async #start(): Promise<void> {
    const { Worker, DelayedError } = await import('bullmq');
    const lockDuration = this.#store.options.lockDuration ?? 3000;
    for (const name of REDIS_QUEUES) {
      const limits = this.#ctx.limits?.[name];
      if (name !== 'default' && limits?.sessions !== undefined) await this.#store.queue(name).setGlobalConcurrency(limits.sessions);
      const worker = new Worker<RedisJobData>(name, (job, token) => this.#process(job, token, DelayedError), {
        connection: this.#store.connectionFor(),
        prefix: this.#store.prefix,
        concurrency: this.#options.concurrency ?? 4,
        lockDuration,
        // A dead worker's job is found at most lockDuration + stalledInterval after its last lock renewal.
        stalledInterval: Math.max(500, Math.floor(lockDuration / 3)),
        maxStalledCount: 1_000_000,
        ...(name !== 'default' && limits?.messagesPerSecond !== undefined ? { limiter: { max: limits.messagesPerSecond, duration: 1000 } } : {}),
      });
      worker.on('error', () => {}); // connection errors: BullMQ reconnects
      this.#workers.push(worker);
    }
    await Promise.all(this.#workers.map((w) => w.waitUntilReady()));
    await this.#repair(0);
    this.#repairTimer = setInterval(() => void this.#repair(REPAIR_GRACE), this.#store.options.repairInterval ?? 30_000);
    this.#repairTimer.unref();
  }

  /** Adds the jobs of messages whose enqueuing process died between storing them and adding their jobs. */
  async #repair(grace: number): Promise<void> {
    try {
      await this.#store.repairJobs(grace);
    } catch {
      // Redis unreachable: the next sweep tries again.
    }
  }

  async #destinationOf(recipient: string): Promise<string> {
    const target = this.#options.deliver;
    if (target === 'mx') return (this.#mx as MxDestinations).of(domainOf(recipient));
    return `${target.host}:${target.port ?? 25}`;
  }

  async #delay(job: Job<RedisJobData>, token: string | undefined, at: number, DelayedError: new () => Error): Promise<never> {
    await job.moveToDelayed(Math.max(at, this.#ctx.now() + 1), token);
    throw new DelayedError();
  }

  async #process(job: Job<RedisJobData>, token: string | undefined, DelayedError: new () => Error): Promise<void> {
    const ctx = this.#ctx;
    const store = this.#store;
    const { id, rcpts } = job.data;
    const loaded = await store.load(id);
    if (loaded === undefined || loaded.message.done === true) return;
    const { message, claims } = loaded;
    const mine = (r: RecipientStatus): boolean => rcpts.includes(r.recipient);
    // In flight, but BullMQ gave us the job: the worker that claimed them is gone. Their outcome is lost.
    const lost = message.recipients.filter((r) => mine(r) && r.state === 'in-flight');
    if (lost.length > 0) {
      const updates = lost.map((r) => ({
        expected: claims.get(r.recipient) ?? '',
        update: ambiguous(r, { text: 'outcome unknown: the worker delivering it stopped during the transaction' }, { onAmbiguous: ctx.onAmbiguous }, ctx.now()),
      }));
      if (!(await store.cas(id, updates))) return this.#delay(job, token, ctx.now() + CONTENDED_DELAY, DelayedError);
      for (const { update } of updates) this.#emit(id, update);
      return this.#process(job, token, DelayedError);
    }
    const now = ctx.now();
    const waiting = message.recipients.filter((r) => mine(r) && !isFinal(r));
    if (waiting.length === 0) return this.#finishIfDone(id);
    const due = waiting.filter((r) => (dueAt(r) ?? Infinity) <= now);
    if (due.length === 0) return this.#delay(job, token, Math.min(...waiting.map((r) => dueAt(r) ?? now + CONTENDED_DELAY)), DelayedError);
    const destination = await this.#destinationOf(due[0]!.recipient);
    const limits = limitsFor(ctx.limits, destination);
    const claimToken = `${job.id}:${randomBytes(6).toString('hex')}`;
    const target = this.#options.deliver;
    if (target === 'mx') {
      // MX mode: one session per transaction, holding a limiter slot for its length.
      const wait = await store.acquireSlot(destination, claimToken, limits);
      if (wait > 0) return this.#delay(job, token, now + wait, DelayedError);
      this.#keeper.renewed(destination, claimToken);
      try {
        await this.#transact(message, due, destination, claimToken, undefined);
      } finally {
        this.#keeper.drop(claimToken);
        await store.releaseSlot(destination, claimToken).catch(() => {});
      }
    } else {
      const session = await this.#takeSession(destination, target, limits);
      if (typeof session === 'number') return this.#delay(job, token, now + session, DelayedError);
      await this.#transact(message, due, destination, claimToken, session);
    }
    const after = await store.load(id);
    const left = after?.message.recipients.filter((r) => mine(r) && !isFinal(r)) ?? [];
    if (left.length > 0) return this.#delay(job, token, Math.min(...left.map((r) => dueAt(r) ?? ctx.now() + CONTENDED_DELAY)), DelayedError);
    return this.#finishIfDone(id);
  }

  /**
   * A relay session for one transaction: an idle one of this worker whose limiter slot is renewed, or a new one
   * once the Redis limiter gives it a slot (held until the session closes, so idle sessions count against
   * `sessions` across every worker). A number is how long to wait, ms.
   */
  async #takeSession(destination: string, target: RelayTarget, limits: DestinationLimits): Promise<RelaySession | number> {
    const store = this.#store;
    const cache = this.#cache(destination, target, limits);
    for (let tries = 0; tries < 4; tries++) {
      const reserved = cache.reserve();
      if (reserved === undefined) return CONTENDED_DELAY;
      if (reserved === 'new') {
        const tag = randomBytes(9).toString('hex');
        let wait: number;
        try {
          wait = await store.acquireSlot(destination, tag, limits);
        } catch (error) {
          cache.unreserve();
          throw error;
        }
        if (wait > 0) {
          cache.unreserve();
          return wait;
        }
        this.#keeper.renewed(destination, tag);
        return { cache, reserved, tag };
      }
      let wait: number;
      try {
        wait = await store.reuseSlot(destination, reserved.tag ?? '', limits);
      } catch (error) {
        await cache.release(reserved, false);
        throw error;
      }
      if (wait === 0) {
        this.#keeper.renewed(destination, reserved.tag ?? '');
        return { cache, reserved };
      }
      if (wait > 0) {
        await cache.release(reserved, false);
        return wait;
      }
      await cache.discard(reserved); // its slot expired: the session no longer counts, so it may not be used
    }
    return CONTENDED_DELAY;
  }

  async #transact(message: StoredMessage, due: RecipientStatus[], destination: string, claimToken: string, session: RelaySession | undefined): Promise<void> {
    const ctx = this.#ctx;
    const store = this.#store;
    const claimed = due.map((r) => ({ expected: '', claim: claimToken, update: claim(r) }));
    const recipients = due.map((r) => r.recipient);
    const info = { id: message.id, recipients };
    let body: Uint8Array | undefined;
    try {
      if (await store.cas(message.id, claimed)) {
        for (const { update } of claimed) this.#emit(message.id, update);
        await this.#options.onStep?.('claimed', info);
        body = await store.body(message.id);
      }
    } finally {
      if (body === undefined && session !== undefined) await this.#giveBack(destination, session);
    }
    if (body === undefined) return; // another worker moved them meanwhile
    const outcome = await transact({
      id: message.id, from: message.from, recipients, body, destination, options: this.#options,
      ...(session !== undefined ? { cache: session.cache, reserved: session.reserved, ...(session.tag !== undefined ? { tag: session.tag } : {}) } : {}),
    });
    await this.#options.onStep?.('replied', info);
    const now = ctx.now();
    const settled = outcome.recipients.map((o) => {
      const r = claimed.find((c) => c.update.recipient === o.recipient)!.update as RecipientStatus;
      return { expected: claimToken, update: settle(r, o, { policy: ctx.policy, onAmbiguous: ctx.onAmbiguous, enqueuedAt: message.enqueuedAt, now, random: ctx.random }) };
    });
    if (!(await store.cas(message.id, settled))) return; // taken over as stalled: the new owner reports them ambiguous
    await this.#options.onStep?.('persisted', info);
    for (const { update } of settled) this.#emit(message.id, update);
  }

  /** A session taken for a transaction that never started: back to the cache, or its slot freed. */
  async #giveBack(destination: string, session: RelaySession): Promise<void> {
    if (session.reserved !== 'new') {
      await session.cache.release(session.reserved, false);
      return;
    }
    session.cache.unreserve();
    if (session.tag === undefined) return;
    this.#keeper.drop(session.tag);
    await this.#store.releaseSlot(destination, session.tag).catch(() => {});
  }

  /** Relay sessions kept by this worker, each holding its Redis limiter slot (its tag) until it closes. */
  #cache(destination: string, target: RelayTarget, limits: DestinationLimits): SessionCache {
    let cache = this.#sessions.get(destination);
    if (cache === undefined) {
      const store = this.#store;
      cache = new SessionCache(
        relayConnectOptions(target, this.#options),
        new DestinationGate(limits.messagesPerSession !== undefined ? { messagesPerSession: limits.messagesPerSession } : {}),
        this.#ctx.now,
        {
          idleTimeout: IDLE_SESSION,
          onClosed: async (tag) => {
            if (tag === undefined) return;
            this.#keeper.drop(tag);
            await store.releaseSlot(destination, tag).catch(() => {});
          },
          mayOpen: (tag) => tag === undefined || !this.#keeper.lapsed(tag),
          onOpened: (lease) => {
            if (lease.tag === undefined) return;
            const lapsed = new SmtpError('the destination\'s session slot could not be renewed in Redis: the session ends before the slot lapses', {
              kind: 'connection', code: 'ERR_QUEUE_SLOT_LAPSED', retryable: true,
            });
            this.#keeper.bind(lease.tag, () => lease.session.destroy(lapsed));
          },
        },
      );
      this.#sessions.set(destination, cache);
    }
    return cache;
  }

  /** A job that sees every recipient of its message final queues the DSN, frees the body and reports the message. */
  async #finishIfDone(id: string): Promise<void> {
    const ctx = this.#ctx;
    const loaded = await this.#store.load(id);
    if (loaded === undefined || loaded.message.done === true) return;
    const m = loaded.message;
    if (!m.recipients.every(isFinal)) return;
    // Every step is idempotent (the DSN's key is fixed), so a finisher killed half-way is simply run again.
    const dsnId = await queueDsn(ctx, m, dsnRecipients(ctx, m, m.recipients), () => this.#store.body(id));
    await this.#store.finish(id);
    if (await this.#store.startFinish(id)) ctx.emitMessage(messageEvent(m, dsnId));
  }

  #emit(id: string, u: RecipientUpdate): void {
    this.#ctx.emitRecipient(recipientEvent(id, u));
  }

  async close(): Promise<void> {
    await this.ready.catch(() => {});
    clearInterval(this.#repairTimer);
    this.#keeper.stop();
    await Promise.all(this.#workers.map((w) => w.close()));
    await Promise.all([...this.#sessions.values()].map((s) => s.close()));
  }
}
