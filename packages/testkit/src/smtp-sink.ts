import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { freePort, waitForPort } from './free-port.js';
import { captureOutput, isRunning, stopChild } from './process.js';
import { killQuietly, onExit } from './cleanup.js';

const SMTP_SINK = '/usr/sbin/smtp-sink';

/** Options for {@link startSmtpSink}. */
export interface SmtpSinkOptions {
  /** Port to listen on (default: a free one). */
  port?: number;
  /** Extra smtp-sink flags placed before the address, e.g. ['-L'] (see smtp-sink(1)). */
  args?: string[];
}

/** A running `smtp-sink` (Postfix's throw-away SMTP server: accepts and discards). */
export interface SmtpSink {
  port: number;
  host: '127.0.0.1';
  /** PID of the smtp-sink process. */
  pid: number;
  /** Kills it (bounded) and waits for the exit. */
  stop(): Promise<void>;
}

/**
 * Spawns `smtp-sink -c 127.0.0.1:PORT 1000` and waits until it accepts connections.
 * Throws when smtp-sink (package postfix) is missing.
 *
 * @example
 * const sink = await startSmtpSink();
 * // … connect to 127.0.0.1:sink.port …
 * await sink.stop();
 */
export async function startSmtpSink(options: SmtpSinkOptions = {}): Promise<SmtpSink> {
  if (!existsSync(SMTP_SINK)) {
    throw new Error(`smtp-sink is not installed (no ${SMTP_SINK}); it ships with the postfix package`);
  }
  const port = options.port ?? (await freePort());
  // smtp-sink(1): -u is required when running as root; it drops to that user after binding.
  const asRoot = process.getuid?.() === 0 ? ['-u', 'nobody'] : [];
  const child = spawn(SMTP_SINK, [...asRoot, '-c', ...(options.args ?? []), `127.0.0.1:${port}`, '1000'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = captureOutput(child);
  let spawnError: Error | undefined;
  child.once('error', (error) => (spawnError = error));
  try {
    await waitForPort(port, '127.0.0.1', {
      timeoutMs: 10_000,
      intervalMs: 20,
      check: () => {
        if (spawnError) throw new Error(`smtp-sink could not be started: ${spawnError.message}`);
        if (!isRunning(child)) throw new Error(`smtp-sink exited during startup: ${output()}`);
      },
    });
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  const forget = onExit(() => killQuietly(child.pid, 'SIGKILL'));
  return {
    port,
    host: '127.0.0.1',
    pid: child.pid ?? -1,
    stop: async () => {
      await stopChild(child);
      forget();
    },
  };
}
