import { createServer, connect, type Socket } from 'node:net';

/** What the proxy saw since the last reset. */
export interface ProxyStats {
  /** Times the client wrote only after it had heard from the server and after a gap of at least a round trip. */
  waits: number;
  connections: number;
  clientBytes: number;
  serverBytes: number;
}

/** A loopback TCP proxy that holds every chunk for `delayMs` in each direction. */
export interface DelayProxy {
  readonly port: number;
  stats(): ProxyStats;
  reset(): void;
  close(): Promise<void>;
}

/**
 * Starts the proxy in front of `127.0.0.1:targetPort`.
 *
 * Counting round trips: a client that waits for a reply writes its next bytes no sooner than one full round
 * trip (2 × delay) after its previous write, and only after a server chunk was delivered to it. A client that
 * streams (pipelining across messages, BDAT) writes again within microseconds. So a client chunk counts as a
 * wait when a server chunk reached the client since the client's previous chunk AND the gap since that
 * previous chunk is at least 1.5 × delay. The greeting, EHLO and QUIT count too (about 3 per connection).
 */
export async function startDelayProxy(targetPort: number, delayMs: number): Promise<DelayProxy> {
  const stats: ProxyStats = { waits: 0, connections: 0, clientBytes: 0, serverBytes: 0 };
  const sockets = new Set<Socket>();
  const threshold = 1.5 * delayMs;

  const server = createServer((client) => {
    stats.connections++;
    client.setNoDelay(true);
    const upstream = connect({ host: '127.0.0.1', port: targetPort });
    upstream.setNoDelay(true);
    sockets.add(client);
    sockets.add(upstream);
    let heardServer = false;
    let lastClientAt = 0;

    const later = (fn: () => void): void => {
      setTimeout(fn, delayMs);
    };
    client.on('data', (chunk: Buffer) => {
      const now = performance.now();
      if (heardServer && now - lastClientAt >= threshold) stats.waits++;
      heardServer = false;
      lastClientAt = now;
      stats.clientBytes += chunk.length;
      later(() => {
        if (!upstream.destroyed) upstream.write(chunk);
      });
    });
    upstream.on('data', (chunk: Buffer) => {
      stats.serverBytes += chunk.length;
      later(() => {
        heardServer = true;
        if (!client.destroyed) client.write(chunk);
      });
    });
    client.on('end', () => later(() => upstream.end()));
    upstream.on('end', () => later(() => client.end()));
    const drop = (): void => {
      sockets.delete(client);
      sockets.delete(upstream);
      later(() => {
        client.destroy();
        upstream.destroy();
      });
    };
    client.on('close', drop);
    upstream.on('close', drop);
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    stats: () => ({ ...stats }),
    reset() {
      stats.waits = 0;
      stats.connections = 0;
      stats.clientBytes = 0;
      stats.serverBytes = 0;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
