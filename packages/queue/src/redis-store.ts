import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { SmtpError } from '@smtpkit/client';
import type { Queue as BullQueue } from 'bullmq';
import type * as Bull from 'bullmq';
import type { Redis } from 'ioredis';
import { publish, writeTemp } from './durable-file.js';
import { domainOf } from './destination.js';
import { CAS_RECIPIENTS } from './redis-scripts.js';
import { checkDurability, loadModules, reconnectDelay, untilReady } from './redis-connection.js';
import { RedisLimiter } from './redis-limiter.js';
import { jobPlan, REDIS_QUEUES, type RedisJobData, type RedisStoreInternals, type RedisStoreOptions } from './redis-options.js';
import { isFinal, toStatus } from './spool-state.js';
import { RedisWorker } from './redis-worker.js';
import type {
  MessageStatus, QueueStore, QueueStoreFactory, RecipientStatus, RecipientUpdate, StoreContext, StoredMessage, Worker, WorkerOptions,
} from './types.js';
import type { WorkerContext } from './worker-context.js';

/** Finished messages stay visible to `status()` this long. */
const KEEP_FINISHED_SECONDS = 24 * 3600;

/**
 * The distributed store: BullMQ on Redis. Many worker processes on many machines share the work; per-recipient state
 * lives in one Redis hash per message (written atomically, compare-and-set on the worker's claim), bodies outside the
 * job data (a Redis key, or a file in `blobDir` for large ones), removed once the message is finished.
 *
 * @example
 * const q = await createQueue({ store: redisStore({ url: 'redis://127.0.0.1:6379', prefix: 'mail' }) });
 */
export function redisStore(options: RedisStoreOptions): QueueStoreFactory {
  return {
    kind: 'redis',
    async open(ctx) {
      const { Redis, Queue } = await loadModules();
      // No request limit: a command waits through a reconnect rather than failing half-way through a state change.
      const redis = new Redis(options.url, { maxRetriesPerRequest: null, lazyConnect: true, retryStrategy: reconnectDelay });
      redis.on('error', () => {}); // ioredis reconnects; failures surface on the commands
      try {
        await untilReady(redis, options);
        await checkDurability(redis, options);
      } catch (error) {
        redis.disconnect();
        throw error;
      }
      if (options.blobDir !== undefined) {
        await mkdir(join(options.blobDir, 'tmp'), { recursive: true, mode: 0o700 });
      }
      return new RedisQueueStore(redis, options, ctx, Queue);
    },
  };
}

class RedisQueueStore implements QueueStore, RedisStoreInternals {
  readonly prefix: string;
  readonly connection: { url: string };
  readonly #queues = new Map<string, BullQueue>();
  /** Connections handed to BullMQ: it does not close connections it was given. */
  readonly #connections: Redis[] = [];
  readonly #limiter: RedisLimiter;

  constructor(
    readonly redis: Redis,
    readonly options: RedisStoreOptions,
    private readonly ctx: StoreContext,
    private readonly QueueClass: typeof Bull.Queue,
  ) {
    this.prefix = options.prefix ?? 'smtpkit';
    this.connection = { url: options.url };
    redis.defineCommand('smtpkitCas', { numberOfKeys: 1, lua: CAS_RECIPIENTS });
    this.#limiter = new RedisLimiter(redis, (...parts) => this.#key(...parts), ctx.now, options.slotTtl ?? 30_000);
  }

  #key(...parts: string[]): string {
    return [this.prefix, ...parts].join(':');
  }

  queue(name: string): BullQueue {
    let q = this.#queues.get(name);
    if (q === undefined) {
      q = new this.QueueClass(name, { connection: this.connectionFor(), prefix: this.prefix });
      q.on('error', () => {});
      this.#queues.set(name, q);
    }
    return q;
  }

  /**
   * A new connection for BullMQ, closed with the store. It connects at once rather than lazily: BullMQ makes a lazy
   * connection's first connect itself, and a failure of that one attempt would leave the queue or worker unusable;
   * a connecting one it waits for, through ioredis's reconnects.
   */
  connectionFor(): Redis {
    const connection = this.redis.duplicate({ lazyConnect: false });
    connection.on('error', () => {});
    this.#connections.push(connection);
    return connection;
  }

  async enqueue(message: StoredMessage, body: Uint8Array): Promise<{ id: string; duplicate: boolean }> {
    const key = this.#key('m', message.id);
    if (message.idempotencyKey !== undefined) {
      // HSETNX on the meta field is the idempotency check: a repeated key finds it set.
      if ((await this.redis.hsetnx(key, 'meta', '{}')) === 0) {
        const [jobs, stored] = await this.redis.multi().hget(key, 'jobs').zscore(this.#key('ids'), message.id).exec() ?? [];
        if (jobs?.[1] !== null) return { id: message.id, duplicate: true };
        // The first enqueue died before its jobs were added (they are added now) or before the message was stored.
        if (stored?.[1] !== null) {
          await this.#addJobs(message.id);
          return { id: message.id, duplicate: true };
        }
      }
    }
    const blob = this.options.blobDir !== undefined && body.byteLength > (this.options.inlineBodyMax ?? 64 * 1024);
    const meta = JSON.stringify({ id: message.id, from: message.from, enqueuedAt: message.enqueuedAt, idempotencyKey: message.idempotencyKey, blob });
    if (blob) {
      const dir = this.options.blobDir as string;
      await publish(await writeTemp(join(dir, 'tmp'), [body]), join(dir, message.id), dir, false);
    }
    const fields: string[] = ['meta', meta, 'plan', JSON.stringify(jobPlan(message))];
    for (const r of message.recipients) fields.push(`r:${r.recipient}`, JSON.stringify(r));
    // One MULTI stores the message; until its jobs are added it is listed in `unjobbed`, which workers sweep.
    const multi = this.redis.multi().hset(key, ...fields);
    if (!blob) multi.set(this.#key('b', message.id), Buffer.from(body.buffer, body.byteOffset, body.byteLength));
    multi.zadd(this.#key('ids'), message.enqueuedAt, message.id).zadd(this.#key('unjobbed'), this.ctx.now(), message.id);
    await multi.exec();
    await this.options.onEnqueueStep?.('stored', message.id);
    await this.#addJobs(message.id);
    return { id: message.id, duplicate: false };
  }

  /**
   * Adds a stored message's jobs from its plan. Job ids are fixed (`<id>-<n>`), so adding them twice (a repair
   * racing the enqueue that is finishing) queues each once; a repeated job of a finished message does nothing.
   */
  async #addJobs(id: string): Promise<void> {
    const key = this.#key('m', id);
    const plan = await this.redis.hget(key, 'plan');
    if (plan === null) return;
    const jobs = JSON.parse(plan) as Array<{ queue: string; rcpts: string[] }>;
    await Promise.all(
      jobs.map((j, n) =>
        this.queue(j.queue).add('deliver', { id, rcpts: j.rcpts } satisfies RedisJobData, {
          jobId: `${id}-${n}`, removeOnComplete: true, removeOnFail: 1000,
          // A failed run is a Redis or disk problem, not an SMTP one (those are state, not errors): try again.
          attempts: 1_000_000, backoff: { type: 'fixed', delay: 1000 },
        }),
      ),
    );
    await this.redis.multi().hset(key, 'jobs', String(jobs.length)).hdel(key, 'plan').zrem(this.#key('unjobbed'), id).exec();
  }

  /**
   * Re-creates the jobs of messages stored without them (the enqueuing process died in between) once they have
   * waited `grace` ms; returns how many messages were repaired.
   */
  async repairJobs(grace: number): Promise<number> {
    const ids = await this.redis.zrangebyscore(this.#key('unjobbed'), '-inf', this.ctx.now() - grace);
    for (const id of ids) await this.#addJobs(id);
    return ids.length;
  }

  async load(id: string): Promise<{ message: StoredMessage; claims: Map<string, string> } | undefined> {
    const h = await this.redis.hgetall(this.#key('m', id));
    if (h.meta === undefined) return undefined;
    const meta = JSON.parse(h.meta) as StoredMessage;
    if (meta.id === undefined) return undefined; // an idempotency key taken by an enqueue that has not stored yet
    const claims = new Map<string, string>();
    const recipients: RecipientStatus[] = [];
    for (const [field, value] of Object.entries(h)) {
      if (!field.startsWith('r:')) continue;
      const { claim, ...r } = JSON.parse(value) as RecipientStatus & { claim?: string };
      claims.set(r.recipient, claim ?? '');
      recipients.push(r);
    }
    const message: StoredMessage = {
      id: meta.id, from: meta.from, enqueuedAt: meta.enqueuedAt, recipients,
      ...(meta.idempotencyKey !== undefined ? { idempotencyKey: meta.idempotencyKey } : {}),
      ...(h.done !== undefined ? { done: true, finishedAt: Number(h.done) } : {}),
      ...(h.cancelled !== undefined ? { cancelled: true } : {}),
    };
    return { message, claims };
  }

  async cas(id: string, updates: Array<{ update: RecipientUpdate; expected: string; claim?: string }>): Promise<boolean> {
    const args: string[] = [String(updates.length)];
    for (const { update, expected, claim } of updates) {
      args.push(`r:${update.recipient}`, expected, JSON.stringify({ ...update, ...(claim !== undefined ? { claim } : {}) }));
    }
    const cas = (this.redis as unknown as { smtpkitCas(key: string, ...args: string[]): Promise<number> }).smtpkitCas;
    return (await cas.call(this.redis, this.#key('m', id), ...args)) === 1;
  }

  async body(id: string): Promise<Uint8Array> {
    const inline = await this.redis.getBuffer(this.#key('b', id));
    if (inline !== null) return inline;
    if (this.options.blobDir !== undefined) return readFile(join(this.options.blobDir, id));
    throw new SmtpError(`the body of message ${id} is missing`, { kind: 'input', code: 'ERR_QUEUE_CORRUPT' });
  }

  async startFinish(id: string): Promise<boolean> {
    // The winner is whoever's token is stored, read back in the same MULTI: a MULTI replayed after a reconnect
    // (its reply lost) still finds its own token, so the report is neither lost nor made twice.
    const key = this.#key('m', id);
    const token = randomBytes(9).toString('hex');
    const result = await this.redis.multi().hsetnx(key, 'finishing', token).hget(key, 'finishing').exec();
    return result?.[1]?.[1] === token;
  }

  async finish(id: string): Promise<void> {
    const key = this.#key('m', id);
    await this.redis.multi().hset(key, 'done', String(this.ctx.now())).del(this.#key('b', id)).zrem(this.#key('ids'), id).expire(key, KEEP_FINISHED_SECONDS).exec();
    if (this.options.blobDir !== undefined) await unlink(join(this.options.blobDir, id)).catch(() => {});
  }

  acquireSlot(destination: string, token: string, limits: { sessions?: number; newSessionsPerMinute?: number; messagesPerSecond?: number }): Promise<number> {
    return this.#limiter.acquire(destination, token, limits);
  }

  reuseSlot(destination: string, token: string, limits: { messagesPerSecond?: number }): Promise<number> {
    return this.#limiter.reuse(destination, token, limits);
  }

  renewSlot(destination: string, token: string): Promise<number> {
    return this.#limiter.renew(destination, token);
  }

  releaseSlot(destination: string, token: string): Promise<void> {
    return this.#limiter.release(destination, token);
  }

  async status(id: string): Promise<MessageStatus | undefined> {
    const loaded = await this.load(id);
    return loaded === undefined ? undefined : toStatus(loaded.message);
  }

  async list(): Promise<MessageStatus[]> {
    const ids = await this.redis.zrange(this.#key('ids'), 0, -1);
    const out: MessageStatus[] = [];
    for (const id of ids) {
      const s = await this.status(id);
      if (s !== undefined) out.push(s);
    }
    return out;
  }

  async cancel(id: string): Promise<boolean> {
    const loaded = await this.load(id);
    if (loaded === undefined || loaded.message.done === true) return false;
    const open = loaded.message.recipients.filter((r) => !isFinal(r));
    if (open.length === 0) return false;
    const ok = await this.cas(id, open.map((r) => ({
      expected: loaded.claims.get(r.recipient) ?? '',
      update: { recipient: r.recipient, state: 'bounced', attempts: r.attempts, reply: { text: 'cancelled' }, ...(r.ambiguous ? { ambiguous: r.ambiguous } : {}) },
    })));
    if (!ok) return false;
    await this.redis.hset(this.#key('m', id), 'cancelled', '1');
    await this.finish(id);
    return true;
  }

  async retryNow(idOrDomain: string): Promise<number> {
    const ids = await this.redis.zrange(this.#key('ids'), 0, -1);
    let count = 0;
    for (const id of ids) {
      const loaded = await this.load(id);
      if (loaded === undefined) continue;
      const byId = id === idOrDomain;
      const due = loaded.message.recipients.filter(
        (r) => !isFinal(r) && r.state !== 'in-flight' && (byId || domainOf(r.recipient) === idOrDomain.toLowerCase()),
      );
      if (due.length === 0) continue;
      const now = this.ctx.now();
      const ok = await this.cas(id, due.map((r) => ({ expected: loaded.claims.get(r.recipient) ?? '', update: { ...r, nextAttemptAt: now } })));
      if (!ok) continue;
      count += due.length;
      const jobs = Number((await this.redis.hget(this.#key('m', id), 'jobs')) ?? 0);
      for (const name of REDIS_QUEUES) {
        for (let n = 0; n < jobs; n++) {
          const job = await this.queue(name).getJob(`${id}-${n}`);
          if (job !== undefined && (await job.isDelayed())) await job.promote().catch(() => {});
        }
      }
    }
    return count;
  }

  startDelivery(): never {
    throw new SmtpError('the Redis store delivers through its own worker', { kind: 'input', code: 'ERR_QUEUE_OPTIONS' });
  }

  createWorker(context: WorkerContext, options: WorkerOptions): Worker & { poke(): void } {
    return new RedisWorker(this, context, options);
  }

  async close(): Promise<void> {
    await Promise.all([...this.#queues.values()].map((q) => q.close()));
    for (const c of this.#connections) c.disconnect();
    this.redis.disconnect();
  }
}
