import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { ACQUIRE_SLOT, RENEW_SLOT, REUSE_SLOT } from './redis-scripts.js';

type Script = (...args: Array<string | number>) => Promise<number>;

/**
 * The per-destination limiter of the long tail, in the same Redis as the queue: a semaphore of session slots that
 * expire after `slotTtl` (a dead worker frees its slots), plus new-sessions-per-minute and messages-per-second
 * windows, each step one Lua script so that concurrent workers see one order (redis-scripts.ts).
 */
export class RedisLimiter {
  readonly #redis: Redis;
  readonly #key: (...parts: string[]) => string;
  readonly #now: () => number;
  readonly #slotTtl: number;

  constructor(redis: Redis, key: (...parts: string[]) => string, now: () => number, slotTtl: number) {
    this.#redis = redis;
    this.#key = key;
    this.#now = now;
    this.#slotTtl = slotTtl;
    redis.defineCommand('smtpkitAcquire', { numberOfKeys: 3, lua: ACQUIRE_SLOT });
    redis.defineCommand('smtpkitReuse', { numberOfKeys: 2, lua: REUSE_SLOT });
    redis.defineCommand('smtpkitRenew', { numberOfKeys: 1, lua: RENEW_SLOT });
  }

  #script(name: 'smtpkitAcquire' | 'smtpkitReuse' | 'smtpkitRenew'): Script {
    const script = (this.#redis as unknown as Record<string, Script>)[name] as Script;
    return script.bind(this.#redis);
  }

  /** A new session's slot: 0 go, > 0 ms to wait. */
  acquire(destination: string, token: string, limits: { sessions?: number; newSessionsPerMinute?: number; messagesPerSecond?: number }): Promise<number> {
    return this.#script('smtpkitAcquire')(
      this.#key('slots', destination), this.#key('opened', destination), this.#key('started', destination),
      this.#now(), token, this.#slotTtl, limits.sessions ?? 0, limits.newSessionsPerMinute ?? 0, limits.messagesPerSecond ?? 0,
    );
  }

  /** Renews a session's slot for one more message: 0 go, > 0 ms to wait, -1 the slot expired. */
  reuse(destination: string, token: string, limits: { messagesPerSecond?: number }): Promise<number> {
    return this.#script('smtpkitReuse')(
      this.#key('slots', destination), this.#key('started', destination),
      this.#now(), token, this.#slotTtl, limits.messagesPerSecond ?? 0, `${token}:${randomBytes(4).toString('hex')}`,
    );
  }

  /** Keeps a session's slot alive without counting a message: 0 renewed, -1 the slot expired. */
  renew(destination: string, token: string): Promise<number> {
    return this.#script('smtpkitRenew')(this.#key('slots', destination), this.#now(), token, this.#slotTtl);
  }

  async release(destination: string, token: string): Promise<void> {
    await this.#redis.zrem(this.#key('slots', destination), token);
  }
}
