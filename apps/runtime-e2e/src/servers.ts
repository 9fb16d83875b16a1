/**
 * The servers of the runtime end-to-end suite. This file always runs under Node (the suite under test
 * may be Bun or Deno, see run.ts): what is tested is the client side, so the servers are the ones the
 * package tests already trust. Everything listens on 127.0.0.1 and a port the system picks.
 *
 * Prints one JSON line ({@link ServerInfo}) on stdout when ready, answers `GET /messages?token=T` and
 * `GET /connections?server=NAME` on its HTTP port, and stops everything when stdin closes.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { scenarios, startFaultServer, type FaultServer } from '@smtpkit/client/testing';
import { generateCertificates, startPostfix, type PostfixServer } from '@smtpkit/testkit';
import { PASSWORD, TOKEN, USER } from './credentials.js';


/** A stored message is kept whole up to this size; above it only its size and digest. */
const KEEP_RAW = 1024 * 1024;

/** One message a server accepted. */
export interface ReceivedMessage {
  server: string;
  from: string;
  to: string[];
  size: number;
  sha256: string;
  /** The whole message as text (latin1), when it is at most 1 MiB. */
  raw?: string;
  /** Set when the message came in over TLS. */
  secure: boolean;
  /** The AUTH user, when the client authenticated. */
  user?: string;
}

/** What run.ts learns from the servers process. */
export interface ServerInfo {
  http: number;
  ca: string;
  ports: Record<ServerName, number>;
}

export type ServerName =
  | 'plain'
  | 'starttls'
  | 'implicit'
  | 'unknownCa'
  | 'wrongHost'
  | 'expired'
  | 'postfix'
  | 'pipelining'
  | 'injection'
  | 'silent';

const received: ReceivedMessage[] = [];
const stops: Array<() => Promise<unknown>> = [];

async function listen(name: string, options: SMTPServerOptions): Promise<number> {
  const server = new SMTPServer({
    banner: `${name} e2e`,
    authOptional: true,
    size: 0,
    logger: false,
    ...options,
    onData(stream, session, callback) {
      const hash = createHash('sha256');
      const kept: Buffer[] = [];
      let size = 0;
      stream.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        size += chunk.length;
        if (size <= KEEP_RAW) kept.push(chunk);
      });
      stream.on('end', () => {
        const user = session.user as string | undefined;
        received.push({
          server: name,
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          size,
          sha256: hash.digest('hex'),
          ...(size <= KEEP_RAW ? { raw: Buffer.concat(kept).toString('latin1') } : {}),
          secure: Boolean(session.secure),
          ...(user ? { user } : {}),
        });
        callback(null, `queued by ${name}`);
      });
    },
  });
  server.on('error', () => {}); // a client that refuses our certificate closes mid-handshake: expected here
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  stops.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.server.address() as AddressInfo).port;
}

async function fault(server: Promise<FaultServer>): Promise<FaultServer> {
  const s = await server;
  stops.push(() => s.close());
  return s;
}

async function main(): Promise<void> {
  const certs = await generateCertificates();
  const auth: SMTPServerOptions = {
    authMethods: ['PLAIN', 'LOGIN', 'XOAUTH2'],
    onAuth(a, _session, callback) {
      const ok = a.method === 'XOAUTH2' ? a.username === USER && a.accessToken === TOKEN : a.username === USER && a.password === PASSWORD;
      if (ok) callback(null, { user: a.username });
      else callback(Object.assign(new Error('Authentication credentials invalid'), { responseCode: 535 }));
    },
  };
  const tlsWith = (pair: { key: string; cert: string }): SMTPServerOptions => ({ key: pair.key, cert: pair.cert, ...auth });

  const ports = {} as Record<ServerName, number>;
  ports.plain = await listen('plain', { disabledCommands: ['STARTTLS', 'AUTH'] });
  ports.starttls = await listen('starttls', tlsWith(certs));
  ports.implicit = await listen('implicit', { secure: true, ...tlsWith(certs) });
  ports.unknownCa = await listen('unknownCa', tlsWith(certs.selfSigned));
  ports.wrongHost = await listen('wrongHost', tlsWith(certs.wrongHost));
  ports.expired = await listen('expired', tlsWith(certs.expired));

  const pipelining = await fault(startFaultServer(scenarios.happyPath({ pipelining: true })));
  ports.pipelining = pipelining.port;
  const injection = await fault(
    startFaultServer(
      [...scenarios.plainGreeting(), ...scenarios.ehlo({ starttls: true }), ...scenarios.startTls({ injectPlaintext: '250 injected\r\n' })],
      { tls: { key: certs.key, cert: certs.cert } },
    ),
  );
  ports.injection = injection.port;
  const silent = await fault(startFaultServer([{ stall: true, maxMs: 60_000 }]));
  ports.silent = silent.port;

  const postfix: PostfixServer = await startPostfix({ tls: 'may', certs });
  stops.push(() => postfix.stop());
  ports.postfix = postfix.port;
  const faults: Record<string, FaultServer> = { pipelining, injection, silent };

  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const send = (body: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/messages') {
      const token = url.searchParams.get('token') ?? '';
      postfix.messages().then(
        (delivered) => {
          const fromPostfix = delivered.map(
            (m): ReceivedMessage => ({
              server: 'postfix',
              from: '',
              to: [m.recipient],
              size: m.raw.length,
              sha256: createHash('sha256').update(m.raw).digest('hex'),
              raw: m.raw.toString('latin1'),
              secure: /\bwith E?SMTPS/.test(m.raw.toString('latin1')),
            }),
          );
          send([...received, ...fromPostfix].filter((m) => m.to.some((t) => t.includes(token)) || m.raw?.includes(token)));
        },
        (error: Error) => send({ error: error.message }),
      );
      return;
    }
    if (url.pathname === '/connections') {
      const server = faults[url.searchParams.get('server') ?? ''];
      send(
        server?.connections.map((c) => ({
          chunks: c.chunks.map((k) => ({ tls: k.tls, data: k.data.toString('latin1') })),
          tls: c.tls,
          tlsError: c.tlsError?.message,
          scriptError: c.scriptError?.message,
        })) ?? [],
      );
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  stops.push(() => new Promise<void>((resolve) => http.close(() => resolve())));

  const info: ServerInfo = { http: (http.address() as AddressInfo).port, ca: certs.caCert, ports };
  process.stdout.write(JSON.stringify(info) + '\n');
}

let stopping = false;
async function stopAll(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  await Promise.allSettled(stops.map((stop) => stop()));
  process.exit(code);
}

process.stdin.on('end', () => void stopAll(0));
process.stdin.resume();
process.on('SIGTERM', () => void stopAll(0));
main().catch((error: Error) => {
  process.stderr.write(`e2e servers: ${error.stack ?? error.message}\n`);
  void stopAll(1);
});
