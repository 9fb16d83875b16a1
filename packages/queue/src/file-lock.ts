import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { link, mkdir, open, readFile, readdir, stat, unlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
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
  readonly generation: number;
  /** Throws once the lock was taken over (the owner must stop delivering). */
  assertHeld(): Promise<void>;
  release(): Promise<void>;
}

const NAME = /^gen-(\d{12})$/;
const nameOf = (generation: number): string => `gen-${String(generation).padStart(12, '0')}`;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function generations(dir: string): Promise<number[]> {
  return (await readdir(dir))
    .map((n) => NAME.exec(n)?.[1])
    .filter((g): g is string => g !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

/** Stale: its process is gone (same host), or it has not beaten for {@link LOCK_STALE_AFTER}. */
async function isStale(path: string): Promise<boolean> {
  try {
    const [text, info] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    if (Date.now() - info.mtimeMs > LOCK_STALE_AFTER) return true;
    const content = JSON.parse(text) as LockContent;
    return content.host === hostname() && !isAlive(content.pid);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw error;
  }
}

/**
 * Tries once to take the delivery lock kept in directory `dir`. The lock is a sequence of generations: the owner
 * holds the highest `gen-N`; a process takes over a stale owner (dead, or silent for {@link LOCK_STALE_AFTER}) by
 * creating `gen-(N+1)` with an exclusive link, which only one contender can do: a compare-and-swap on the file
 * system, so two live processes never both believe they own the spool. Returns undefined when a live owner holds it.
 */
export async function tryLock(dir: string): Promise<SpoolLock | undefined> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const current = (await generations(dir)).at(-1) ?? 0;
  if (current > 0 && !(await isStale(join(dir, nameOf(current))))) return undefined;
  const token = randomBytes(12).toString('hex');
  const temp = join(dir, `tmp-${token}`);
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.write(JSON.stringify({ pid: process.pid, host: hostname(), token } satisfies LockContent));
    await handle.sync();
  } finally {
    await handle.close();
  }
  const generation = current + 1;
  try {
    await link(temp, join(dir, nameOf(generation)));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return undefined; // another contender won
    throw error;
  } finally {
    await unlink(temp).catch(() => {});
  }
  const dirHandle = await open(dir, 'r');
  await dirHandle.sync().finally(() => dirHandle.close());
  for (const old of await generations(dir)) if (old < generation) await unlink(join(dir, nameOf(old))).catch(() => {});
  return holdLock(dir, generation);
}

function holdLock(dir: string, generation: number): SpoolLock {
  const path = join(dir, nameOf(generation));
  let lost = false;
  const check = async (): Promise<void> => {
    const newest = (await generations(dir).catch(() => [generation])).at(-1) ?? generation;
    if (newest > generation) lost = true;
  };
  const beat = async (): Promise<void> => {
    await check();
    const now = new Date();
    if (!lost) await utimes(path, now, now).catch(() => {});
  };
  const timer = setInterval(() => void beat(), HEARTBEAT);
  timer.unref();
  return {
    generation,
    async assertHeld() {
      if (!lost) await check();
      if (lost) {
        clearInterval(timer);
        throw new SmtpError('the spool lock was taken over by another process; this one stops delivering', { kind: 'input', code: 'ERR_QUEUE_LOCK_LOST' });
      }
    },
    async release() {
      clearInterval(timer);
      // Release by ageing: the file stays (so the generation count only grows) but is marked stale at once.
      if (!lost) await utimes(path, new Date(0), new Date(0)).catch(() => {});
    },
  };
}
