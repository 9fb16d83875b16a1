import { Buffer } from 'node:buffer';
import { SmtpError } from '@smtpkit/client';
import type { BuiltMessage } from '@smtpkit/mime';
import { messageId } from './file-store.js';
import { checkLimits } from './limits.js';
import { retryPolicy } from './retry.js';
import type {
  DsnOptions, EnqueueInput, MessageEvent, MessageStatus, QueueOptions, QueueStore, RecipientEvent, StoredMessage, Worker,
  WorkerOptions,
} from './types.js';
import { QueueWorker } from './worker.js';
import type { WorkerContext } from './worker-context.js';

/** Events of a queue and their payloads. */
export interface QueueEvents {
  recipient: RecipientEvent;
  message: MessageEvent;
  /** The worker stopped on a store failure (disk full, lost lock); nothing is delivered without its record. */
  error: unknown;
}

/** A durable outbound queue. */
export interface Queue {
  /** Stores the message durably before resolving; a repeated `idempotencyKey` returns the first id. */
  enqueue(input: EnqueueInput): Promise<{ id: string; duplicate: boolean }>;
  /** Subscribes to an event; returns a function that unsubscribes. */
  on<K extends keyof QueueEvents>(event: K, listener: (e: QueueEvents[K]) => void): () => void;
  /** Starts delivering in this process (with the file spool: once this process holds the spool's lock). */
  worker(options: WorkerOptions): Worker;
  status(id: string): Promise<MessageStatus | undefined>;
  /** Every message the store still knows (live, and finished ones kept for a while). */
  list(): Promise<MessageStatus[]>;
  /** Cancels the recipients not yet final; true when there were any. */
  cancel(id: string): Promise<boolean>;
  /** Makes the waiting recipients of a message id, or of a recipient domain, due now; returns how many. */
  retryNow(idOrDomain: string): Promise<number>;
  /** Stops the worker (if any) and closes the store. */
  close(): Promise<void>;
}

const DEFAULT_DSN: DsnOptions = { reportingMta: 'localhost', from: 'MAILER-DAEMON@localhost' };
// RFC 5321 §4.5.3.1.3: a path is at most 256 octets; addresses here are the mailbox without '<>'.
const MAX_ADDRESS = 254;
const MAILBOX = /^[^\s<>()@,;:\\"[\]]+(?:"[^"]*")?@[^\s<>()@,;:\\"[\]]+$|^"[^"\r\n]*"@[^\s<>()@,;:\\"[\]]+$/u;

function inputError(message: string): SmtpError {
  return new SmtpError(message, { kind: 'input', code: 'ERR_QUEUE_INPUT' });
}

function checkAddress(address: unknown, field: string): string {
  if (typeof address !== 'string') throw inputError(`${field} must be a string`);
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(address)) throw inputError(`${field} contains a control character: ${JSON.stringify(address)}`);
  if (address.length > MAX_ADDRESS || !MAILBOX.test(address)) throw inputError(`${field} is not an address: ${JSON.stringify(address)}`);
  return address;
}

async function bodyBytes(raw: EnqueueInput['raw']): Promise<Uint8Array> {
  if (typeof raw === 'string') return Buffer.from(raw, 'utf8');
  if (raw instanceof Uint8Array) return raw;
  if (raw !== null && typeof raw === 'object' && typeof (raw as BuiltMessage).toBuffer === 'function') return (raw as BuiltMessage).toBuffer();
  throw inputError('raw must be a string, a Uint8Array or a BuiltMessage');
}

/**
 * Opens a queue on a store.
 *
 * @example
 * const q = await createQueue({ store: fileStore({ dir: './spool' }) });
 * const { id } = await q.enqueue({ from: 'a@example.org', to: ['b@example.com'], raw });
 * q.on('recipient', (e) => console.log(e.recipient, e.state, e.reply?.code));
 * const w = q.worker({ deliver: { host: '127.0.0.1', port: 1025, tls: 'none' } });
 * // … later
 * await w.close(); await q.close();
 */
export async function createQueue(options: QueueOptions): Promise<Queue> {
  const policy = retryPolicy(options.retry);
  checkLimits(options.limits);
  const onAmbiguous = options.onAmbiguous ?? 'retry';
  if (!['retry', 'fail', 'assume-sent'].includes(onAmbiguous)) throw inputError(`onAmbiguous must be retry, fail or assume-sent, got ${JSON.stringify(onAmbiguous)}`);
  const maxRecipientsPerJob = options.maxRecipientsPerJob ?? 50;
  if (!Number.isInteger(maxRecipientsPerJob) || maxRecipientsPerJob < 1) throw inputError('maxRecipientsPerJob must be a positive integer');
  if (options.dsn !== undefined && options.dsn !== false) {
    checkAddress(options.dsn.from, 'dsn.from');
    if (typeof options.dsn.reportingMta !== 'string' || !/^[A-Za-z0-9.-]+$/.test(options.dsn.reportingMta)) throw inputError('dsn.reportingMta must be a host name');
  }
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const store: QueueStore = await options.store.open({ now });
  const listeners: { [K in keyof QueueEvents]: Set<(e: QueueEvents[K]) => void> } = { recipient: new Set(), message: new Set(), error: new Set() };
  const emit = <K extends keyof QueueEvents>(event: K, e: QueueEvents[K]): void => {
    for (const listener of listeners[event]) {
      try {
        listener(e);
      } catch (error) {
        if (event !== 'error') emit('error', error);
      }
    }
  };
  let worker: (Worker & { poke(): void }) | undefined;

  const enqueue = async (input: EnqueueInput): Promise<{ id: string; duplicate: boolean }> => {
    if (input === null || typeof input !== 'object') throw inputError('enqueue needs { from, to, raw }');
    const from = input.from === '' ? '' : checkAddress(input.from, 'from');
    if (!Array.isArray(input.to) || input.to.length === 0) throw inputError('to must list at least one recipient');
    const seen = new Set<string>();
    const to = input.to.map((a, i) => checkAddress(a, `to[${i}]`)).filter((a) => {
      // RFC 5321 §2.4: the domain is case-insensitive, the local part may not be.
      const key = a.slice(0, a.lastIndexOf('@')) + a.slice(a.lastIndexOf('@')).toLowerCase();
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    if (input.idempotencyKey !== undefined && (typeof input.idempotencyKey !== 'string' || input.idempotencyKey === '')) {
      throw inputError('idempotencyKey must be a non-empty string');
    }
    const body = await bodyBytes(input.raw);
    if (body.length === 0) throw inputError('the message is empty');
    const enqueuedAt = now();
    const message: StoredMessage = {
      id: messageId(input.idempotencyKey),
      from,
      enqueuedAt,
      recipients: to.map((recipient) => ({ recipient, state: 'queued', attempts: 0 })),
      ...(input.idempotencyKey !== undefined ? { idempotencyKey: input.idempotencyKey } : {}),
    };
    const result = await store.enqueue(message, body);
    worker?.poke();
    return result;
  };

  const context: WorkerContext = {
    store, policy, limits: options.limits, dsn: options.dsn ?? DEFAULT_DSN, onAmbiguous, maxRecipientsPerJob, now, random,
    emitRecipient: (e) => emit('recipient', e),
    emitMessage: (e) => emit('message', e),
    emitError: (e) => emit('error', e),
    enqueue,
  };

  return {
    enqueue,
    on(event, listener) {
      listeners[event].add(listener);
      return () => listeners[event].delete(listener);
    },
    worker(workerOptions) {
      if (worker !== undefined) throw inputError('this queue already has a worker; close it first');
      const w = store.createWorker?.(context, workerOptions) ?? new QueueWorker(context, workerOptions);
      worker = w;
      return {
        ready: w.ready,
        close: async () => {
          await w.close();
          if (worker === w) worker = undefined;
        },
      };
    },
    status: (id) => store.status(id),
    list: () => store.list(),
    async cancel(id) {
      const done = await store.cancel(id);
      worker?.poke();
      return done;
    },
    async retryNow(idOrDomain) {
      const n = await store.retryNow(idOrDomain);
      worker?.poke();
      return n;
    },
    async close() {
      await worker?.close();
      worker = undefined;
      await store.close();
    },
  };
}
