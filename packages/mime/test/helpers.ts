import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import PostalMime from 'postal-mime';
import type { BuiltMessage } from '../src/index.js';

const SCRIPT = fileURLToPath(new URL('./fixtures/parse_email.py', import.meta.url));

export interface PyAddress { name: string; address: string }
export interface PyPart {
  type: string;
  defects: string[];
  children?: PyPart[];
  sha256?: string;
  size?: number;
  cte?: string;
  disposition?: string | null;
  filename?: string | null;
  cid?: string | null;
  charset?: string | null;
  text?: string;
}
export interface PyParsed {
  headers: {
    subject: string | null;
    from: PyAddress[] | null;
    to: PyAddress[] | null;
    cc: PyAddress[] | null;
    'reply-to': PyAddress[] | null;
    bcc: string | null;
    'message-id': string | null;
    date: string | null;
    'mime-version': string | null;
  };
  tree: PyPart;
}

/** Parses a message with Python's `email` package (an independent implementation). */
export function parseWithPython(bytes: Uint8Array): PyParsed {
  const out = execFileSync('python3', [SCRIPT], { input: bytes, maxBuffer: 256 * 1024 * 1024, timeout: 60_000 });
  return JSON.parse(out.toString('utf8')) as PyParsed;
}

/** Parses many messages in one Python process (for property tests). */
export function parseManyWithPython(messages: Uint8Array[]): PyParsed[] {
  const input = JSON.stringify(messages.map((m) => Buffer.from(m).toString('base64')));
  const out = execFileSync('python3', [SCRIPT, '--batch'], { input, maxBuffer: 256 * 1024 * 1024, timeout: 120_000 });
  return JSON.parse(out.toString('utf8')) as PyParsed[];
}

export function sha256(bytes: Uint8Array | ArrayBuffer | string): string {
  const data = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : bytes;
  return createHash('sha256').update(data).digest('hex');
}

export async function parseWithPostal(bytes: Uint8Array): Promise<Awaited<ReturnType<typeof PostalMime.parse>>> {
  return PostalMime.parse(bytes);
}

/** Every line ends in CRLF, no bare CR or LF, and no line is longer than `max` octets. */
export function lineProblems(bytes: Uint8Array, max = 998): string[] {
  const problems: string[] = [];
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === 0x0d && bytes[i + 1] !== 0x0a) problems.push(`bare CR at ${i}`);
    if (b === 0x0a) {
      if (bytes[i - 1] !== 0x0d) problems.push(`bare LF at ${i}`);
      if (i - 1 - start > max) problems.push(`line of ${i - 1 - start} octets at ${start}`);
      start = i + 1;
    }
  }
  if (start !== bytes.length) problems.push('last line not CRLF-terminated');
  return problems;
}

/** Strips what postal-mime adds or drops around text bodies: line-end style and trailing newlines. */
export function canonText(text: string | undefined): string {
  return (text ?? '').replace(/\r\n|\r/g, '\n').replace(/\n+$/, '');
}

export async function collect(msg: BuiltMessage): Promise<Uint8Array> {
  return msg.toBuffer();
}

/** Lone surrogates become U+FFFD, as UTF-8 encoding does (String.prototype.toWellFormed, ES2024). */
export function wellFormed(text: string): string {
  return Buffer.from(text, 'utf8').toString('utf8');
}

/** Replaces C0 controls and DEL (optionally keeping TAB) with spaces: those are rejected by design. */
export function replaceControls(text: string, keepTab: boolean): string {
  let out = '';
  for (const ch of text) {
    const c = ch.charCodeAt(0);
    out += (c < 0x20 && !(keepTab && c === 0x09)) || c === 0x7f ? ' ' : ch;
  }
  return out;
}
