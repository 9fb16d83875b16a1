import { Buffer } from 'node:buffer';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SmtpError } from '@smtpkit/client';
import { replaceFile, syncDir } from './durable-file.js';
import { decodeLog, encodeRecord, LogWriter, type DecodedLog } from './file-log.js';
import { isMissing } from './spool-incoming.js';
import { applyRecord, type SpoolRecord } from './spool-state.js';
import type { StoredMessage } from './types.js';

const LOG = 'state.log';

/** Options of a {@link SpoolLog}. */
export interface SpoolLogOptions {
  /** How long finished messages keep their records, ms. */
  keepFinishedFor: number;
  /** Rewrite the log once it grows past this many bytes. */
  compactAfter: number;
  now: () => number;
}

/**
 * The spool's state log as its owner keeps it: replayed into the messages' state on open, appended to (group
 * commit), and rewritten once it grows past `compactAfter` as one record per message still live or finished
 * within `keepFinishedFor`.
 */
export class SpoolLog {
  readonly #dir: string;
  readonly #options: SpoolLogOptions;
  #writer: LogWriter | undefined;
  #compacting: Promise<void> | undefined;
  #messages = new Map<string, StoredMessage>();

  constructor(dir: string, options: SpoolLogOptions) {
    this.#dir = dir;
    this.#options = options;
  }

  /** The log's records up to the first torn one; a spool without a log has none. */
  static async read(dir: string): Promise<DecodedLog> {
    try {
      return decodeLog(await readFile(join(dir, LOG)));
    } catch (error) {
      if (!isMissing(error)) throw error;
      return { records: [], goodLength: 0 };
    }
  }

  get isOpen(): boolean {
    return this.#writer !== undefined;
  }

  /** Replays the log into a new map of messages (the one compaction snapshots) and opens it for appending; a torn tail is cut off. */
  async open(): Promise<Map<string, StoredMessage>> {
    const { records, goodLength } = await SpoolLog.read(this.#dir);
    const messages = new Map<string, StoredMessage>();
    for (const record of records) applyRecord(messages, record as SpoolRecord);
    this.#messages = messages;
    this.#writer = await LogWriter.open(join(this.#dir, LOG), goodLength);
    return messages;
  }

  /** Appends records in one durable write. */
  async append(records: SpoolRecord[]): Promise<void> {
    while (this.#compacting !== undefined) await this.#compacting;
    const writer = this.#writer;
    if (writer === undefined) throw new SmtpError('the spool is not open for delivery', { kind: 'input', code: 'ERR_QUEUE_NOT_OWNER' });
    await writer.append(records);
    if (writer.size > this.#options.compactAfter) void this.compact();
  }

  /**
   * Rewrites the log as one record per message still live or recently finished (temp file, fsync, rename). Appends
   * made meanwhile wait for the new log: the old one's writer is closed while the snapshot is taken.
   */
  compact(): Promise<void> {
    this.#compacting ??= this.#rewrite().finally(() => (this.#compacting = undefined));
    return this.#compacting;
  }

  async #rewrite(): Promise<void> {
    const now = this.#options.now();
    for (const [id, m] of this.#messages) {
      if (m.done === true && now - (m.finishedAt ?? 0) > this.#options.keepFinishedFor) this.#messages.delete(id);
    }
    // Closing first lets every append already on disk reach the in-memory state the snapshot is taken from.
    await this.#writer?.close();
    const text = [...this.#messages.values()]
      .map((m) => encodeRecord({ t: 'm', m }) + (m.done === true ? encodeRecord({ t: 'd', id: m.id, at: m.finishedAt ?? now }) : ''))
      .join('');
    // The unlinks of the bodies of dropped messages become durable first: a body that came back after a crash
    // with no record naming it would be adopted as a new message.
    await syncDir(join(this.#dir, 'msg'));
    await replaceFile(join(this.#dir, 'tmp'), join(this.#dir, LOG), this.#dir, text);
    this.#writer = await LogWriter.open(join(this.#dir, LOG), Buffer.byteLength(text));
  }

  async close(): Promise<void> {
    while (this.#compacting !== undefined) await this.#compacting;
    await this.#writer?.close();
    this.#writer = undefined;
    this.#messages = new Map();
  }
}
