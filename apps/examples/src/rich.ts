/**
 * A rich message: a text part, an HTML part showing an inline image (cid:), and a file attachment.
 * The tree @smtpkit/mime builds for it:
 *
 *   multipart/mixed
 *   ├── multipart/alternative
 *   │   ├── text/plain
 *   │   └── multipart/related
 *   │       ├── text/html            <img src="cid:envelope.png">
 *   │       └── image/png            inline, Content-ID <envelope.png>
 *   └── text/plain                   attachment, notes.txt
 *
 *   node dist/rich.js [-v]     (SMTPKIT_HOST / SMTPKIT_PORT, default 127.0.0.1:1025; SMTPKIT_FROM / SMTPKIT_TO)
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sendMail, type SendResult, type TranscriptEvent } from '@smtpkit/client';
import { buildMessage, type BuiltMessage } from '@smtpkit/mime';

const ASSETS = new URL('../assets/', import.meta.url);

/** Read a file shipped in assets/ (the example reads files; mime only sees bytes). */
export function asset(name: string): Buffer {
  return readFileSync(new URL(name, ASSETS));
}

/** Build the rich message. */
export function buildRichMessage(from: string, to: string): BuiltMessage {
  return buildMessage({
    from,
    to: [to],
    subject: 'smtpkit: text, HTML, an inline image and an attachment',
    text: 'Hello!\r\n\r\nThe HTML version of this message shows an envelope. Notes are attached.\r\n',
    html:
      '<!doctype html><html><body>' +
      '<p>Hello!</p><p><img src="cid:envelope.png" alt="an envelope" width="32" height="32"></p>' +
      '<p>Notes are attached.</p></body></html>',
    inline: [{ filename: 'envelope.png', content: asset('envelope.png'), contentType: 'image/png', cid: 'envelope.png' }],
    attachments: [{ filename: 'notes.txt', content: asset('notes.txt'), contentType: 'text/plain' }],
  });
}

/** Send the rich message to `host:port`; `from` and `to` may be `Name <a@b>`. */
export async function sendRich(
  options: { host: string; port: number; from: string; to: string; onTranscript?: (e: TranscriptEvent) => void },
): Promise<SendResult & { message: BuiltMessage }> {
  const message = buildRichMessage(options.from, options.to);
  const result = await sendMail({
    host: options.host,
    port: options.port,
    ...(options.onTranscript ? { onTranscript: options.onTranscript } : {}),
    // The envelope comes from the message: bare addresses, display names stay in the headers.
    from: message.envelope.from,
    to: message.envelope.to,
    data: message,
  });
  return { ...result, message };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const verbose = process.argv.includes('-v');
  try {
    const result = await sendRich({
      host: process.env.SMTPKIT_HOST || '127.0.0.1',
      port: Number(process.env.SMTPKIT_PORT || 1025),
      from: process.env.SMTPKIT_FROM || 'alice@example.com',
      to: process.env.SMTPKIT_TO || 'bob@example.com',
      ...(verbose ? { onTranscript: (e: TranscriptEvent) => process.stdout.write(`${e.dir === '*' ? '*' : `${e.dir}:`} ${e.text}\n`) } : {}),
    });
    process.stdout.write(`rich: ${result.reply.code} ${result.reply.lines[0] ?? ''} ${result.message.messageId}\n`);
  } catch (error) {
    process.stderr.write(`rich: ${(error as Error).message}\n`);
    process.exitCode = 1;
  }
}
