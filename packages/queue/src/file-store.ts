import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SmtpError } from '@smtpkit/client';
import { publish, writeTemp } from './durable-file.js';
import { tryLock, type SpoolLock } from './file-lock.js';
import { applyRecord, applyUpdates, isFinal, toStatus, type SpoolRecord } from './spool-state.js';
import { decodeMessageFile, encodeMessageFile, exists, isMissing, SpoolIngest } from './spool-incoming.js';
import { SpoolLog } from './spool-log.js';
import type {
  DeliveryStore, MessageStatus, QueueStore, QueueStoreFactory, RecipientUpdate, StartDeliveryOptions, StoreContext,
  StoredMessage,
} from './types.js';

/** Options of {@link fileStore}. */
export interface FileStoreOptions {
  /** The spool directory; created when missing. */
  dir: string;
  /** How long finished messages stay visible to `status()`, ms; default 24 h. */
  keepFinishedFor?: number;
  /** Rewrite the state log once it grows past this many bytes; default 8 MiB. */
  compactAfterBytes?: number;
}


interface ControlRequest {
  op: 'cancel' | 'retry';
  arg: string;
}

/** A message id: time-ordered and random, or derived from the idempotency key so repeats collide. */
export function messageId(idempotencyKey?: string): string {
  if (idempotencyKey !== undefined) return `k${createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 26)}`;
  return `${Date.now().toString(36).padStart(9, '0')}${randomBytes(8).toString('hex')}`;
}

/**
 * The embedded store: a spool directory on one machine. Any process may enqueue at any time (a fsynced file
 * renamed into `incoming/`, as Postfix's maildrop; the delivering process puts its own messages without an
 * idempotency key straight into `msg/`); one process at a time delivers, holding `lock` (a lock left by a killed
 * process is taken over within seconds). Per-recipient state lives in `state.log`, an append-only log of
 * checksummed records replayed on start.
 *
 * @example
 * const q = await createQueue({ store: fileStore({ dir: './spool' }) });
 */
export function fileStore(options: FileStoreOptions): QueueStoreFactory {
  return {
    kind: 'file',
    async open(ctx) {
      const store = new FileStore(options, ctx);
      await store.init();
      return store;
    },
  };
}

class FileStore implements QueueStore, DeliveryStore {
  readonly #dir: string;
  readonly #now: () => number;
  readonly #log: SpoolLog;
  #lock: SpoolLock | undefined;
  #messages = new Map<string, StoredMessage>();
  #changed = new Set<string>();
  readonly #incoming: SpoolIngest;
  readonly recovered: Array<{ id: string; update: RecipientUpdate }> = [];

  constructor(options: FileStoreOptions, ctx: StoreContext) {
    this.#dir = options.dir;
    this.#now = ctx.now;
    this.#log = new SpoolLog(this.#dir, {
      keepFinishedFor: options.keepFinishedFor ?? 24 * 3600_000,
      compactAfter: options.compactAfterBytes ?? 8 * 1024 * 1024,
      now: ctx.now,
    });
    this.#incoming = new SpoolIngest(this.#dir, {
      known: (id) => this.#messages.get(id),
      append: (records) => this.#log.append(records),
      admit: (m) => {
        this.#messages.set(m.id, m);
        this.#changed.add(m.id);
      },
    });
  }

  #path(...parts: string[]): string {
    return join(this.#dir, ...parts);
  }

  async init(): Promise<void> {
    for (const sub of ['tmp', 'incoming', 'msg', 'keys', 'control']) await mkdir(this.#path(sub), { recursive: true, mode: 0o700 });
  }

  // ---- enqueue: any process ----

  async enqueue(message: StoredMessage, body: Uint8Array): Promise<{ id: string; duplicate: boolean }> {
    const id = message.id;
    if (message.idempotencyKey !== undefined && (this.#messages.has(id) || (await exists(this.#path('keys', id))))) {
      return { id, duplicate: true };
    }
    const temp = await writeTemp(this.#path('tmp'), encodeMessageFile(message, body));
    if (this.#log.isOpen && message.idempotencyKey === undefined) {
      await this.#incoming.place(message, temp);
      return { id, duplicate: false };
    }
    // Only a key can repeat an id: a keyed message is linked (EEXIST finds the repeat), any other renamed.
    const fresh = await publish(temp, this.#path('incoming', id), this.#path('incoming'), message.idempotencyKey !== undefined);
    if (!fresh) return { id, duplicate: true };
    if (this.#log.isOpen) await this.#incoming.ingest([id]);
    return { id, duplicate: false };
  }

  // ---- reading: any process ----

  async #readState(): Promise<Map<string, StoredMessage>> {
    if (this.#log.isOpen) return this.#messages;
    // incoming/ first, then the log: a message moved in between was logged before its move, so it is in the log.
    const incoming = new Map<string, StoredMessage>();
    for (const name of await readdir(this.#path('incoming'))) {
      try {
        incoming.set(name, decodeMessageFile(await readFile(this.#path('incoming', name)), name).message);
      } catch (error) {
        if (!isMissing(error)) throw error;
      }
    }
    const map = new Map<string, StoredMessage>();
    for (const record of (await SpoolLog.read(this.#dir)).records) applyRecord(map, record as SpoolRecord);
    for (const [id, message] of incoming) if (!map.has(id)) map.set(id, message);
    return map;
  }

  async status(id: string): Promise<MessageStatus | undefined> {
    const m = (await this.#readState()).get(id);
    return m === undefined ? undefined : toStatus(m);
  }

  async list(): Promise<MessageStatus[]> {
    return [...(await this.#readState()).values()].map(toStatus);
  }

  // ---- cancel / retry: applied by the owner; other processes leave a request ----

  async cancel(id: string): Promise<boolean> {
    const m = (await this.#readState()).get(id);
    if (m === undefined || m.recipients.every(isFinal)) return false;
    await this.#request({ op: 'cancel', arg: id });
    return true;
  }

  async retryNow(idOrDomain: string): Promise<number> {
    const map = await this.#readState();
    const count = [...map.values()].reduce((n, m) => n + this.#retryTargets(m, idOrDomain).length, 0);
    if (count > 0) await this.#request({ op: 'retry', arg: idOrDomain });
    return count;
  }

  #retryTargets(m: StoredMessage, idOrDomain: string): RecipientUpdate[] {
    if (m.done === true) return [];
    const byId = m.id === idOrDomain;
    const domain = idOrDomain.toLowerCase();
    return m.recipients
      .filter((r) => !isFinal(r) && r.state !== 'in-flight')
      .filter((r) => byId || r.recipient.slice(r.recipient.lastIndexOf('@') + 1).toLowerCase() === domain)
      .map((r) => ({ ...r, nextAttemptAt: this.#now() }));
  }

  async #request(request: ControlRequest): Promise<void> {
    if (this.#log.isOpen) {
      await this.#apply(request);
      return;
    }
    const temp = await writeTemp(this.#path('tmp'), [JSON.stringify(request)]);
    await publish(temp, this.#path('control', `${Date.now()}-${randomBytes(6).toString('hex')}.json`), this.#path('control'), false);
    // No delivering process? Apply it now, under the lock.
    const lock = await tryLock(this.#path('lock'));
    if (lock === undefined) return;
    try {
      this.#messages = await this.#log.open();
      await this.#poll();
    } finally {
      await this.#log.close();
      this.#messages = new Map();
      await lock.release();
    }
  }

  async #apply(request: ControlRequest): Promise<void> {
    if (request.op === 'retry') {
      for (const m of this.#messages.values()) {
        const updates = this.#retryTargets(m, request.arg);
        if (updates.length > 0) await this.record(m.id, updates);
      }
      return;
    }
    const m = this.#messages.get(request.arg);
    if (m === undefined || m.done === true) return;
    const updates: RecipientUpdate[] = m.recipients
      .filter((r) => !isFinal(r))
      .map((r) => ({ recipient: r.recipient, state: 'bounced', attempts: r.attempts, reply: { text: 'cancelled' }, ambiguous: r.ambiguous }));
    await this.#log.append([{ t: 'c', id: m.id }, { t: 'u', id: m.id, u: updates }]);
    m.cancelled = true;
    applyUpdates(m, updates);
    this.#changed.add(m.id);
  }

  // ---- delivery: the lock holder ----

  async startDelivery(options: StartDeliveryOptions): Promise<DeliveryStore> {
    let lock = await tryLock(this.#path('lock'));
    for (let wait = 50; lock === undefined; wait = Math.min(wait * 2, 1000)) {
      await sleep(wait, undefined, { signal: options.signal });
      lock = await tryLock(this.#path('lock'));
    }
    this.#lock = lock;
    this.#messages = await this.#log.open();
    await this.#incoming.adopt();
    for (const m of this.#messages.values()) {
      const lost = m.recipients.filter((r) => r.state === 'in-flight').map((r) => options.onRecovered(m, r));
      if (lost.length === 0) continue;
      await this.record(m.id, lost);
      for (const update of lost) this.recovered.push({ id: m.id, update });
    }
    await this.#log.compact();
    await this.#poll();
    this.#changed.clear();
    return this;
  }

  messages(): Iterable<StoredMessage> {
    return [...this.#messages.values()].filter((m) => m.done !== true);
  }

  async poll(): Promise<StoredMessage[]> {
    await this.#lock?.assertHeld();
    await this.#poll();
    const changed = [...this.#changed].map((id) => this.#messages.get(id)).filter((m): m is StoredMessage => m !== undefined);
    this.#changed.clear();
    return changed;
  }

  async #poll(): Promise<void> {
    await this.#incoming.ingest((await readdir(this.#path('incoming'))).sort());
    for (const name of (await readdir(this.#path('control'))).sort()) {
      const path = this.#path('control', name);
      let request: ControlRequest;
      try {
        request = JSON.parse(await readFile(path, 'utf8')) as ControlRequest;
      } catch (error) {
        if (isMissing(error)) continue;
        throw error;
      }
      await this.#apply(request);
      await unlink(path);
    }
  }

  async body(id: string): Promise<Uint8Array> {
    return decodeMessageFile(await readFile(this.#path('msg', id)), id).body;
  }

  /**
   * The outcome and the finish share one append (one write, one fdatasync). Readers stop at the first torn record,
   * so a crash leaves both, or the outcome alone (every recipient final: the next start finishes the message
   * again), or neither (the recipients stay in flight and are recovered as ambiguous). The body is unlinked only
   * once the finish is durable.
   */
  async record(id: string, updates: RecipientUpdate[], options?: { finish?: boolean }): Promise<void> {
    const m = this.#messages.get(id);
    if (m === undefined) throw new SmtpError(`unknown message ${id}`, { kind: 'input', code: 'ERR_QUEUE_UNKNOWN_MESSAGE' });
    const at = this.#now();
    const finish = options?.finish === true && m.done !== true;
    await this.#log.append(finish ? [{ t: 'u', id, u: updates }, { t: 'd', id, at }] : [{ t: 'u', id, u: updates }]);
    applyUpdates(m, updates);
    if (finish) await this.#finished(m, at);
  }

  async finish(id: string): Promise<void> {
    const m = this.#messages.get(id);
    if (m === undefined || m.done === true) return;
    const at = this.#now();
    await this.#log.append([{ t: 'd', id, at }]);
    await this.#finished(m, at);
  }

  async #finished(m: StoredMessage, at: number): Promise<void> {
    m.done = true;
    m.finishedAt = at;
    await unlink(this.#path('msg', m.id)).catch((error: unknown) => {
      if (!isMissing(error)) throw error;
    });
  }

  async release(): Promise<void> {
    await this.#log.close();
    await this.#lock?.release();
    this.#lock = undefined;
  }

  async close(): Promise<void> {
    await this.release();
  }
}
