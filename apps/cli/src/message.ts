import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { AttachmentInput, BuiltMessage, MessageInput } from '@smtpkit/mime';
import { InputFileError, UsageError } from './exit-codes.js';
import { extraMessageInput } from './send-extras.js';
import type { SendConfig } from './send-options.js';

/** A message ready for the wire: what the envelope says and the bytes to send. */
export interface PreparedMessage {
  from: string;
  to: string[];
  message: BuiltMessage;
  /** An existing message (--eml), already in memory. */
  raw?: boolean;
  /** Releases what the message holds (a spool file); called once the send is over, whatever its outcome. */
  dispose?: () => Promise<void>;
}

/** A local part with non-ASCII characters: only SMTPUTF8 carries the address (RFC 6531). */
export function hasUtf8LocalPart(address: string): boolean {
  return /[\u0080-\uffff]/.test(address.slice(0, address.lastIndexOf('@')));
}

/** Recipients once each, compared case-insensitively (the first spelling wins). */
function dedupe(addresses: string[]): string[] {
  const seen = new Set<string>();
  return addresses.filter((a) => {
    const key = a.toLowerCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

async function readAll(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

/** Read a file the user named (`-` = stdin); a missing file is exit 66. */
export async function readInput(path: string): Promise<Buffer> {
  if (path === '-') return readAll(process.stdin);
  try {
    return await readFile(path);
  } catch (error) {
    throw new InputFileError(path, error);
  }
}

/** Stream a file (constant memory for big attachments), checking up front that it exists. */
async function openAttachment(path: string, disposition: 'attachment' | 'inline', guess: (f: string) => string): Promise<AttachmentInput> {
  let size: number;
  try {
    const s = await stat(path);
    if (!s.isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
    size = s.size;
  } catch (error) {
    throw new InputFileError(path, error);
  }
  const filename = basename(path);
  return {
    filename,
    // A function opening the file afresh keeps the message reusable (DKIM signs in two passes).
    content: () => createReadStream(path),
    contentType: guess(filename),
    size,
    disposition,
    ...(disposition === 'inline' ? { cid: filename } : {}),
  };
}

/** Headers mime writes from fields of their own: `--header` routes them there. */
const STRUCTURED: Record<string, keyof MessageInput | null> = {
  'reply-to': 'replyTo', sender: 'sender', 'message-id': 'messageId', date: 'date', subject: 'subject',
  from: null, to: null, cc: null, bcc: null,
};

function structuredHeaders(cfg: SendConfig): Partial<MessageInput> {
  const out: Partial<MessageInput> = {};
  for (const [name, value] of cfg.headers) {
    const field = STRUCTURED[name.toLowerCase()];
    if (field === undefined) continue;
    if (field === null) throw new UsageError(`--header ${name}: use --${name.toLowerCase()} (it also sets the envelope)`);
    if (field === 'subject' && cfg.subject !== undefined) throw new UsageError('--header Subject and --subject both given');
    if (field === 'date') {
      const date = new Date(value);
      if (Number.isNaN(date.getTime())) throw new UsageError(`--header Date: cannot read "${value}" as a date`);
      out.date = date;
    } else {
      (out as Record<string, string>)[field] = value;
    }
  }
  return out;
}

/** Signing warnings (a weak key) on stderr, unless `-q`. */
function dkimWarnings(cfg: SendConfig): (line: string) => void {
  return cfg.output.quiet ? () => undefined : (line) => void process.stderr.write(line);
}

/**
 * Turn the flags into a message: either `--eml` as-is (optionally reading its recipients and
 * dropping Bcc), or a new message built by @smtpkit/mime from the parts the user named.
 * Files are read here; mime only ever sees bytes and streams.
 */
export async function prepareMessage(cfg: SendConfig): Promise<PreparedMessage> {
  const mime = await import('@smtpkit/mime');
  const from = mime.parseAddress(cfg.from).address;
  const flagRecipients = [...cfg.to, ...cfg.cc, ...cfg.bcc].map((a) => mime.parseAddress(a).address);
  // An address the user gave with a UTF-8 local part is meant: the message is built for SMTPUTF8 (RFC 6531,
  // RFC 6532) and the client decides after EHLO whether this server can take it. Otherwise IDN domains go as A-labels.
  const smtputf8 = [from, ...flagRecipients].some(hasUtf8LocalPart);

  if (cfg.eml !== undefined && cfg.dkim.length > 0) {
    return (await import('./dkim-sign.js')).prepareSignedEml(cfg, from, flagRecipients, dedupe, dkimWarnings(cfg));
  }
  if (cfg.eml !== undefined) {
    // sendmail -t: recipients from To/Cc/Bcc, and Bcc removed from what is sent (RFC 5322 §3.6.3).
    const message = mime.rawMessage(await readInput(cfg.eml), { stripBcc: cfg.readRecipients });
    const to = [...flagRecipients, ...(cfg.readRecipients ? message.envelope.to : [])];
    if (to.length === 0) throw new UsageError(`${cfg.eml} names no recipients in To, Cc or Bcc`);
    return { from, to: dedupe(to), message, raw: true };
  }

  let text = cfg.body;
  if (cfg.bodyFile !== undefined) text = (await readInput(cfg.bodyFile)).toString('utf8');
  const html = cfg.html !== undefined ? (await readInput(cfg.html)).toString('utf8') : undefined;
  const attachments = await Promise.all(cfg.attach.map((p) => openAttachment(p, 'attachment', mime.guessContentType)));
  const inline = await Promise.all(cfg.inline.map((p) => openAttachment(p, 'inline', mime.guessContentType)));
  const input: MessageInput = {
    ...structuredHeaders(cfg),
    from: cfg.from,
    to: cfg.to,
    cc: cfg.cc,
    bcc: cfg.bcc,
    ...(cfg.subject !== undefined ? { subject: cfg.subject } : {}),
    text: text ?? (html === undefined ? '' : undefined),
    html,
    attachments,
    inline,
    ...(smtputf8 ? { smtputf8: true } : {}),
    headers: cfg.headers.filter(([name]) => !(name.toLowerCase() in STRUCTURED)),
    ...(await extraMessageInput(cfg)),
    ...(cfg.dkim.length > 0 ? { signing: true } : {}),
  };
  const message = mime.buildMessage(input);
  const prepared = { from, to: dedupe(message.envelope.to), message };
  return cfg.dkim.length > 0 ? (await import('./dkim-sign.js')).signPrepared(prepared, cfg.dkim, dkimWarnings(cfg)) : prepared;
}
