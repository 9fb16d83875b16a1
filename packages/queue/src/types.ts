import type { AuthOptions, MxResolver, Timeouts, TlsMode } from '@smtpkit/client';
import type { BuiltMessage } from '@smtpkit/mime';
import type { WorkerContext } from './worker-context.js';

/**
 * Where one recipient of one message stands. `queued` and `deferred` wait for an attempt, `in-flight` is being
 * tried, `ambiguous` lost its outcome (connection lost after the final dot, RFC 1047, or a worker killed between
 * the server's 250 and the write); `delivered`, `bounced` and `expired` are final.
 */
export type RecipientState = 'queued' | 'in-flight' | 'delivered' | 'deferred' | 'bounced' | 'expired' | 'ambiguous';

/** The last reply a recipient got, or the local failure that stood in for one (then `code` is absent). */
export interface LastReply {
  /** The server's reply code; absent for local failures (refused connection, timeout): never invented. */
  code?: number;
  /** RFC 3463 enhanced status, e.g. `4.2.1`. */
  enhanced?: string;
  text: string;
  /** The destination that answered (`host:port` in relay mode, the MX host in MX mode). */
  host?: string;
}

/** One recipient in {@link MessageStatus}. */
export interface RecipientStatus {
  recipient: string;
  state: RecipientState;
  /** Transactions tried for this recipient so far. */
  attempts: number;
  reply?: LastReply;
  /** When the next attempt is due (ms since the epoch), for `queued`, `deferred` and retried `ambiguous`. */
  nextAttemptAt?: number;
  /** Attempts whose outcome was lost (a duplicate delivery is possible once for each). */
  ambiguous?: number;
}

/** What `queue.status(id)` returns. */
export interface MessageStatus {
  id: string;
  from: string;
  enqueuedAt: number;
  recipients: RecipientStatus[];
  /** True once every recipient is in a final state. */
  final: boolean;
  /** Set when the message was cancelled. */
  cancelled?: boolean;
}

/** A recipient changed state. */
export interface RecipientEvent {
  id: string;
  recipient: string;
  state: RecipientState;
  reply?: LastReply;
  attempt: number;
  host?: string;
}

/** Every recipient of a message reached a final state. */
export interface MessageEvent {
  id: string;
  recipients: RecipientStatus[];
  /** The id of the DSN queued for the sender, when one was. */
  dsnId?: string;
}

/** Retry schedule and give-up time. */
export interface RetryOptions {
  /** Delays between attempts, ms; the last one repeats. Default 5 min, 15 min, 30 min, 1 h, 2 h, 3 h. */
  schedule?: number[];
  /** Give up this long after enqueue, ms (RFC 5321 §4.5.4.1 suggests 4–5 days). Default 5 days. */
  giveUpAfter?: number;
  /** Spread of each delay as a fraction: 0.1 = ±10 % (the default). */
  jitter?: number;
}

/** Limits for one destination (a relay, an MX host set, or a provider's MX set). */
export interface DestinationLimits {
  /** Concurrent sessions. */
  sessions?: number;
  /** New sessions opened per minute. */
  newSessionsPerMinute?: number;
  /** Messages (transactions) started per second. */
  messagesPerSecond?: number;
  /** Messages sent over one session before it is closed. */
  messagesPerSession?: number;
}

/** `default` applies to every destination without its own entry. */
export type LimitsOptions = { default?: DestinationLimits } & { [destination: string]: DestinationLimits | undefined };

/** Who signs the DSNs (RFC 3464) sent to senders of bounced or expired recipients. */
export interface DsnOptions {
  /** The Reporting-MTA name (RFC 3464 §2.2.2), e.g. `mx.example.org`. */
  reportingMta: string;
  /** The From header of the report, e.g. `MAILER-DAEMON@example.org`; the envelope sender is always `<>`. */
  from: string;
}

/** What to do with a recipient whose outcome was lost. */
export type AmbiguousPolicy = 'retry' | 'fail' | 'assume-sent';

/** Options of {@link createQueue}. */
export interface QueueOptions {
  store: QueueStoreFactory;
  retry?: RetryOptions;
  limits?: LimitsOptions;
  /** DSN settings, or `false` for none. Default: reporting MTA `localhost`, From `MAILER-DAEMON@localhost`. */
  dsn?: false | DsnOptions;
  /** Default `retry`: the recipient is tried again and the event says `ambiguous`. */
  onAmbiguous?: AmbiguousPolicy;
  /** Recipients per transaction (job); default 50. */
  maxRecipientsPerJob?: number;
  /** Clock, for tests; default `Date.now`. */
  now?: () => number;
  /** Random source for jitter; default `Math.random`. */
  random?: () => number;
}

/** A message to queue. */
export interface EnqueueInput {
  /** Envelope sender; `''` is the null reverse-path `<>` (no DSN is ever sent for it). */
  from: string;
  to: readonly string[];
  raw: string | Uint8Array | BuiltMessage;
  /** A repeated key returns the first message's id and queues nothing. */
  idempotencyKey?: string;
}

/** The relay every message goes to. */
export interface RelayTarget {
  host: string;
  port?: number;
  tls?: TlsMode;
  auth?: AuthOptions;
  ca?: string;
  rejectUnauthorized?: boolean;
  allowInsecureAuth?: boolean;
}

/** Points a worker passes, for tracing and fault injection (the chaos runner kills workers at them). */
export type WorkerStep = 'claimed' | 'rcpt-done' | 'data-ended' | 'replied' | 'persisted';

/** Options of `queue.worker()`. */
export interface WorkerOptions {
  /** Transactions in flight at once; default 4. */
  concurrency?: number;
  /** `'mx'`: each domain's MX hosts on port 25; or a relay. */
  deliver: 'mx' | RelayTarget;
  /** EHLO name; default `localhost`. */
  clientName?: string;
  /** Per-step timeouts of the client (RFC 5321 §4.5.3.2 by default). */
  timeouts?: Partial<Timeouts>;
  /** Called at each {@link WorkerStep}; awaited. */
  onStep?: (step: WorkerStep, job: { id: string; recipients: readonly string[] }) => void | Promise<void>;
  /** MX mode only: DNS lookups (default `node:dns/promises`) and the port (default 25). */
  resolver?: MxResolver;
  mxPort?: number;
}

/** A running worker. */
export interface Worker {
  /** Resolves once this worker delivers (with the file spool: once it holds the spool's lock); rejects if it cannot start. */
  readonly ready: Promise<void>;
  /** Finishes the transactions in flight, then stops. */
  close(): Promise<void>;
}

/** A message as stored: envelope and per-recipient state (the body lives apart). */
export interface StoredMessage {
  id: string;
  from: string;
  enqueuedAt: number;
  recipients: RecipientStatus[];
  idempotencyKey?: string;
  done?: boolean;
  /** When the message was finished (every recipient final, DSN queued). */
  finishedAt?: number;
  cancelled?: boolean;
}

/** One recipient's new state, as one entry of an atomic outcome write: the whole status, replaced. */
export type RecipientUpdate = RecipientStatus;

/** Everything a store needs from the queue that opens it. */
export interface StoreContext {
  now: () => number;
}

/** Creates a store; `fileStore()` and `redisStore()` return one. */
export interface QueueStoreFactory {
  readonly kind: string;
  open(ctx: StoreContext): Promise<QueueStore>;
}

/** The durable part of a queue. Messages go in, per-recipient state is read and written atomically. */
export interface QueueStore {
  /** Stores the message durably; with a repeated idempotency key returns the first id and `duplicate: true`. */
  enqueue(message: StoredMessage, body: Uint8Array): Promise<{ id: string; duplicate: boolean }>;
  status(id: string): Promise<MessageStatus | undefined>;
  list(): Promise<MessageStatus[]>;
  /** Cancels a message's pending recipients (they end `bounced`, reply "cancelled"); false when unknown or final. */
  cancel(id: string): Promise<boolean>;
  /** Makes waiting recipients of a message id, or of a recipient domain, due now; returns how many. */
  retryNow(idOrDomain: string): Promise<number>;
  /**
   * Becomes the delivering process (the file spool takes its lock here, waiting while a live process holds it).
   * Recipients found `in-flight` lost their outcome: `onRecovered` says what they become.
   */
  startDelivery(options: StartDeliveryOptions): Promise<DeliveryStore>;
  /** Stores that deliver with a worker of their own (BullMQ) make it here instead. */
  createWorker?(context: WorkerContext, options: WorkerOptions): Worker & { poke(): void };
  close(): Promise<void>;
}

/** Options of {@link QueueStore.startDelivery}. */
export interface StartDeliveryOptions {
  onRecovered: (message: StoredMessage, recipient: RecipientStatus) => RecipientUpdate;
  signal?: AbortSignal;
}

/** What a worker uses while it owns delivery. */
export interface DeliveryStore {
  /** All live (not done) messages, as rebuilt on start; ambiguous recipients already marked. */
  messages(): Iterable<StoredMessage>;
  /** Recipients found in flight on start and marked ambiguous: the worker reports them. */
  readonly recovered: Array<{ id: string; update: RecipientUpdate }>;
  /** Messages that arrived since the last call (other processes' enqueues, retry and cancel requests). */
  poll(): Promise<StoredMessage[]>;
  body(id: string): Promise<Uint8Array>;
  /**
   * Writes the recipients' new states in one atomic, durable write; with `finish` (every recipient final and no
   * report due), the same write marks the message finished, and its body is freed.
   */
  record(id: string, updates: RecipientUpdate[], options?: { finish?: boolean }): Promise<void>;
  /** Marks the message finished and frees its body. */
  finish(id: string): Promise<void>;
  /** Gives up delivery ownership. */
  release(): Promise<void>;
}
