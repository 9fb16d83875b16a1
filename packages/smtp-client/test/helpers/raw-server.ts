import { createServer, type AddressInfo, type Socket } from 'node:net';

/** One client connection seen by a {@link startRawServer} handler. */
export interface RawConnection {
  socket: Socket;
  /** Every byte this client sent so far. */
  readonly received: Buffer;
  send(text: string | Uint8Array): void;
  /** Resolves once the client's bytes match `pattern` (bounded by `timeoutMs`). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Resolves when the client closes or the socket is destroyed. */
  closed: Promise<void>;
}

export interface RawServer {
  port: number;
  /** Bytes from every connection, concatenated. */
  received(): Buffer;
  close(): Promise<void>;
}

/** A bare `node:net` server on 127.0.0.1:0 for scripted, possibly hostile, SMTP dialogues. */
export async function startRawServer(handler: (c: RawConnection) => void | Promise<void>): Promise<RawServer> {
  const all: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    let mine = Buffer.alloc(0);
    const waiters: Array<() => void> = [];
    let resolveClosed: () => void = () => {};
    const closed = new Promise<void>((r) => (resolveClosed = r));
    socket.on('data', (d: Buffer) => {
      all.push(d);
      mine = Buffer.concat([mine, d]);
      for (const w of waiters.splice(0)) w();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      sockets.delete(socket);
      resolveClosed();
      for (const w of waiters.splice(0)) w();
    });
    const conn: RawConnection = {
      socket,
      get received() {
        return mine;
      },
      send(text) {
        if (!socket.destroyed) socket.write(text);
      },
      async waitFor(pattern, timeoutMs = 5000) {
        const deadline = Date.now() + timeoutMs;
        while (!pattern.test(mine.toString('latin1'))) {
          if (socket.destroyed) throw new Error(`client closed before sending ${pattern}`);
          if (Date.now() > deadline) throw new Error(`client never sent ${pattern}; got ${JSON.stringify(mine.toString('latin1'))}`);
          await new Promise<void>((r) => {
            waiters.push(r);
            setTimeout(r, 50);
          });
        }
      },
      closed,
    };
    void Promise.resolve(handler(conn)).catch(() => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    received: () => Buffer.concat(all),
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
