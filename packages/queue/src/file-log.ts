import { Buffer } from 'node:buffer';
import { open, type FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';

/**
 * The state log of the file spool: one record per line, `crc32hex SP json LF`. A record is written whole or
 * not at all as far as readers care: a torn or corrupt line (a crash mid-append) ends the log there.
 */
export function encodeRecord(record: object): string {
  const json = JSON.stringify(record);
  return `${crc32(json).toString(16).padStart(8, '0')} ${json}\n`;
}

/** The records of a log and the length of its good prefix (the owner truncates the rest). */
export interface DecodedLog {
  records: unknown[];
  goodLength: number;
}

/** Reads records up to the first line that is incomplete or fails its checksum. */
export function decodeLog(bytes: Buffer): DecodedLog {
  const records: unknown[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const end = bytes.indexOf(0x0a, offset);
    if (end < 0) break;
    const line = bytes.toString('utf8', offset, end);
    const json = line.slice(9);
    if (line[8] !== ' ' || crc32(json).toString(16).padStart(8, '0') !== line.slice(0, 8)) break;
    try {
      records.push(JSON.parse(json));
    } catch {
      break;
    }
    offset = end + 1;
  }
  return { records, goodLength: offset };
}

/**
 * Appends records durably. Concurrent appends share one write and one fdatasync (group commit): each caller's
 * promise resolves once its records are on disk.
 */
export class LogWriter {
  #pending: Array<{ text: string; resolve: () => void; reject: (e: unknown) => void }> = [];
  #flushing = false;
  #size: number;

  private constructor(
    private readonly handle: FileHandle,
    size: number,
  ) {
    this.#size = size;
  }

  /** Opens `path` for appending; its length is `size` (the good prefix, after truncation). */
  static async open(path: string, size: number): Promise<LogWriter> {
    const handle = await open(path, 'a');
    await handle.truncate(size);
    return new LogWriter(handle, size);
  }

  get size(): number {
    return this.#size;
  }

  append(records: object[]): Promise<void> {
    const text = records.map(encodeRecord).join('');
    return new Promise((resolve, reject) => {
      this.#pending.push({ text, resolve, reject });
      if (!this.#flushing) void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    this.#flushing = true;
    while (this.#pending.length > 0) {
      const batch = this.#pending;
      this.#pending = [];
      try {
        const bytes = Buffer.from(batch.map((b) => b.text).join(''), 'utf8');
        await this.handle.write(bytes);
        await this.handle.datasync();
        this.#size += bytes.length;
        for (const b of batch) b.resolve();
      } catch (error) {
        for (const b of batch) b.reject(error);
      }
    }
    this.#flushing = false;
  }

  async close(): Promise<void> {
    while (this.#flushing) await new Promise((r) => setImmediate(r));
    await this.handle.close();
  }
}
