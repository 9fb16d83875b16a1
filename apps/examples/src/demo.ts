/**
 * `pnpm demo`: start the smtpkit capture inbox (SMTP on 127.0.0.1:1025, web page on 127.0.0.1:8025),
 * send it the rich message (text, HTML, an inline image, an attachment) through smtpkit and the lab
 * message through the lab client, print the transcript and what the inbox received, and keep serving
 * until Ctrl-C. `--once` stops after printing (for scripts and CI).
 *
 *   node dist/demo.js [--once] [--smtp HOST:PORT] [--http HOST:PORT]
 *   (or SMTPKIT_DEMO_SMTP / SMTPKIT_DEMO_HTTP; a busy port falls back to a free one, and says so)
 */
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startInbox } from '@smtpkit/inbox';
import type { Inbox, StoredMessage } from '@smtpkit/inbox';
import PostalMime from 'postal-mime';
import { FROM, TO, smtpClient } from './lab.js';
import { mimeTree } from './mime-tree.js';
import { sendRich } from './rich.js';

/** Where the demo inbox listens. */
export interface DemoOptions {
  smtp?: { host: string; port: number };
  http?: { host: string; port: number };
  /** Stop after printing (default: keep serving until SIGINT / SIGTERM or `signal`). */
  once?: boolean;
  /** Stops a serving demo (tests; Ctrl-C otherwise). */
  signal?: AbortSignal;
}

function sha256(bytes: Uint8Array | ArrayBuffer | string): string {
  return createHash('sha256').update(typeof bytes === 'string' ? bytes : new Uint8Array(bytes as ArrayBuffer)).digest('hex');
}

/** `HOST:PORT` (or `PORT`) → address; undefined when not given. */
export function parseHostPort(value: string | undefined, what: string): { host: string; port: number } | undefined {
  if (value === undefined || value === '') return undefined;
  const m = /^(?:([^:]*):)?(\d{1,5})$/.exec(value);
  if (!m || Number(m[2]) > 65535) throw new Error(`${what} ${JSON.stringify(value)}: expected HOST:PORT`);
  return { host: m[1] || '127.0.0.1', port: Number(m[2]) };
}

/** Starts the inbox; a busy port is replaced by a free one (said in `notes`). */
async function startDemoInbox(options: DemoOptions, notes: string[]): Promise<Inbox> {
  const smtp = { host: '127.0.0.1', port: 1025, ...options.smtp };
  const http = { host: '127.0.0.1', port: 8025, ...options.http };
  for (let attempt = 0; ; attempt++) {
    try {
      return await startInbox({ smtpHost: smtp.host, smtpPort: smtp.port, httpHost: http.host, httpPort: http.port, hostname: 'demo.smtpkit.test' });
    } catch (error) {
      const e = error as { code?: string; port?: number };
      if (e.code !== 'EADDRINUSE' || attempt >= 2) throw error;
      const side = e.port === smtp.port && smtp.port !== 0 ? smtp : http;
      notes.push(`port ${side.port} is busy: the demo inbox ${side === smtp ? 'SMTP' : 'web'} side listens on a free port instead`);
      side.port = 0;
    }
  }
}

async function printReceived(m: StoredMessage, print: (line: string) => void): Promise<void> {
  const t = m.transaction;
  print(`envelope: MAIL FROM:<${t.from}>  RCPT TO:${t.to.map((x) => `<${x}>`).join(' ')}  (${m.raw.length} bytes over ${t.via}${t.via === 'BDAT' ? `, chunks ${t.chunks.join(' + ')}` : ''})`);
  print(`extensions used: ${t.extensions.join(' ') || 'none'}`);
  print(`findings: ${m.findings.length === 0 ? 'none' : m.findings.map((f) => `${f.code} (${f.rfc})`).join(', ')}`);
  const parsed = await PostalMime.parse(m.raw);
  print('headers:');
  for (const h of parsed.headers) print(`  ${h.originalKey ?? h.key}: ${h.value}`);
  print('MIME tree:');
  for (const line of mimeTree(m.raw)) print(`  ${line}`);
  print(`text part: ${JSON.stringify(parsed.text ?? '')}`);
  if (parsed.html) print(`html part: ${parsed.html.length} characters`);
  if (parsed.attachments.length > 0) print('attachments:');
  for (const a of parsed.attachments) {
    const content = a.content as ArrayBuffer | Uint8Array | string;
    const size = typeof content === 'string' ? Buffer.byteLength(content) : content.byteLength;
    print(
      `  ${a.filename ?? '(no name)'}  ${a.mimeType}  ${a.disposition ?? 'attachment'}` +
        `${a.contentId ? ` cid ${a.contentId}` : ''}  ${size} bytes  sha256 ${sha256(content)}`,
    );
  }
}

/** Run the demo, writing to `print`. Resolves when the inbox has stopped. */
export async function runDemo(print: (line: string) => void = (l) => process.stdout.write(l + '\n'), options: DemoOptions = {}): Promise<void> {
  const notes: string[] = [];
  const inbox = await startDemoInbox(options, notes);
  try {
    for (const n of notes) print(n);
    print(`smtpkit inbox: SMTP on 127.0.0.1:${inbox.smtpPort}, web page on ${inbox.url}`);
    print('');
    print('== 1. The rich message through smtpkit (C: client, S: server, *: local event)');
    const result = await sendRich({
      host: '127.0.0.1',
      port: inbox.smtpPort,
      from: 'Alice <alice@example.com>',
      to: 'Bob <bob@example.com>',
      onTranscript: (e) => print(`${e.dir === '*' ? '*' : `${e.dir}:`} ${e.text}`),
    });
    print('');
    print(`accepted: ${result.accepted.join(', ')}   final reply: ${result.reply.code} ${result.reply.text}`);
    print('');
    print(`== 2. The lab message through the lab client (HELO Alice, ${FROM} → ${TO})`);
    await smtpClient(inbox.smtpPort, '127.0.0.1');
    print('sent (the lab client prints nothing when all goes well)');

    const received = inbox.store.list().reverse();
    const rich = received.find((m) => m.transaction.from === 'alice@example.com');
    const lab = received.find((m) => m.transaction.from === FROM);
    if (!rich || !lab) throw new Error(`the inbox received ${received.length} message(s), expected 2`);
    print('');
    print('== What the inbox received: the rich message');
    await printReceived(rich, print);
    print('');
    print('== What the inbox received: the lab message');
    await printReceived(lab, print);
    print('');
    print(`Open ${inbox.url} to see both messages: HTML, raw source, MIME tree, transcript, findings.`);
    print(`Evidence view (the lab's screenshot): ${inbox.url}evidence/${lab.id}`);
    if (!options.once) {
      print('The inbox keeps running; send more to 127.0.0.1:' + inbox.smtpPort + '. Ctrl-C to stop.');
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        options.signal?.addEventListener('abort', stop, { once: true });
      });
    }
  } finally {
    await inbox.close();
  }
  print('');
  print('demo inbox stopped');
}

/** Options from argv and the environment: `--once`, `--smtp`, `--http`, SMTPKIT_DEMO_SMTP, SMTPKIT_DEMO_HTTP. */
export function demoOptionsFrom(argv: string[], env: NodeJS.ProcessEnv): DemoOptions {
  const { values } = parseArgs({ args: argv, options: { once: { type: 'boolean' }, smtp: { type: 'string' }, http: { type: 'string' } }, strict: true });
  const options: DemoOptions = { once: values.once === true };
  const smtp = parseHostPort(values.smtp ?? env.SMTPKIT_DEMO_SMTP, '--smtp');
  const http = parseHostPort(values.http ?? env.SMTPKIT_DEMO_HTTP, '--http');
  if (smtp) options.smtp = smtp;
  if (http) options.http = http;
  return options;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  Promise.resolve()
    .then(() => runDemo(undefined, demoOptionsFrom(process.argv.slice(2), process.env)))
    .then(
      () => process.exit(0),
      (error: Error & { hint?: string }) => {
        process.stderr.write(`demo: ${error.message}${error.hint ? ` (hint: ${error.hint})` : ''}\n`);
        process.exit(1);
      },
    );
}
