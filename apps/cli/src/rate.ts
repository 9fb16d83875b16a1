import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** How long a run waits for the lock of the rate file before giving up (a crashed run leaves it stale). */
const LOCK_STALE_MS = 10_000;
const LOCK_POLL_MS = 15;

/**
 * Where `--rate` keeps its record: `$SMTPKIT_STATE_DIR`, else `$XDG_STATE_HOME/smtpkit`, else
 * `~/.local/state/smtpkit`.
 */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SMTPKIT_STATE_DIR) return env.SMTPKIT_STATE_DIR;
  return join(env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'smtpkit');
}

async function lock(path: string, signal?: AbortSignal): Promise<() => Promise<void>> {
  for (;;) {
    try {
      const handle = await open(path, 'wx');
      await handle.close();
      return () => rm(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // A lock older than any run holds it (it is held for a read and a write) was left by a crash.
      const age = await stat(path).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (age > LOCK_STALE_MS) await rm(path, { force: true });
      else await sleep(LOCK_POLL_MS, undefined, { signal });
    }
  }
}

/**
 * Take one slot of `messages` per `perMs` for `key` (the server), shared by every run on this machine
 * through a small file of recent send times: waits until a slot is free, then records it. This is
 * what lets a script call `smtpkit send --rate 5/s` in a loop and stay under a provider's limit.
 */
export async function takeRateSlot(
  key: string,
  rate: { messages: number; perMs: number },
  env: NodeJS.ProcessEnv = process.env,
  onWait?: (ms: number) => void,
): Promise<void> {
  const dir = stateDir(env);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const base = join(dir, `rate-${createHash('sha256').update(key).digest('hex').slice(0, 16)}`);
  for (;;) {
    const unlock = await lock(`${base}.lock`);
    let wait = 0;
    try {
      const now = Date.now();
      const text = await readFile(`${base}.json`, 'utf8').catch(() => '[]');
      let times: number[] = [];
      try {
        const parsed: unknown = JSON.parse(text);
        if (Array.isArray(parsed)) times = parsed.filter((t): t is number => typeof t === 'number' && t > now - rate.perMs && t <= now);
      } catch {
        // a damaged record is started afresh
      }
      times.sort((a, b) => a - b);
      if (times.length < rate.messages) {
        times.push(now);
        await writeFile(`${base}.json`, JSON.stringify(times.slice(-rate.messages)));
        return;
      }
      wait = (times[times.length - rate.messages] as number) + rate.perMs - now;
    } finally {
      await unlock();
    }
    onWait?.(wait);
    await sleep(Math.max(1, wait));
  }
}
