import { promises as dns } from 'node:dns';
import type { MxResolver } from '@smtpkit/client';
import { DueHeap } from './due-heap.js';
import { domainOf, MxDestinations } from './destination.js';
import { DestinationGate, limitsFor } from './limits.js';
import type { TransactionOutcome } from './outcome.js';
import { relayConnectOptions, transact } from './transaction.js';
import { ambiguous, claim, dueAt, nextDueAt, settle } from './recipient-state.js';
import { SessionCache, type SessionLease } from './session-cache.js';
import { isFinal } from './spool-state.js';
import type { DeliveryStore, RecipientUpdate, StoredMessage, Worker, WorkerOptions } from './types.js';
import { dsnRecipients, messageEvent, queueDsn, recipientEvent, type WorkerContext } from './worker-context.js';

/** How often the worker looks for messages other processes queued, and for retry/cancel requests. */
const POLL_INTERVAL = 250;

interface Job {
  message: StoredMessage;
  recipients: string[];
  destination: string;
  /** Relay mode: the session this job was given at dispatch. */
  session?: SessionLease | 'new';
}

/**
 * Delivers what the store holds: takes due recipients, groups them per destination into jobs of at most
 * `maxRecipientsPerJob`, runs up to `concurrency` transactions within each destination's limits, and writes each
 * transaction's outcomes in one atomic record before the next step.
 */
export class QueueWorker implements Worker {
  readonly #ctx: WorkerContext;
  readonly #options: WorkerOptions;
  readonly #concurrency: number;
  #delivery: DeliveryStore | undefined;
  readonly #abort = new AbortController();
  #closing = false;
  readonly #live = new Map<string, StoredMessage>();
  readonly #busy = new Map<string, Set<string>>();
  readonly #heap = new DueHeap();
  readonly #ready = new Map<string, Job[]>();
  readonly #gates = new Map<string, DestinationGate>();
  readonly #sessions = new Map<string, SessionCache>();
  readonly #mx: MxDestinations | undefined;
  #active = 0;
  #wake: (() => void) | undefined;
  /** Set by {@link #signal} while the loop is busy, so a wake-up that comes before the wait is not lost. */
  #signalled = false;
  readonly #running: Promise<void>;
  #pollNow = false;
  readonly ready: Promise<void>;
  #started!: () => void;

  constructor(ctx: WorkerContext, options: WorkerOptions) {
    this.#ctx = ctx;
    this.#options = options;
    this.#concurrency = options.concurrency ?? 4;
    this.#mx = options.deliver === 'mx' ? new MxDestinations(options.resolver ?? (dns as unknown as MxResolver), ctx.now) : undefined;
    this.ready = new Promise<void>((resolve) => (this.#started = resolve));
    this.#running = this.#run();
    this.ready = Promise.race([this.ready, this.#running]);
    this.#running.catch(() => {});
    this.ready.catch(() => {});
  }

  /** Look for new work now (the queue calls this after its own enqueue, retry or cancel). */
  poke(): void {
    this.#pollNow = true;
    this.#signal();
  }

  #signal(): void {
    this.#signalled = true;
    this.#wake?.();
  }

  async close(): Promise<void> {
    this.#closing = true;
    this.#abort.abort();
    this.#signal();
    try {
      await this.#running;
    } finally {
      await Promise.all([...this.#sessions.values()].map((s) => s.close()));
      await this.#delivery?.release();
    }
  }

  async #run(): Promise<void> {
    const ctx = this.#ctx;
    try {
      this.#delivery = await ctx.store.startDelivery({
        signal: this.#abort.signal,
        onRecovered: (_m, r) =>
          ambiguous(r, { text: 'outcome unknown: the delivering process stopped during the transaction' }, { onAmbiguous: ctx.onAmbiguous }, ctx.now()),
      });
    } catch (error) {
      if (this.#closing) return;
      ctx.emitError(error);
      throw error;
    }
    this.#started();
    for (const { id, update } of this.#delivery.recovered) this.#emitUpdate(id, update);
    for (const m of this.#delivery.messages()) await this.#admit(m);
    let lastPoll = ctx.now();
    try {
      while (!this.#closing) {
        let now = ctx.now();
        if (this.#pollNow || now - lastPoll >= POLL_INTERVAL) {
          this.#pollNow = false;
          lastPoll = now;
          for (const m of await this.#delivery.poll()) await this.#admit(m);
        }
        for (let id = this.#heap.popDue(now); id !== undefined; id = this.#heap.popDue(now)) {
          const m = this.#live.get(id);
          if (m !== undefined) await this.#schedule(m);
        }
        now = ctx.now();
        let wait = Math.min(POLL_INTERVAL, (this.#heap.peek() ?? Infinity) - now);
        wait = Math.min(wait, this.#dispatch(now));
        if (this.#signalled) {
          this.#signalled = false;
          continue;
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.max(1, wait));
          this.#wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.#wake = undefined;
        this.#signalled = false;
      }
    } catch (error) {
      ctx.emitError(error);
      throw error;
    } finally {
      while (this.#active > 0) await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  /** A message is known to this worker: finished when all final, else waiting on the heap. */
  async #admit(m: StoredMessage): Promise<void> {
    if (m.done === true) {
      this.#live.delete(m.id);
      return;
    }
    this.#live.set(m.id, m);
    if (m.recipients.every(isFinal)) {
      if (!this.#busy.has(m.id)) await this.#finish(m);
      return;
    }
    const next = this.#nextDue(m);
    if (next !== undefined) this.#heap.push(next, m.id);
  }

  #nextDue(m: StoredMessage): number | undefined {
    return nextDueAt(m.recipients, this.#busy.get(m.id));
  }

  /** Turns a message's due recipients into jobs on their destinations' ready lists. */
  async #schedule(m: StoredMessage): Promise<void> {
    const now = this.#ctx.now();
    const busy = this.#busy.get(m.id) ?? new Set<string>();
    const due = m.recipients.filter((r) => !busy.has(r.recipient) && (dueAt(r) ?? Infinity) <= now).map((r) => r.recipient);
    if (due.length === 0) {
      const next = this.#nextDue(m);
      if (next !== undefined) this.#heap.push(next, m.id);
      return;
    }
    const groups = new Map<string, string[]>();
    for (const rcpt of due) {
      const destination = await this.#destinationOf(rcpt);
      groups.set(destination, [...(groups.get(destination) ?? []), rcpt]);
    }
    for (const [destination, rcpts] of groups) {
      for (let i = 0; i < rcpts.length; i += this.#ctx.maxRecipientsPerJob) {
        const recipients = rcpts.slice(i, i + this.#ctx.maxRecipientsPerJob);
        for (const r of recipients) busy.add(r);
        const list = this.#ready.get(destination) ?? [];
        list.push({ message: m, recipients, destination });
        this.#ready.set(destination, list);
      }
    }
    this.#busy.set(m.id, busy);
  }

  async #destinationOf(recipient: string): Promise<string> {
    const target = this.#options.deliver;
    if (target === 'mx') return (this.#mx as MxDestinations).of(domainOf(recipient));
    return `${target.host}:${target.port ?? 25}`;
  }

  #gate(destination: string): DestinationGate {
    let gate = this.#gates.get(destination);
    if (gate === undefined) {
      gate = new DestinationGate(limitsFor(this.#ctx.limits, destination));
      this.#gates.set(destination, gate);
    }
    return gate;
  }

  /** Starts every job the limits allow; returns how long until one may start that cannot now. */
  #dispatch(now: number): number {
    let wait = Infinity;
    for (const [destination, jobs] of this.#ready) {
      const gate = this.#gate(destination);
      while (jobs.length > 0 && this.#active < this.#concurrency) {
        const blocked = Math.max(gate.waitToSend(now), this.#mx !== undefined ? gate.waitToOpen(now) : 0);
        if (blocked > 0) {
          wait = Math.min(wait, blocked);
          break;
        }
        const target = this.#options.deliver;
        const session = target === 'mx' ? undefined : this.#sessionCache(destination, target).reserve();
        if (target !== 'mx' && session === undefined) {
          const open = gate.waitToOpen(now);
          if (open !== Infinity) wait = Math.min(wait, open);
          break; // every session busy: a finishing job wakes the loop
        }
        const job = jobs.shift()!;
        job.session = session;
        gate.started(now);
        if (this.#mx !== undefined) gate.opened(now);
        this.#active++;
        void this.#runJob(job).finally(() => {
          this.#active--;
          if (this.#mx !== undefined) gate.closed();
          this.#signal();
        });
      }
      if (jobs.length === 0) this.#ready.delete(destination);
    }
    return wait;
  }

  async #runJob(job: Job): Promise<void> {
    const ctx = this.#ctx;
    const delivery = this.#delivery as DeliveryStore;
    const m = job.message;
    const info = { id: m.id, recipients: job.recipients };
    let finished = false;
    try {
      const claimed = job.recipients.map((rcpt) => claim(this.#recipient(m, rcpt)));
      await delivery.record(m.id, claimed);
      for (const u of claimed) this.#emitUpdate(m.id, u);
      await this.#options.onStep?.('claimed', info);
      const body = await delivery.body(m.id);
      const outcome = await this.#send(job, body);
      this.#gate(job.destination).signal(outcome.destination, ctx.now());
      await this.#options.onStep?.('replied', info);
      const now = ctx.now();
      const updates = outcome.recipients.map((o) =>
        settle(this.#recipient(m, o.recipient), o, { policy: ctx.policy, onAmbiguous: ctx.onAmbiguous, enqueuedAt: m.enqueuedAt, now, random: ctx.random }),
      );
      finished = this.#settles(m, job, updates);
      await delivery.record(m.id, updates, { finish: finished });
      await this.#options.onStep?.('persisted', info);
      for (const u of updates) this.#emitUpdate(m.id, u);
    } catch (error) {
      // The store failed (disk, lost lock): stop rather than deliver without a record.
      ctx.emitError(error);
      this.#closing = true;
      return;
    } finally {
      const busy = this.#busy.get(m.id);
      for (const r of job.recipients) busy?.delete(r);
      if (busy?.size === 0) this.#busy.delete(m.id);
    }
    if (finished) this.#report(m);
    else if (!this.#closing) await this.#admit(m).catch((error: unknown) => ctx.emitError(error));
  }

  /** True when these outcomes leave every recipient final, no other job holds one, and no DSN is due. */
  #settles(m: StoredMessage, job: Job, updates: RecipientUpdate[]): boolean {
    if ((this.#busy.get(m.id)?.size ?? 0) > job.recipients.length) return false;
    const after = m.recipients.map((r) => updates.find((u) => u.recipient === r.recipient) ?? r);
    return after.every(isFinal) && dsnRecipients(this.#ctx, m, after).length === 0;
  }

  #recipient(m: StoredMessage, address: string) {
    const r = m.recipients.find((x) => x.recipient === address);
    if (r === undefined) throw new Error(`recipient ${address} is not in message ${m.id}`);
    return r;
  }

  #send(job: Job, body: Uint8Array): Promise<TransactionOutcome> {
    const target = this.#options.deliver;
    return transact({
      id: job.message.id, from: job.message.from, recipients: job.recipients, body, destination: job.destination, options: this.#options,
      ...(target === 'mx' ? {} : { cache: this.#sessionCache(job.destination, target), reserved: job.session ?? 'new' }),
    });
  }

  #sessionCache(destination: string, target: Exclude<WorkerOptions['deliver'], 'mx'>): SessionCache {
    let cache = this.#sessions.get(destination);
    if (cache === undefined) {
      const options = relayConnectOptions(target, this.#options);
      cache = new SessionCache(options, this.#gate(destination), this.#ctx.now);
      this.#sessions.set(destination, cache);
    }
    return cache;
  }

  #emitUpdate(id: string, u: RecipientUpdate): void {
    this.#ctx.emitRecipient(recipientEvent(id, u));
  }

  /** Every recipient final: queue the DSN for the failed ones (never for `<>`), mark the message done, report it. */
  async #finish(m: StoredMessage): Promise<void> {
    const delivery = this.#delivery as DeliveryStore;
    const dsnId = await queueDsn(this.#ctx, m, dsnRecipients(this.#ctx, m, m.recipients), () => delivery.body(m.id));
    await delivery.finish(m.id);
    this.#report(m, dsnId);
  }

  #report(m: StoredMessage, dsnId?: string): void {
    this.#live.delete(m.id);
    this.#ctx.emitMessage(messageEvent(m, dsnId));
  }
}
