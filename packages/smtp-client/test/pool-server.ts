import { createServer, type AddressInfo, type Socket } from 'node:net';
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';

/** A message as the server stored it. */
export interface ReceivedMessage {
  connection: string;
  /** Received over TLS. */
  secure: boolean;
  from: string;
  to: string[];
  data: string;
}

/** An in-process `smtp-server` on 127.0.0.1:0 that records connections, commands and messages. */
export interface RecordingServer {
  readonly port: number;
  readonly host: '127.0.0.1';
  /** Connections accepted so far. */
  readonly connections: number;
  /** Connections open now, and the most open at once. */
  readonly open: number;
  readonly maxOpen: number;
  /** Every command line received, as `<connection id> <line>`. */
  readonly commands: string[];
  readonly messages: ReceivedMessage[];
  /** Command verbs received on one connection. */
  verbs(connection: string): string[];
  close(): Promise<void>;
}

type Hooks = Pick<SMTPServerOptions, 'onConnect' | 'onMailFrom' | 'onRcptTo'> & {
  name?: string;
  size?: number;
  /** Refuse a message after its body was received: return an error with `responseCode`. */
  refuseData?: () => Error | undefined;
  /** Offer STARTTLS with this certificate. */
  tls?: { key: string; cert: string };
};

/** Starts a {@link RecordingServer}; `hooks` can refuse (err.responseCode) at any step. */
export async function startRecordingServer(hooks: Hooks = {}): Promise<RecordingServer> {
  let connections = 0;
  let open = 0;
  let maxOpen = 0;
  const commands: string[] = [];
  const messages: ReceivedMessage[] = [];
  const logger = {
    level: () => {},
    trace: () => {},
    info: () => {},
    warn: () => {},
    error: () => {},
    fatal: () => {},
    debug: (meta: { tnx?: string; cid?: string }, ...args: unknown[]) => {
      if (meta?.tnx === 'command') commands.push(`${meta.cid} ${String(args[1])}`);
    },
  };
  const server = new SMTPServer({
    ...(hooks.name ? { name: hooks.name } : {}),
    disabledCommands: hooks.tls ? ['AUTH'] : ['AUTH', 'STARTTLS'],
    ...(hooks.tls ? { key: hooks.tls.key, cert: hooks.tls.cert } : {}),
    logger: logger as unknown as SMTPServerOptions['logger'],
    ...(hooks.size ? { size: hooks.size } : {}),
    onConnect(session: SMTPServerSession, callback: (err?: Error | null) => void) {
      connections++;
      open++;
      maxOpen = Math.max(maxOpen, open);
      if (hooks.onConnect) hooks.onConnect(session, callback);
      else callback();
    },
    onClose() {
      open--;
    },
    ...(hooks.onMailFrom ? { onMailFrom: hooks.onMailFrom } : {}),
    ...(hooks.onRcptTo ? { onRcptTo: hooks.onRcptTo } : {}),
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const refusal = hooks.refuseData?.();
        if (refusal) {
          callback(refusal);
          return;
        }
        messages.push({
          connection: session.id,
          secure: session.secure,
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          data: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    host: '127.0.0.1',
    get connections() {
      return connections;
    },
    get open() {
      return open;
    },
    get maxOpen() {
      return maxOpen;
    },
    commands,
    messages,
    verbs(connection: string) {
      return commands
        .filter((c) => c.startsWith(`${connection} `))
        .map((c) => c.slice(connection.length + 1).split(' ')[0]!.toUpperCase());
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** How {@link startLineServer} misbehaves on one connection. */
export type LineServerMode = 'normal' | 'hang-up-after-mail' | 'hang-up-in-body' | 'hang-up-after-dot';

/**
 * A minimal line-based SMTP server on 127.0.0.1:0 (no PIPELINING, no extensions) that can hang up
 * at chosen points without replying; `modes[i]` applies to the i-th connection (then 'normal').
 */
export async function startLineServer(modes: LineServerMode[]): Promise<{
  port: number;
  connections: number;
  messages: string[];
  /** Resolves once a connection was hung up on purpose. */
  hungUp: Promise<void>;
  close(): Promise<void>;
}> {
  let hungUp!: () => void;
  const hangUp = new Promise<void>((resolve) => (hungUp = resolve));
  const sockets = new Set<Socket>();
  const state = { connections: 0, messages: [] as string[] };
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => {
      sockets.delete(socket);
      if (mode !== 'normal') hungUp();
    });
    socket.on('error', () => undefined);
    const mode = modes[state.connections++] ?? 'normal';
    let buffer = '';
    let inData = false;
    let body = '';
    socket.write('220 line.test ESMTP\r\n');
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      for (let i = buffer.indexOf('\r\n'); i !== -1; i = buffer.indexOf('\r\n')) {
        const line = buffer.slice(0, i);
        buffer = buffer.slice(i + 2);
        if (inData) {
          if (mode === 'hang-up-in-body') {
            socket.destroy();
            return;
          }
          if (line !== '.') {
            body += `${line}\r\n`;
            continue;
          }
          inData = false;
          if (mode === 'hang-up-after-dot') {
            state.messages.push(body);
            socket.destroy();
            return;
          }
          state.messages.push(body);
          socket.write('250 2.0.0 queued\r\n');
          continue;
        }
        const verb = line.split(' ')[0]!.toUpperCase();
        if (verb === 'MAIL' && mode === 'hang-up-after-mail') {
          socket.destroy();
          return;
        }
        if (verb === 'DATA') {
          inData = true;
          body = '';
          socket.write('354 go ahead\r\n');
        } else if (verb === 'QUIT') {
          socket.end('221 bye\r\n');
        } else if (verb === 'EHLO') {
          socket.write('250 line.test\r\n');
        } else {
          socket.write('250 ok\r\n');
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
    get connections() {
      return state.connections;
    },
    messages: state.messages,
    hungUp: hangUp,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
