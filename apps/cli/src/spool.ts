import { createReadStream, rmSync } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Messages up to this size stay in memory; a bigger one goes to a temporary file. */
export const SPOOL_MEMORY_LIMIT = 1 << 20;

/** A one-shot stream kept so that it can be read again (signing reads a message twice). */
export interface Spool {
  /** A fresh stream of the same bytes. */
  open(): AsyncIterable<Uint8Array>;
  size: number;
  /** Removes the temporary file, if there is one. Called on success, on error, and on SIGINT/SIGTERM. */
  dispose(): Promise<void>;
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Reads a one-shot stream (stdin) into memory up to `memoryLimit` octets, and past that into a file
 * readable by its owner only (0600, in a 0700 directory), which is removed when the spool is disposed of,
 * when the process exits, and when it is interrupted.
 */
export async function spool(source: AsyncIterable<Uint8Array>, memoryLimit = SPOOL_MEMORY_LIMIT): Promise<Spool> {
  const chunks: Buffer[] = [];
  let size = 0;
  let file: { dir: string; path: string; handle: FileHandle } | undefined;
  let removeGuards = (): void => undefined;
  const removeNow = (): void => {
    if (file) rmQuietly(file.dir);
  };
  try {
    for await (const chunk of source) {
      const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      size += buf.length;
      if (!file && size > memoryLimit) {
        const dir = await mkdtemp(join(tmpdir(), 'smtpkit-spool-')); // mode 0700
        const path = join(dir, 'message.eml');
        file = { dir, path, handle: await open(path, 'wx', 0o600) };
        removeGuards = guard(removeNow);
        for (const c of chunks) await file.handle.write(c);
        chunks.length = 0;
      }
      if (file) await file.handle.write(buf);
      else chunks.push(Buffer.from(buf)); // a copy: the stream may reuse its buffer
    }
    await file?.handle.close();
  } catch (error) {
    await file?.handle.close().catch(() => undefined);
    removeNow();
    removeGuards();
    throw error;
  }
  if (!file) {
    const bytes = Buffer.concat(chunks);
    return {
      size,
      open: async function* () {
        yield bytes;
      },
      dispose: async () => undefined,
    };
  }
  const { dir, path } = file;
  return {
    size,
    open: () => createReadStream(path, { highWaterMark: 256 * 1024 }),
    dispose: async () => {
      removeGuards();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function rmQuietly(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch {
    // already gone, or the process is going down anyway
  }
}

/** Removes the file when the process exits or is interrupted; returns the function that stands down. */
function guard(remove: () => void): () => void {
  const onSignal = (signal: NodeJS.Signals): void => {
    remove();
    off();
    process.kill(process.pid, signal); // die of the same signal, as if not caught
  };
  const off = (): void => {
    process.off('exit', remove);
    for (const s of SIGNALS) process.off(s, onSignal);
  };
  process.on('exit', remove);
  for (const s of SIGNALS) process.on(s, onSignal);
  return off;
}
