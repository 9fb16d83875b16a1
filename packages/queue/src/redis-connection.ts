import { SmtpError } from '@smtpkit/client';
import type * as Bull from 'bullmq';
import type { Redis } from 'ioredis';
import type * as IoRedis from 'ioredis';
import type { RedisStoreOptions } from './redis-options.js';

/** Reconnect delays after a lost connection: doubling from 100 ms, at most 2 s, for as long as it takes. */
const RECONNECT_FIRST = 100;
const RECONNECT_MAX = 2000;

/** ioredis's `retryStrategy`: every connection of the store (and BullMQ's duplicates of them) reconnects by it. */
export function reconnectDelay(times: number): number {
  return Math.min(RECONNECT_FIRST * 2 ** Math.min(Math.max(times - 1, 0), 10), RECONNECT_MAX);
}

/** The URL without its password, for error messages. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

/** ioredis and BullMQ, loaded only when a Redis store is opened (optional peer dependencies). */
export async function loadModules(): Promise<{ Redis: typeof IoRedis.Redis; Queue: typeof Bull.Queue }> {
  try {
    const [ioredis, bullmq] = await Promise.all([import('ioredis'), import('bullmq')]);
    return { Redis: ioredis.Redis, Queue: bullmq.Queue };
  } catch (error) {
    throw new SmtpError('redisStore needs the optional peer dependencies bullmq and ioredis: npm install bullmq ioredis', {
      kind: 'input', code: 'ERR_QUEUE_REDIS_MISSING', cause: error,
    });
  }
}

/**
 * Waits for the first connection (Redis may be starting or restarting, the network may reset a connection), within
 * `connectTimeout`. A failed attempt is not the end: ioredis goes on reconnecting by its retryStrategy, and the last
 * attempt's error is kept as the cause should time run out. (`events.once` would give up at the first 'error'.)
 */
export async function untilReady(redis: Redis, options: RedisStoreOptions): Promise<void> {
  const ms = options.connectTimeout ?? 30_000;
  let lastError: unknown;
  const noteError = (error: unknown): void => {
    lastError = error;
  };
  let onReady!: () => void;
  let timer: NodeJS.Timeout | undefined;
  const ready = new Promise<boolean>((resolve) => {
    onReady = () => resolve(true);
    timer = setTimeout(() => resolve(false), ms);
  });
  redis.on('error', noteError);
  redis.once('ready', onReady);
  redis.connect().catch(noteError);
  try {
    if (!(await ready)) {
      throw new SmtpError(`cannot reach Redis at ${redactUrl(options.url)} within ${ms} ms`, { kind: 'connection', code: 'ERR_QUEUE_REDIS_UNREACHABLE', cause: lastError });
    }
  } finally {
    clearTimeout(timer);
    redis.off('error', noteError);
    redis.off('ready', onReady);
  }
}

/** Refuses a Redis that may lose queued mail (eviction, no AOF), unless overridden. */
export async function checkDurability(redis: Redis, options: RedisStoreOptions): Promise<void> {
  if (options.dangerouslyAllowVolatileRedis === true) return;
  const policy = ((await redis.config('GET', 'maxmemory-policy')) as string[])[1];
  const aof = ((await redis.config('GET', 'appendonly')) as string[])[1];
  if (policy !== 'noeviction' || aof !== 'yes') {
    throw new SmtpError(
      `Redis may lose queued mail (maxmemory-policy ${policy}, appendonly ${aof}): set maxmemory-policy noeviction and appendonly yes, or pass dangerouslyAllowVolatileRedis`,
      { kind: 'input', code: 'ERR_QUEUE_REDIS_NOT_DURABLE' },
    );
  }
}
