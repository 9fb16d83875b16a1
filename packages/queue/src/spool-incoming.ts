import type { Buffer } from 'node:buffer';
import { readFile, readdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SmtpError } from '@smtpkit/client';
import { syncDir } from './durable-file.js';
import type { SpoolRecord } from './spool-state.js';
import type { StoredMessage } from './types.js';

const MAGIC = 'SMTPKITQ1';

/** A spool message file: a magic word, the message as JSON on the first line, then the body bytes. */
export function encodeMessageFile(message: StoredMessage, body: Uint8Array): Array<string | Uint8Array> {
  return [`${MAGIC} ${JSON.stringify(message)}\n`, body];
}

export function decodeMessageFile(bytes: Buffer, path: string): { message: StoredMessage; body: Buffer } {
  const end = bytes.indexOf(0x0a);
  if (end < 0 || bytes.toString('latin1', 0, MAGIC.length + 1) !== `${MAGIC} `) {
    throw new SmtpError(`not a spool message file: ${path}`, { kind: 'input', code: 'ERR_QUEUE_CORRUPT' });
  }
  return { message: JSON.parse(bytes.toString('utf8', MAGIC.length + 1, end)) as StoredMessage, body: bytes.subarray(end + 1) };
}

export const isMissing = (error: unknown): boolean => (error as NodeJS.ErrnoException).code === 'ENOENT';

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
}

function ignoreMissing(error: unknown): void {
  if (!isMissing(error)) throw error;
}

/** What the spool's owner lends the move from `incoming/`: its in-memory state and its log. */
export interface IngestTarget {
  /** The message the log already holds under `id`, if any. */
  known(id: string): StoredMessage | undefined;
  /** Appends records in one durable write. */
  append(records: SpoolRecord[]): Promise<void>;
  /** A message whose record is now durable in the log. */
  admit(message: StoredMessage): void;
}

/** What one message file in `incoming/` turned out to be. */
type Arrival =
  | { kind: 'new'; message: StoredMessage }
  | { kind: 'resumed'; message: StoredMessage }
  | { kind: 'gone' };

/**
 * Brings messages into the spool (a file in `msg/` plus a log record). Other processes' messages come through
 * `incoming/`, moved in batches: ids that arrive while a batch is moving form the next batch, which shares one log
 * write, one fsync of `keys/` and one of `msg/`. The owner's own messages without an idempotency key are placed
 * in `msg/` directly ({@link place}); keyed ones take `incoming/`, whose exclusive link finds a repeat from any
 * process.
 *
 * Crash rules, per batch: the log records are durable before any rename. A crash before the log write leaves the
 * files unlogged in `incoming/`: the next start takes them in as new. A crash after it leaves every message of the
 * batch logged, each file in `incoming/` or in `msg/` (a rename is atomic): the next start finds the logged ones
 * still in `incoming/` and finishes their move. Nothing is lost (every file stays until its record is durable) and
 * nothing is doubled (a logged id is never logged again).
 */
export class SpoolIngest {
  readonly #dir: string;
  readonly #target: IngestTarget;
  readonly #waiting = new Set<string>();
  #next: Promise<void> | undefined;
  #running: Promise<void> = Promise.resolve();

  constructor(dir: string, target: IngestTarget) {
    this.#dir = dir;
    this.#target = target;
  }

  /** Resolves once every id given is in the spool (or found to be a repeat, or gone). */
  ingest(ids: Iterable<string>): Promise<void> {
    for (const id of ids) this.#waiting.add(id);
    if (this.#next === undefined) {
      const next = this.#running.then(() => {
        this.#next = undefined;
        const batch = [...this.#waiting];
        this.#waiting.clear();
        return this.#move(batch);
      });
      this.#next = next;
      this.#running = next.catch(() => {});
    }
    return this.#next;
  }

  /**
   * Publishes the owner's fsynced temp file as `msg/<id>`, then logs it. The file and its directory entry are
   * durable before the record: a crash in between leaves a file in `msg/` that no record names, which
   * {@link adopt} takes in on the next start. Only an enqueue puts a file there, so adopting invents nothing.
   * A random id is never repeated, so no other arrival can race this one for the name.
   */
  async place(message: StoredMessage, temp: string): Promise<void> {
    await rename(temp, this.#path('msg', message.id));
    await syncDir(this.#path('msg'));
    await this.#target.append([{ t: 'm', m: message }]);
    this.#target.admit(message);
  }

  /**
   * On start, before the log is compacted: logs the files in `msg/` that no record names (placed, then a crash)
   * and removes the files of finished messages (finished, then a crash before the unlink).
   */
  async adopt(): Promise<void> {
    const orphans: StoredMessage[] = [];
    for (const id of (await readdir(this.#path('msg'))).sort()) {
      const known = this.#target.known(id);
      const path = this.#path('msg', id);
      if (known?.done === true) await unlink(path).catch(ignoreMissing);
      else if (known === undefined) orphans.push(decodeMessageFile(await readFile(path), path).message);
    }
    if (orphans.length === 0) return;
    await this.#target.append(orphans.map((m) => ({ t: 'm', m })));
    for (const m of orphans) this.#target.admit(m);
  }

  #path(...parts: string[]): string {
    return join(this.#dir, ...parts);
  }

  async #inspect(id: string): Promise<Arrival> {
    const source = this.#path('incoming', id);
    const known = this.#target.known(id);
    if (known !== undefined) {
      // Logged and not yet moved (a crash in between): finish the move. Otherwise a repeated idempotency key.
      if (known.done !== true && !(await exists(this.#path('msg', id)))) return { kind: 'resumed', message: known };
      await unlink(source).catch(ignoreMissing);
      return { kind: 'gone' };
    }
    let message: StoredMessage;
    try {
      message = decodeMessageFile(await readFile(source), source).message;
    } catch (error) {
      if (isMissing(error)) return { kind: 'gone' };
      throw error;
    }
    // A key file outlives the message's log record: a repeat of a message finished and compacted away.
    if (message.idempotencyKey !== undefined && (await exists(this.#path('keys', id)))) {
      await unlink(source);
      return { kind: 'gone' };
    }
    return { kind: 'new', message };
  }

  async #move(ids: string[]): Promise<void> {
    const arrivals = await Promise.all(ids.map((id) => this.#inspect(id)));
    const fresh = arrivals.flatMap((a) => (a.kind === 'new' ? [a.message] : []));
    const moving = arrivals.flatMap((a) => (a.kind === 'gone' ? [] : [a]));
    if (fresh.length > 0) {
      await this.#target.append(fresh.map((m) => ({ t: 'm', m })));
      for (const m of fresh) this.#target.admit(m);
    }
    // The key file is written for resumed moves too: a crash may have come before it.
    const keyed = moving.flatMap((a) => (a.message.idempotencyKey !== undefined ? [a.message] : []));
    if (keyed.length > 0) {
      await Promise.all(keyed.map((m) => writeFile(this.#path('keys', m.id), '')));
      await syncDir(this.#path('keys'));
    }
    if (moving.length === 0) return;
    await Promise.all(
      moving.map(async ({ kind, message: { id } }) => {
        // A logged message whose file is in neither directory has nothing left to move.
        const moved = rename(this.#path('incoming', id), this.#path('msg', id));
        await (kind === 'resumed' ? moved.catch(ignoreMissing) : moved);
      }),
    );
    await syncDir(this.#path('msg'));
  }
}
