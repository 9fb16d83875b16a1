import { createServer, type AddressInfo, type Socket } from 'node:net';

/** Options of {@link startRecordingServer}. */
export interface RecordingServerOptions {
  /** Extra EHLO keywords after the defaults (PIPELINING, 8BITMIME, SMTPUTF8, AUTH PLAIN LOGIN). */
  ehlo?: string[];
}

/** A well-behaved SMTP server on 127.0.0.1:0 that keeps every byte each client sent. */
export interface RecordingServer {
  port: number;
  host: '127.0.0.1';
  /** TCP connections accepted so far. */
  connections(): number;
  /** Every byte received, all connections concatenated. */
  received(): Buffer;
  /** Messages completed by "<CRLF>.<CRLF>" (the data as received, still dot-stuffed). */
  messages(): Buffer[];
  close(): Promise<void>;
}

/**
 * The smallest server that lets a client get all the way to the final 250: greeting, EHLO, AUTH
 * (PLAIN with an initial response, LOGIN), MAIL, RCPT, DATA, RSET, NOOP, QUIT. It exists to prove
 * what a client did NOT send.
 */
export async function startRecordingServer(options: RecordingServerOptions = {}): Promise<RecordingServer> {
  const all: Buffer[] = [];
  const messages: Buffer[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;
  const ehlo = ['PIPELINING', '8BITMIME', 'SMTPUTF8', 'AUTH PLAIN LOGIN', ...(options.ehlo ?? [])];
  const server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffer = Buffer.alloc(0);
    let mode: 'command' | 'data' | 'login-user' | 'login-pass' = 'command';
    const say = (text: string) => {
      if (!socket.destroyed) socket.write(`${text}\r\n`);
    };
    socket.on('data', (chunk: Buffer) => {
      all.push(chunk);
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (mode === 'data') {
          const end = buffer.indexOf('\r\n.\r\n');
          if (end === -1) return;
          messages.push(buffer.subarray(0, end + 2));
          buffer = buffer.subarray(end + 5);
          mode = 'command';
          say('250 2.0.0 queued');
          continue;
        }
        const eol = buffer.indexOf('\r\n');
        if (eol === -1) return;
        const line = buffer.subarray(0, eol).toString('latin1');
        buffer = buffer.subarray(eol + 2);
        if (mode === 'login-user') {
          mode = 'login-pass';
          say('334 UGFzc3dvcmQ6');
          continue;
        }
        if (mode === 'login-pass') {
          mode = 'command';
          say('235 2.7.0 ok');
          continue;
        }
        const verb = line.split(' ')[0]?.toUpperCase() ?? '';
        if (verb === 'EHLO') say(['recorder', ...ehlo].map((l, i, a) => `250${i === a.length - 1 ? ' ' : '-'}${l}`).join('\r\n'));
        else if (verb === 'HELO') say('250 recorder');
        else if (verb === 'MAIL' || verb === 'RCPT' || verb === 'RSET' || verb === 'NOOP') say('250 2.0.0 ok');
        else if (verb === 'DATA') {
          mode = 'data';
          buffer = Buffer.concat([Buffer.from('\r\n'), buffer]); // a body may end right after 354: "\r\n.\r\n" still matches
          say('354 go ahead');
        } else if (verb === 'AUTH') {
          if (/^AUTH LOGIN$/i.test(line)) {
            mode = 'login-user';
            say('334 VXNlcm5hbWU6');
          } else say('235 2.7.0 ok');
        } else if (verb === 'QUIT') {
          say('221 bye');
          socket.end();
        } else say('500 5.5.2 unrecognised');
      }
    });
    say('220 recorder ESMTP');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    host: '127.0.0.1',
    connections: () => connections,
    received: () => Buffer.concat(all),
    messages: () => messages.map((m) => m.subarray(2)),
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A TCP proxy on 127.0.0.1:0 in front of a real server, keeping what clients sent through it. */
export interface RecordingProxy {
  port: number;
  host: '127.0.0.1';
  /** Client → server bytes of each connection, in connection order. */
  sessions(): Buffer[];
  close(): Promise<void>;
}

/** Start a {@link RecordingProxy} forwarding to `127.0.0.1:targetPort` (plaintext sessions only). */
export async function startRecordingProxy(targetPort: number): Promise<RecordingProxy> {
  const sessions: Buffer[][] = [];
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const mine: Buffer[] = [];
    sessions.push(mine);
    const upstream = new (client.constructor as typeof Socket)();
    sockets.add(client);
    sockets.add(upstream);
    upstream.connect(targetPort, '127.0.0.1');
    client.on('data', (d: Buffer) => {
      mine.push(d);
      upstream.write(d);
    });
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const s of [client, upstream]) {
      s.on('close', end);
      s.on('error', end);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    host: '127.0.0.1',
    sessions: () => sessions.map((s) => Buffer.concat(s)),
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
