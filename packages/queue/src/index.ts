/**
 * @smtpkit/queue: a durable outbound mail queue with per-recipient state, retries, DSNs and per-destination limits,
 * on an embedded file spool or on BullMQ / Redis.
 * @packageDocumentation
 */
export { createQueue } from './queue.js';
export type { Queue, QueueEvents } from './queue.js';
export { fileStore } from './file-store.js';
export type { FileStoreOptions } from './file-store.js';
export { redisStore } from './redis-store.js';
export { REDIS_QUEUES } from './redis-options.js';
export type { RedisStoreOptions } from './redis-options.js';
export { DEFAULT_GIVE_UP_AFTER, DEFAULT_JITTER, DEFAULT_SCHEDULE } from './retry.js';
export { PROVIDER_MX } from './destination.js';
export { buildDsn } from './dsn.js';
export type {
  AmbiguousPolicy,
  DeliveryStore,
  DestinationLimits,
  DsnOptions,
  EnqueueInput,
  LastReply,
  LimitsOptions,
  MessageEvent,
  MessageStatus,
  QueueOptions,
  QueueStore,
  QueueStoreFactory,
  RecipientEvent,
  RecipientState,
  RecipientStatus,
  RecipientUpdate,
  RelayTarget,
  RetryOptions,
  StartDeliveryOptions,
  StoreContext,
  StoredMessage,
  Worker,
  WorkerOptions,
  WorkerStep,
} from './types.js';
