import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { link, open, readFile, rename, stat, unlink, utimes } from 'node:fs/promises';
import { SmtpError } from '@smtpkit/client';

/** How long a lock may go without a heartbeat before another process takes it over. */
export const LOCK_STALE_AFTER = 10_000;
const HEARTBEAT = 1_000;

interface LockContent {
  pid: number;
  host: string;
  token: string;
}

/** The exclusive delivery lock of a spool. */
export interface SpoolLock {
  readonly token: string;
  /** Throws once the lock was lost to a takeover (the owner must stop delivering). */
  assertHeld(): Promise<void>;
  release(): Promise<void>;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readLock(path: string): Promise<{ content?: LockContent; mtimeMs: number } | undefined> {
  try {
    const [text, info] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    let content: LockContent | undefined;
    try {
      content = JSON.parse(text) as LockContent;
    } catch {
      content = undefined; // written by a process killed mid-write: stale by age
    }
    return { content, mtimeMs: info.mtimeMs };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Stale: its process is gone (same host), or it has not beaten for {@link LOCK_STALE_AFTER}. */
function isStale(found: { content?: LockContent; mtimeMs: number }, now: number): boolean {
  if (now - found.mtimeMs > LOCK_STALE_AFTER) return true;
  if (found.content === undefined) return false;
  return found.content.host === hostname() && !isAlive(found.content.pid);
}

/**
 * Tries once to take the lock at `path`: creates it exclusively, or takes over a stale one (its process is dead,
 * or it stopped beating). Returns undefined when a live process holds it.
 */
export async function tryLock(path: string): Promise<SpoolLock | undefined> {
  const token = randomBytes(12).toString('hex');
  const content = JSON.stringify({ pid: process.pid, host: hostname(), token } satisfies LockContent);
  for (let round = 0; round < 3; round++) {
    try {
      const handle = await open(path, 'wx', 0o600);
      try {
        await handle.write(content);
        await handle.sync();
      } finally {
        await handle.close();
      }
      return startHeartbeat(path, token);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const found = await readLock(path);
    if (found === undefined) continue;
    if (!isStale(found, Date.now())) return undefined;
    // Takeover: move the stale lock aside; only one contender's rename succeeds.
    const aside = `${path}.stale.${token}`;
    try {
      await rename(path, aside);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    const moved = await readLock(aside);
    if (moved !== undefined && !isStale(moved, Date.now())) {
      // A live owner took the lock between our read and our rename: give it back.
      await link(aside, path).catch(() => {});
      await unlink(aside).catch(() => {});
      return undefined;
    }
    await unlink(aside).catch(() => {});
  }
  return undefined;
}

function startHeartbeat(path: string, token: string): SpoolLock {
  let lost = false;
  const beat = async (): Promise<void> => {
    const found = await readLock(path).catch(() => undefined);
    if (found?.content?.token !== token) {
      lost = true;
      return;
    }
    const now = new Date();
    await utimes(path, now, now).catch(() => {});
  };
  const timer = setInterval(() => void beat(), HEARTBEAT);
  timer.unref();
  return {
    token,
    async assertHeld() {
      if (!lost) await beat();
      if (lost) throw new SmtpError('the spool lock was taken over by another process; this one stops delivering', { kind: 'input', code: 'ERR_QUEUE_LOCK_LOST' });
    },
    async release() {
      clearInterval(timer);
      const found = await readLock(path).catch(() => undefined);
      if (found?.content?.token === token) await unlink(path).catch(() => {});
    },
  };
}
