import type { Queue as BullQueue } from 'bullmq';
import type { Redis } from 'ioredis';
import { domainOf, providerOfDomain } from './destination.js';
import type { RecipientUpdate, StoredMessage } from './types.js';

/** Options of {@link redisStore}. */
export interface RedisStoreOptions {
  /** `redis://host:port/db`. */
  url: string;
  /** Prefix of every key and of the BullMQ queues; default `smtpkit`. */
  prefix?: string;
  /** Bodies larger than `inlineBodyMax` go to files here (shared by every worker, e.g. NFS); default: all in Redis. */
  blobDir?: string;
  /** Largest body kept in Redis, bytes; default 64 KiB (only with `blobDir`). */
  inlineBodyMax?: number;
  /**
   * Start even when Redis may lose data: `maxmemory-policy` other than `noeviction`, or AOF off. Default false:
   * the store refuses to start, because an evicted or unsaved job is a lost message.
   */
  dangerouslyAllowVolatileRedis?: boolean;
  /** BullMQ job lock: a killed worker's jobs are taken up after about this long, ms; default 3000. */
  lockDuration?: number;
  /** Limiter slot lifetime: a killed worker's session slot frees after this long, ms; default 30000. */
  slotTtl?: number;
  /** How long opening the store waits for Redis to answer (it may be restarting), ms; default 30000. */
  connectTimeout?: number;
  /**
   * How often a worker looks for messages stored without their jobs (their enqueuing process died in between) and
   * adds the jobs, ms; also once at the worker's start. Default 30000.
   */
  repairInterval?: number;
  /** Called between storing a message and adding its jobs: for fault injection (the chaos runner, tests). */
  onEnqueueStep?: (step: 'stored', id: string) => void | Promise<void>;
}

/** Queues: one per big provider (BullMQ's own limiter and global concurrency apply there) and one for the rest. */
export const REDIS_QUEUES = ['default', 'gmail', 'outlook', 'yahoo'] as const;

/** One job: a message's recipients at one domain. */
export interface RedisJobData {
  id: string;
  rcpts: string[];
}

/** Everything the Redis worker needs from the store. */
export interface RedisStoreInternals {
  readonly redis: Redis;
  readonly prefix: string;
  readonly options: RedisStoreOptions;
  readonly connection: { url: string };
  connectionFor(): Redis;
  load(id: string): Promise<{ message: StoredMessage; claims: Map<string, string> } | undefined>;
  /** Compare-and-set: writes all updates only if each recipient's claim is still the expected one. */
  cas(id: string, updates: Array<{ update: RecipientUpdate; expected: string; claim?: string }>): Promise<boolean>;
  body(id: string): Promise<Uint8Array>;
  /** Exactly one caller wins for a message (the one that reports it finished). */
  startFinish(id: string): Promise<boolean>;
  finish(id: string): Promise<void>;
  acquireSlot(destination: string, token: string, limits: { sessions?: number; newSessionsPerMinute?: number; messagesPerSecond?: number }): Promise<number>;
  /** Renews a session's slot for one more message: 0 go, > 0 ms to wait, -1 the slot expired. */
  reuseSlot(destination: string, token: string, limits: { messagesPerSecond?: number }): Promise<number>;
  /** Keeps a session's slot alive without counting a message: 0 renewed, -1 the slot expired. */
  renewSlot(destination: string, token: string): Promise<number>;
  releaseSlot(destination: string, token: string): Promise<void>;
  repairJobs(grace: number): Promise<number>;
  queue(name: string): BullQueue;
}

/** Jobs carry at most this many recipients (one transaction). */
const JOB_RECIPIENTS = 50;
/** A message's jobs: its recipients grouped by domain, at most {@link JOB_RECIPIENTS} a job, in a fixed order. */
export function jobPlan(message: StoredMessage): Array<{ queue: string; rcpts: string[] }> {
  const byDomain = new Map<string, string[]>();
  for (const r of message.recipients) byDomain.set(domainOf(r.recipient), [...(byDomain.get(domainOf(r.recipient)) ?? []), r.recipient]);
  const jobs: Array<{ queue: string; rcpts: string[] }> = [];
  for (const [domain, rcpts] of byDomain) {
    for (let i = 0; i < rcpts.length; i += JOB_RECIPIENTS) jobs.push({ queue: queueOfDomain(domain), rcpts: rcpts.slice(i, i + JOB_RECIPIENTS) });
  }
  return jobs;
}

/** Which BullMQ queue a domain's jobs go to. */
function queueOfDomain(domain: string): (typeof REDIS_QUEUES)[number] {
  return providerOfDomain(domain) ?? 'default';
}
