import { Buffer } from 'node:buffer';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SmtpError } from '@smtpkit/client';
import { decodeLog, encodeRecord, LogWriter } from './file-log.js';
import { publish, replaceFile, syncDir, writeTemp } from './durable-file.js';
import { tryLock, type SpoolLock } from './file-lock.js';
import { applyRecord, applyUpdates, isFinal, toStatus, type SpoolRecord } from './spool-state.js';
import { decodeMessageFile, encodeMessageFile, exists, isMissing, SpoolIngest } from './spool-incoming.js';
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

const LOG = 'state.log';

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
 * renamed into `incoming/`, as Postfix's maildrop); one process at a time delivers, holding `lock` (a lock left by a
 * killed process is taken over within seconds). Per-recipient state lives in `state.log`, an append-only log of
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
  readonly #keepFinishedFor: number;
  readonly #compactAfter: number;
  readonly #now: () => number;
  #lock: SpoolLock | undefined;
  #writer: LogWriter | undefined;
  #messages = new Map<string, StoredMessage>();
  #changed = new Set<string>();
  #compacting: Promise<void> | undefined;
  readonly #incoming: SpoolIngest;
  readonly recovered: Array<{ id: string; update: RecipientUpdate }> = [];

  constructor(options: FileStoreOptions, ctx: StoreContext) {
    this.#dir = options.dir;
    this.#keepFinishedFor = options.keepFinishedFor ?? 24 * 3600_000;
    this.#compactAfter = options.compactAfterBytes ?? 8 * 1024 * 1024;
    this.#now = ctx.now;
    this.#incoming = new SpoolIngest(this.#dir, {
      known: (id) => this.#messages.get(id),
      append: (records) => this.#append(records),
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
    if (this.#writer !== undefined && message.idempotencyKey === undefined) {
      await this.#incoming.place(message, temp);
      return { id, duplicate: false };
    }
    // Only a key can repeat an id: a keyed message is linked (EEXIST finds the repeat), any other renamed.
    const fresh = await publish(temp, this.#path('incoming', id), this.#path('incoming'), message.idempotencyKey !== undefined);
    if (!fresh) return { id, duplicate: true };
    if (this.#writer !== undefined) await this.#incoming.ingest([id]);
    return { id, duplicate: false };
  }

  // ---- reading: any process ----

  async #readState(): Promise<Map<string, StoredMessage>> {
    if (this.#writer !== undefined) return this.#messages;
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
    for (const record of (await this.#readLog()).records) applyRecord(map, record as SpoolRecord);
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
    if (this.#writer !== undefined) {
      await this.#apply(request);
      return;
    }
    const temp = await writeTemp(this.#path('tmp'), [JSON.stringify(request)]);
    await publish(temp, this.#path('control', `${Date.now()}-${randomBytes(6).toString('hex')}.json`), this.#path('control'), false);
    // No delivering process? Apply it now, under the lock.
    const lock = await tryLock(this.#path('lock'));
    if (lock === undefined) return;
    try {
      await this.#load();
      await this.#poll();
    } finally {
      await (this.#writer as LogWriter | undefined)?.close();
      this.#writer = undefined;
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
    await this.#append([{ t: 'c', id: m.id }, { t: 'u', id: m.id, u: updates }]);
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
    await this.#load();
    await this.#incoming.adopt();
    for (const m of this.#messages.values()) {
      const lost = m.recipients.filter((r) => r.state === 'in-flight').map((r) => options.onRecovered(m, r));
      if (lost.length === 0) continue;
      await this.record(m.id, lost);
      for (const update of lost) this.recovered.push({ id: m.id, update });
    }
    await this.#compact();
    await this.#poll();
    this.#changed.clear();
    return this;
  }

  /** The log's records up to the first torn one; a spool without a log has none. */
  async #readLog(): Promise<ReturnType<typeof decodeLog>> {
    try {
      return decodeLog(await readFile(this.#path(LOG)));
    } catch (error) {
      if (!isMissing(error)) throw error;
      return { records: [], goodLength: 0 };
    }
  }

  async #load(): Promise<void> {
    const { records, goodLength } = await this.#readLog();
    this.#messages = new Map();
    for (const record of records) applyRecord(this.#messages, record as SpoolRecord);
    this.#writer = await LogWriter.open(this.#path(LOG), goodLength);
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
    await this.#append(finish ? [{ t: 'u', id, u: updates }, { t: 'd', id, at }] : [{ t: 'u', id, u: updates }]);
    applyUpdates(m, updates);
    if (finish) await this.#finished(m, at);
  }

  async finish(id: string): Promise<void> {
    const m = this.#messages.get(id);
    if (m === undefined || m.done === true) return;
    const at = this.#now();
    await this.#append([{ t: 'd', id, at }]);
    await this.#finished(m, at);
  }

  async #finished(m: StoredMessage, at: number): Promise<void> {
    m.done = true;
    m.finishedAt = at;
    await unlink(this.#path('msg', m.id)).catch((error: unknown) => {
      if (!isMissing(error)) throw error;
    });
  }

  async #append(records: SpoolRecord[]): Promise<void> {
    while (this.#compacting !== undefined) await this.#compacting;
    const writer = this.#writer;
    if (writer === undefined) throw new SmtpError('the spool is not open for delivery', { kind: 'input', code: 'ERR_QUEUE_NOT_OWNER' });
    await writer.append(records);
    if (writer.size > this.#compactAfter && this.#compacting === undefined) {
      this.#compacting = this.#compact().finally(() => (this.#compacting = undefined));
    }
  }

  /** Rewrites the log as one record per message still live or recently finished (temp file, fsync, rename). */
  async #compact(): Promise<void> {
    const now = this.#now();
    for (const [id, m] of this.#messages) {
      if (m.done === true && now - (m.finishedAt ?? 0) > this.#keepFinishedFor) this.#messages.delete(id);
    }
    // Closing first lets every append already on disk reach the in-memory state the snapshot is taken from.
    await this.#writer?.close();
    const text = [...this.#messages.values()]
      .map((m) => encodeRecord({ t: 'm', m }) + (m.done === true ? encodeRecord({ t: 'd', id: m.id, at: m.finishedAt ?? now }) : ''))
      .join('');
    // The unlinks of the bodies of dropped messages become durable first: a body that came back after a crash
    // with no record naming it would be adopted as a new message.
    await syncDir(this.#path('msg'));
    await replaceFile(this.#path('tmp'), this.#path(LOG), this.#dir, text);
    this.#writer = await LogWriter.open(this.#path(LOG), Buffer.byteLength(text));
  }

  async release(): Promise<void> {
    while (this.#compacting !== undefined) await this.#compacting;
    await this.#writer?.close();
    this.#writer = undefined;
    await this.#lock?.release();
    this.#lock = undefined;
  }

  async close(): Promise<void> {
    await this.release();
  }
}
