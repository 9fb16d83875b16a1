import { execFile, type ChildProcess } from 'node:child_process';

/** Result of {@link run}. */
export interface RunResult {
  stdout: string;
  stderr: string;
}

/**
 * Runs a program without a shell and resolves with its output; rejects with the program's
 * stderr in the message when it fails or is missing, so a missing tool fails loudly.
 */
export function run(file: string, args: readonly string[], options: { cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise<RunResult>((resolve, reject) => {
    execFile(
      file,
      args,
      { cwd: options.cwd, timeout: options.timeoutMs ?? 30_000, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error) {
          const code = (error as NodeJS.ErrnoException).code;
          const why = code === 'ENOENT' ? `${file} is not installed (not found on PATH)` : `${file} ${args.join(' ')} failed`;
          reject(new Error(`${why}: ${stderr.trim() || error.message}`, { cause: error }));
          return;
        }
        resolve({ stdout, stderr });
      },
    );
  });
}

/** True while the child has neither exited nor been killed by a signal. */
export function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/**
 * Resolves when the child has exited, or after `timeoutMs` with `false`.
 */
export function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (!isRunning(child)) return Promise.resolve(true);
  return new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, timeoutMs);
    const onExit = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

/**
 * Stops a child: SIGTERM, then SIGKILL if it is still there after `graceMs`; bounded.
 */
export async function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (!isRunning(child)) return;
  child.kill('SIGTERM');
  if (await waitForExit(child, graceMs)) return;
  child.kill('SIGKILL');
  await waitForExit(child, graceMs);
}

/** Keeps the last `limit` characters a child wrote, for error messages. */
export function captureOutput(child: ChildProcess, limit = 8192): () => string {
  let text = '';
  const append = (chunk: Buffer | string): void => {
    text = (text + chunk.toString()).slice(-limit);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  return () => text.trim();
}
