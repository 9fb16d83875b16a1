/**
 * `pnpm demo`: start an SMTP server in this process (smtp-server on 127.0.0.1:1025), send it a
 * message with text, HTML and an image through smtpkit, print the SMTP transcript, then print what
 * the server received (envelope, headers, MIME part tree, attachment sizes and SHA-256), and stop.
 */
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import PostalMime from 'postal-mime';
import { SMTPServer } from 'smtp-server';
import { mimeTree } from './mime-tree.js';
import { sendRich } from './rich.js';

/** What the demo server stored for one message. */
export interface ReceivedMessage {
  from: string;
  to: string[];
  raw: Buffer;
}

/** A local SMTP server that keeps what it receives. */
export interface DemoServer {
  port: number;
  received: ReceivedMessage[];
  /** True when 1025 was busy and the OS picked a port. */
  fellBack: boolean;
  close(): Promise<void>;
}

function listen(server: SMTPServer, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', onError);
      resolve((server.server.address() as AddressInfo).port);
    });
  });
}

/** Start the demo server on `port` (default 1025); when busy, fall back to a free port. */
export async function startDemoServer(port = 1025): Promise<DemoServer> {
  const received: ReceivedMessage[] = [];
  const server = new SMTPServer({
    name: 'demo.smtpkit.test',
    banner: 'smtpkit demo server',
    // Plain SMTP on loopback: no certificate to trust, nothing leaves the machine.
    disabledCommands: ['STARTTLS', 'AUTH'],
    size: 10 * 1024 * 1024,
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks),
        });
        callback(null, `Queued as demo-${received.length}`);
      });
    },
  });
  server.on('error', () => {});
  let fellBack = false;
  let actual: number;
  try {
    actual = await listen(server, port);
  } catch (error) {
    if ((error as { code?: string }).code !== 'EADDRINUSE') throw error;
    fellBack = true;
    actual = await listen(server, 0);
  }
  return { port: actual, received, fellBack, close: () => new Promise((r) => server.close(() => r())) };
}

function sha256(bytes: Uint8Array | ArrayBuffer | string): string {
  return createHash('sha256').update(typeof bytes === 'string' ? bytes : new Uint8Array(bytes as ArrayBuffer)).digest('hex');
}

/** Run the demo, writing to `print`. Resolves when the server has stopped. */
export async function runDemo(print: (line: string) => void = (l) => process.stdout.write(l + '\n'), port = 1025): Promise<void> {
  const server = await startDemoServer(port);
  try {
    if (server.fellBack) print(`port ${port} is busy: the demo server listens on 127.0.0.1:${server.port} instead`);
    else print(`demo SMTP server listening on 127.0.0.1:${server.port}`);
    print('');
    print('== SMTP transcript (C: client, S: server, *: local event)');
    const result = await sendRich({
      host: '127.0.0.1',
      port: server.port,
      from: 'Alice <alice@example.com>',
      to: 'Bob <bob@example.com>',
      onTranscript: (e) => print(`${e.dir === '*' ? '*' : `${e.dir}:`} ${e.text}`),
    });
    print('');
    print(`accepted: ${result.accepted.join(', ')}   final reply: ${result.reply.code} ${result.reply.text}`);

    const got = server.received[0];
    if (!got) throw new Error('the server received nothing');
    print('');
    print('== What the server received');
    print(`envelope: MAIL FROM:<${got.from}>  RCPT TO:${got.to.map((t) => `<${t}>`).join(' ')}  (${got.raw.length} bytes)`);
    const parsed = await PostalMime.parse(got.raw);
    print('headers:');
    for (const h of parsed.headers) print(`  ${h.originalKey ?? h.key}: ${h.value}`);
    print('MIME tree:');
    for (const line of mimeTree(got.raw)) print(`  ${line}`);
    print(`text part: ${JSON.stringify(parsed.text ?? '')}`);
    print(`html part: ${(parsed.html ?? '').length} characters`);
    print('attachments:');
    for (const a of parsed.attachments) {
      const content = a.content as ArrayBuffer | Uint8Array | string;
      const size = typeof content === 'string' ? Buffer.byteLength(content) : content.byteLength;
      print(
        `  ${a.filename ?? '(no name)'}  ${a.mimeType}  ${a.disposition ?? 'attachment'}` +
          `${a.contentId ? ` cid ${a.contentId}` : ''}  ${size} bytes  sha256 ${sha256(content)}`,
      );
    }
  } finally {
    await server.close();
  }
  print('');
  print('demo server stopped');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  runDemo().then(
    () => process.exit(0),
    (error: Error & { hint?: string }) => {
      process.stderr.write(`demo: ${error.message}${error.hint ? ` (hint: ${error.hint})` : ''}\n`);
      process.exit(1);
    },
  );
}
