import { createServer, type AddressInfo, type Socket } from 'node:net';
import { FaultConnection } from './connection.js';
import { ConnectionClosedError } from './errors.js';
import type { ConnectionRecord } from './types.js';
import { runSteps, type FaultScript } from './steps.js';

/** A script written as code: it gets the connection and drives it. */
export type FaultHandler = (conn: FaultConnection) => Promise<void>;

/** Options for {@link startFaultServer}. */
export interface FaultServerOptions {
  /** Key and certificate (PEM) for STARTTLS steps and implicit TLS. */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** Start TLS as soon as a client connects (port 465 style, RFC 8314 §3.3); needs `tls`. */
  implicitTls?: boolean;
  /** Listen address (default '127.0.0.1'); the port is always chosen by the system. */
  host?: string;
  /** Bound on every read when the step sets none (default 10 000 ms). */
  readTimeoutMs?: number;
  /** Bound on a DATA payload or BDAT chunk (default 64 MiB). */
  maxBytes?: number;
  /** After the script ends, wait this long for the client to close before closing (default 5 000 ms). */
  lingerMs?: number;
}

/** A running fault-injection server. */
export interface FaultServer {
  host: string;
  port: number;
  /** Every byte received from every client, connections in arrival order. */
  received(): Buffer;
  /** What the server saw on each connection so far. */
  readonly connections: readonly ConnectionRecord[];
  /** Resolves when `n` connections have arrived (rejects after `timeoutMs`, default 10 000). */
  waitForConnections(n: number, timeoutMs?: number): Promise<readonly ConnectionRecord[]>;
  /** Stops listening, closes every connection, and waits for every script to end (bounded). */
  close(): Promise<void>;
}

/**
 * Starts an in-process SMTP server on port 0 that plays a script on each connection: the
 * replies, delays, splits and faults of a hostile or broken server. It records every byte
 * the client sends, so tests can check what a client did and did not send.
 *
 * @example
 * import { startFaultServer, scenarios } from '@smtpkit/client/testing';
 * const server = await startFaultServer([
 *   ...scenarios.plainGreeting(),
 *   ...scenarios.ehlo({ pipelining: true }),
 *   { expect: /^MAIL FROM:/i },
 *   { send: '421 4.3.2 going away\r\n' },
 *   { close: true },
 * ]);
 * // … point a client at 127.0.0.1:server.port …
 * await server.close();
 * server.received().toString(); // 'EHLO …\r\nMAIL FROM:<…>\r\n…'
 */
export async function startFaultServer(script: FaultScript | FaultHandler, options: FaultServerOptions = {}): Promise<FaultServer> {
  if (options.implicitTls && !options.tls) throw new TypeError('startFaultServer: implicitTls needs tls: { key, cert }');
  const host = options.host ?? '127.0.0.1';
  const connections: FaultConnection[] = [];
  const running = new Set<Promise<void>>();
  const arrivals = new Set<() => void>();
  const lingerMs = options.lingerMs ?? 5000;

  const handle = async (conn: FaultConnection): Promise<void> => {
    try {
      if (options.implicitTls) await conn.startTls(options.readTimeoutMs ?? 10_000);
      if (typeof script === 'function') await script(conn);
      else await runSteps(conn, script);
      if (!conn.isClosed) await conn.waitForClose(lingerMs);
    } catch (error) {
      if (!(error instanceof ConnectionClosedError) || !conn.clientClosed) conn.scriptError = error as Error;
    } finally {
      conn.destroy();
      conn.finish();
    }
  };

  const server = createServer({ allowHalfOpen: false }, (socket: Socket) => {
    const conn = new FaultConnection(socket, connections.length, {
      readTimeoutMs: options.readTimeoutMs ?? 10_000,
      maxBytes: options.maxBytes ?? 64 * 1024 * 1024,
      tls: options.tls,
    });
    connections.push(conn);
    const run = handle(conn);
    running.add(run);
    void run.finally(() => running.delete(run));
    for (const wake of [...arrivals]) wake();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: 0 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  let closing: Promise<void> | undefined;
  return {
    host,
    port,
    connections,
    received: () => Buffer.concat(connections.map((c) => c.received)),
    waitForConnections: async (n, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      while (connections.length < n) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`expected ${n} connection(s) to the fault server, got ${connections.length} in ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const done = (): void => {
            clearTimeout(timer);
            arrivals.delete(done);
            resolve();
          };
          const timer = setTimeout(done, left);
          arrivals.add(done);
        });
      }
      return connections;
    },
    close: () => {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const conn of connections) conn.destroy();
        await Promise.race([Promise.all([stopped, ...running]), new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
      })();
      return closing;
    },
  };
}
