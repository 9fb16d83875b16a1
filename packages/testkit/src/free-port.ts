import { createServer, Socket } from 'node:net';

/**
 * Asks the kernel for a free TCP port on 127.0.0.1 (listen on port 0, read it, close).
 *
 * Another process may take the port before the caller binds it; servers that can report
 * their own port (the fault server, aiosmtpd here) should listen on 0 instead.
 *
 * @example
 * const port = await freePort();
 */
export async function freePort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('freePort: the listener reported no TCP address'));
        return;
      }
      const { port } = address;
      server.close(() => resolve(port));
    });
  });
}

/** Options for {@link waitForPort}. */
export interface WaitForPortOptions {
  /** Give up after this many milliseconds (default 15 000). */
  timeoutMs?: number;
  /** Pause between attempts in milliseconds (default 50). */
  intervalMs?: number;
  /** Called before each attempt; throw from it to stop waiting (e.g. the server process died). */
  check?: () => void;
}

/**
 * Polls `host:port` until a TCP connection succeeds, bounded by `timeoutMs`.
 *
 * @example
 * await waitForPort(25025, '127.0.0.1', { timeoutMs: 5000 });
 */
export async function waitForPort(port: number, host = '127.0.0.1', options: WaitForPortOptions = {}): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const intervalMs = options.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    options.check?.();
    try {
      await tryConnect(port, host, Math.max(100, Math.min(1000, deadline - Date.now())));
      return;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`nothing accepted connections on ${host}:${port} within ${timeoutMs} ms`, { cause: lastError });
}

function tryConnect(port: number, host: string, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const socket = new Socket();
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('connect timed out'));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      // Closing with a reset keeps Postfix from logging a lost connection after a full dialogue wait.
      socket.destroy();
      resolve();
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    });
    socket.connect(port, host);
  });
}
