import { rmSync } from 'node:fs';

/** Synchronous last-resort cleanups, run when the process exits with servers still running. */
const pending = new Set<() => void>();
let installed = false;

/**
 * Registers `cleanup` to run if the process exits before the returned function is called
 * (a test that forgot `stop()`, or a worker ending early). Cleanups must be synchronous.
 */
export function onExit(cleanup: () => void): () => void {
  if (!installed) {
    installed = true;
    process.once('exit', () => {
      for (const run of pending) {
        try {
          run();
        } catch {
          // best effort: the process is going away
        }
      }
    });
  }
  pending.add(cleanup);
  return () => pending.delete(cleanup);
}

/** Kills `pid` if it is set, ignoring a process that is already gone. */
export function killQuietly(pid: number | undefined, signal: NodeJS.Signals = 'SIGTERM'): void {
  if (pid === undefined || pid <= 1) return;
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** Removes a directory tree synchronously, ignoring errors. */
export function removeQuietly(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch {
    // best effort
  }
}
