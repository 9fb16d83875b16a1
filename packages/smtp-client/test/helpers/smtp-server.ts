import { createServer, type AddressInfo, type Socket } from 'node:net';
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';

/** What the server accepted, as it received it. */
export interface ReceivedMessage {
  from: string;
  fromArgs: Record<string, string>;
  to: string[];
  data: Buffer;
  secure: boolean;
  user: unknown;
}

/** An error the server answers with (smtp-server reads `responseCode`). */
export function smtpReject(code: number, message: string): Error & { responseCode: number } {
  return Object.assign(new Error(message), { responseCode: code });
}

export interface TestServerOptions extends Partial<SMTPServerOptions> {
  /** Refuse MAIL FROM / RCPT TO / the message: return an error from smtpReject(). */
  rejectMail?: (address: string) => Error | undefined;
  rejectRcpt?: (address: string) => Error | undefined;
  rejectData?: (data: Buffer) => Error | undefined;
  /** Put a recording TCP proxy in front, to see every byte the client sent (plaintext only). */
  record?: boolean;
}

export interface TestServer {
  port: number;
  host: '127.0.0.1';
  messages: ReceivedMessage[];
  /** Client → server bytes, when `record` is on. */
  clientBytes(): string;
  /** The client's bytes as the proxy received them, one entry per TCP read. */
  clientChunks(): string[];
  connections(): number;
  close(): Promise<void>;
}

/** smtp-server in-process on 127.0.0.1, port 0, recording what it receives. */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const { rejectMail, rejectRcpt, rejectData, record, ...rest } = options;
  const messages: ReceivedMessage[] = [];
  let connections = 0;
  const server = new SMTPServer({
    logger: false,
    disableReverseLookup: true,
    authOptional: true,
    closeTimeout: 200,
    ...rest,
    onConnect(_session, cb) {
      connections++;
      cb();
    },
    onMailFrom(address, _session, cb) {
      cb(rejectMail?.(address.address) ?? undefined);
    },
    onRcptTo(address, _session, cb) {
      cb(rejectRcpt?.(address.address) ?? undefined);
    },
    onData(stream, session: SMTPServerSession, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const data = Buffer.concat(chunks);
        if ((stream as unknown as { sizeExceeded?: boolean }).sizeExceeded) {
          cb(smtpReject(552, 'Error: message exceeds fixed maximum message size'));
          return;
        }
        const refused = rejectData?.(data);
        if (refused) return cb(refused);
        messages.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          fromArgs: (session.envelope.mailFrom ? session.envelope.mailFrom.args : {}) as Record<string, string>,
          to: session.envelope.rcptTo.map((r) => r.address),
          data,
          secure: session.secure,
          user: session.user,
        });
        cb();
      });
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const smtpPort = (server.server.address() as AddressInfo).port;
  if (!record) {
    return {
      port: smtpPort,
      host: '127.0.0.1',
      messages,
      clientBytes: () => {
        throw new Error('start the server with record: true');
      },
      clientChunks: () => [],
      connections: () => connections,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  }
  const received: Buffer[] = [];
  const chunks: string[] = [];
  const sockets = new Set<Socket>();
  const proxy = createServer((client) => {
    sockets.add(client);
    const upstream = new (client.constructor as typeof Socket)();
    sockets.add(upstream);
    upstream.connect(smtpPort, '127.0.0.1');
    client.on('data', (d: Buffer) => {
      received.push(d);
      chunks.push(d.toString('latin1'));
      upstream.write(d);
    });
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    port: (proxy.address() as AddressInfo).port,
    host: '127.0.0.1',
    messages,
    clientBytes: () => Buffer.concat(received).toString('latin1'),
    clientChunks: () => chunks,
    connections: () => connections,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
