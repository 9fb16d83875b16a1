import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { link, open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

const dirSyncs = new Map<string, { running: Promise<void>; next?: Promise<void> }>();

/**
 * fsync a directory so that a rename or unlink in it survives a crash (POSIX leaves it to the caller). Callers at
 * the same time share one fsync: a caller that arrives while one runs waits for the next, which starts after its
 * rename, so every caller's change is covered.
 */
export function syncDir(dir: string): Promise<void> {
  const state = dirSyncs.get(dir);
  if (state === undefined) {
    const running = fsyncDir(dir).finally(() => {
      const s = dirSyncs.get(dir);
      if (s?.next === undefined) dirSyncs.delete(dir);
    });
    dirSyncs.set(dir, { running });
    return running;
  }
  if (state.next === undefined) {
    state.next = state.running.catch(() => {}).then(() => {
      const running = fsyncDir(dir).finally(() => {
        if (dirSyncs.get(dir)?.running === running) dirSyncs.delete(dir);
      });
      dirSyncs.set(dir, { running });
      return running;
    });
  }
  return state.next;
}

/**
 * Writes `bytes` to a new file in `tmpDir` and syncs it; returns its path. fdatasync(2) writes the data and the
 * metadata needed to read it back (the size, the blocks), which is all a new file needs; its name is made durable
 * by the directory sync after the rename or link.
 */
export async function writeTemp(tmpDir: string, parts: Array<string | Uint8Array>): Promise<string> {
  const path = join(tmpDir, `${process.pid}.${randomBytes(8).toString('hex')}`);
  const handle = await open(path, 'wx', 0o600);
  try {
    await handle.writev(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)));
    await handle.datasync();
  } finally {
    await handle.close();
  }
  return path;
}

/**
 * Publishes a fsynced temp file under `target`: `exclusive` links it (EEXIST when the name is taken), else
 * renames it over. The temp name is removed either way; the target directory is fsynced. Returns false when an
 * exclusive target already existed.
 */
export async function publish(temp: string, target: string, targetDir: string, exclusive: boolean): Promise<boolean> {
  if (!exclusive) {
    await rename(temp, target);
  } else {
    try {
      await link(temp, target);
    } catch (error) {
      await unlink(temp).catch(() => {});
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    }
    await unlink(temp);
  }
  await syncDir(targetDir);
  return true;
}

/** Atomically replaces `target` with the given content (temp file, fsync, rename, directory fsync). */
export async function replaceFile(tmpDir: string, target: string, targetDir: string, content: string | Uint8Array): Promise<void> {
  await publish(await writeTemp(tmpDir, [content]), target, targetDir, false);
}
