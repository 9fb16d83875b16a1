import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { TLSSocket, createSecureContext } from 'node:tls';
import type { SecureContext } from 'node:tls';
import { ServerSession } from '@smtpkit/wire';
import type { AuthCredentials, ServerAuthMechanism, ServerEvent } from '@smtpkit/wire';
import type { MessageStore, SessionRecord, TranscriptLine } from './store.js';

/** AUTH as the inbox offers it: `any` accepts any credentials without requiring them; `users` requires them. */
export type InboxAuth = { mode: 'any' } | { mode: 'users'; users: Map<string, string> };

/** Options of {@link listenSmtp}. */
export interface SmtpListenerOptions {
  host: string;
  port: number;
  hostname: string;
  store: MessageStore;
  tls?: { key: string | Buffer; cert: string | Buffer };
  auth?: InboxAuth;
  maxMessageSize: number;
  maxRecipients: number;
  maxConnections: number;
  idleTimeoutMs: number;
  maxTranscriptLines: number;
}

const MECHANISMS: ServerAuthMechanism[] = ['PLAIN', 'LOGIN', 'CRAM-MD5', 'XOAUTH2'];

/** Creates a new server-made id: 12 URL-safe characters, time-ordered. */
export function newId(): string {
  return `${Date.now().toString(36)}${randomBytes(4).toString('hex')}`.slice(-12).padStart(12, '0');
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Checks credentials against a users map (`user → secret`); RFC 2195 §2 for CRAM-MD5. */
export function verifyUser(users: Map<string, string>, c: AuthCredentials): boolean {
  const secret = users.get(c.user);
  if (secret === undefined) return false;
  switch (c.mechanism) {
    case 'PLAIN':
    case 'LOGIN':
      return sameSecret(c.password, secret);
    case 'XOAUTH2':
      return sameSecret(c.token, secret);
    case 'CRAM-MD5':
      return sameSecret(c.digest, createHmac('md5', secret).update(c.challenge).digest('hex'));
  }
}

/** The SMTP side of the inbox: node:net (and node:tls after STARTTLS) around @smtpkit/wire's ServerSession. */
export async function listenSmtp(o: SmtpListenerOptions): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const secureContext: SecureContext | undefined = o.tls ? createSecureContext({ key: o.tls.key, cert: o.tls.cert }) : undefined;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    if (sockets.size >= o.maxConnections) {
      socket.end('421 4.7.0 Too many connections, try again later\r\n');
      return;
    }
    sockets.add(socket);
    serve(socket, o, secureContext, () => sockets.delete(socket));
  });
  server.maxConnections = o.maxConnections + 8; // the explicit 421 above answers first
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function serve(raw: Socket, o: SmtpListenerOptions, secureContext: SecureContext | undefined, onGone: () => void): void {
  const record: SessionRecord = {
    id: newId(),
    remoteAddress: raw.remoteAddress ?? '',
    remotePort: raw.remotePort ?? 0,
    startedAt: new Date().toISOString(),
    secure: false,
    extensions: [],
    findings: [],
    messageIds: [],
    transcript: [],
    droppedLines: 0,
  };
  o.store.openSession(record);
  const note = (dir: TranscriptLine['dir'], text: string) => {
    if (record.transcript.length >= o.maxTranscriptLines) {
      record.droppedLines++;
      return;
    }
    record.transcript.push({ dir, text, at: new Date().toISOString() });
  };
  const session = new ServerSession({
    hostname: o.hostname,
    greeting: 'ESMTP smtpkit inbox',
    maxMessageSize: o.maxMessageSize,
    maxRecipients: o.maxRecipients,
    starttls: secureContext !== undefined,
    allowBareLf: true,
    queueId: newId,
    ...(o.auth
      ? {
          auth: {
            mechanisms: MECHANISMS,
            required: o.auth.mode === 'users',
            verify: (c: AuthCredentials) => (o.auth?.mode === 'users' ? verifyUser(o.auth.users, c) : true),
          },
        }
      : {}),
  });
  let socket: Socket = raw;
  let data: Buffer[] = [];
  let queue: Promise<void> = Promise.resolve();

  note('*', `connected from ${record.remoteAddress}:${record.remotePort}`);
  const greeting = session.greet();
  note('S', Buffer.from(greeting).toString('utf8'));
  socket.write(greeting);

  const onData = (chunk: Buffer) => {
    const events = session.push(chunk);
    // Messages are stored in order, and each reply goes out only after its message is stored.
    queue = queue.then(() => handle(events)).catch((e: Error) => {
      note('*', `inbox error: ${e.message}`);
      socket.destroy();
    });
  };

  const handle = async (events: ServerEvent[]) => {
    const out: Uint8Array[] = [];
    let upgrade = false;
    let close = false;
    for (const e of events) {
      switch (e.type) {
        case 'command':
          note('C', e.line);
          if (/^(EHLO|HELO) /i.test(e.line)) record.helo = e.line.slice(5).trim();
          break;
        case 'reply':
          note('S', Buffer.from(e.bytes).toString('utf8'));
          out.push(e.bytes);
          break;
        case 'finding':
          record.findings.push(e.finding);
          note('*', `finding ${e.finding.code} (${e.finding.rfc}): ${e.finding.text}`);
          break;
        case 'data':
          data.push(Buffer.from(e.bytes.buffer, e.bytes.byteOffset, e.bytes.byteLength));
          break;
        case 'discard':
          data = [];
          break;
        case 'message': {
          const rawMessage = Buffer.concat(data);
          data = [];
          const t = e.transaction;
          note('C', `<message ${rawMessage.length} octets${t.via === 'BDAT' ? ` in ${t.chunks.length} BDAT chunk(s): ${t.chunks.join(', ')}` : ' over DATA'}>`);
          await o.store.add(record.id, rawMessage, t);
          note('*', `stored as message ${t.id}`);
          break;
        }
        case 'auth':
          note('*', `AUTH ${e.mechanism} user ${JSON.stringify(e.user)}: ${e.ok ? 'accepted' : 'refused'}`);
          if (e.ok) record.authUser = e.user;
          break;
        case 'starttls':
          upgrade = true;
          break;
        case 'close':
          close = true;
          break;
      }
    }
    record.extensions = session.extensionsUsed;
    if (out.length > 0 && !socket.destroyed) socket.write(Buffer.concat(out));
    if (close) socket.end();
    else if (upgrade && secureContext) startTls(secureContext);
  };

  const startTls = (context: SecureContext) => {
    socket.off('data', onData);
    const secure = new TLSSocket(socket, { isServer: true, secureContext: context });
    attach(secure);
    secure.once('secure', () => {
      record.secure = true;
      record.tls = `${secure.getProtocol() ?? '?'} ${secure.getCipher()?.name ?? '?'}`;
      note('*', `TLS up: ${record.tls}`);
    });
    socket = secure;
  };

  const attach = (s: Socket) => {
    s.on('data', onData);
    s.on('error', (e) => note('*', `socket error: ${e.message}`));
    s.setTimeout(o.idleTimeoutMs, () => {
      const bye = session.shutdown('idle timeout');
      note('S', Buffer.from(bye).toString('utf8'));
      s.end(bye);
    });
  };
  attach(socket);
  raw.on('close', () => {
    record.endedAt = new Date().toISOString();
    note('*', 'connection closed');
    onGone();
    o.store.closeSession(record);
  });
}
