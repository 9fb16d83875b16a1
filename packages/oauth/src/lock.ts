import { mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { OAuthError } from './errors.js';

/** Options for {@link withLock}. */
export interface LockOptions {
  /** A lock file older than this is taken to be left by a crashed process (default 60 s). */
  staleMs?: number;
  /** Give up waiting after this long (default 90 s: longer than one refresh can take). */
  timeoutMs?: number;
  /** Pause between attempts (default 50 ms). */
  pollMs?: number;
}

/**
 * Runs `fn` while holding the lock file `path`, created with O_EXCL so exactly one process holds it. A lock
 * whose holder is gone (its PID no longer runs) or that is older than `staleMs` is broken. Waiting is bounded.
 */
export async function withLock<T>(path: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const staleMs = options.staleMs ?? 60_000;
  const timeoutMs = options.timeoutMs ?? 90_000;
  const pollMs = options.pollMs ?? 50;
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const handle = await open(path, 'wx', 0o600);
      try {
        await handle.writeFile(`${process.pid} ${Date.now()}\n`);
      } finally {
        await handle.close();
      }
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (await isStale(path, staleMs)) {
      await unlink(path).catch(() => undefined);
      continue;
    }
    if (Date.now() >= deadline) {
      throw new OAuthError(`another smtpkit process has held ${path} for over ${Math.round(timeoutMs / 1000)} s; if none is running, delete that file`, { kind: 'unavailable', code: 'ERR_OAUTH_LOCKED' });
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  try {
    return await fn();
  } finally {
    await unlink(path).catch(() => undefined);
  }
}

async function isStale(path: string, staleMs: number): Promise<boolean> {
  const info = await stat(path).catch(() => undefined);
  if (!info) return false;
  if (Date.now() - info.mtimeMs > staleMs) return true;
  const pid = Number.parseInt((await readFile(path, 'utf8').catch(() => '')).split(' ')[0] ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
