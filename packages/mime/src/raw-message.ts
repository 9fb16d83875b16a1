import { Buffer } from 'node:buffer';
import { parseAddressList } from './address.js';
import { createBuiltMessage } from './built-message.js';
import type { BuiltMessage } from './built-message.js';
import { MAX_LINE_LENGTH } from './constants.js';
import { LineEndCanonicalizer, canonicalizeLineEnds } from './crlf.js';
import { MimeError } from './errors.js';

/** A prebuilt message: a string, bytes, or chunks of bytes. */
export type RawSource = string | Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

/** Options for {@link rawMessage} and {@link readRawMessage}. */
export interface RawMessageOptions {
  /** Remove Bcc header fields before sending, like `sendmail -t` (the Bcc addresses stay in the envelope). */
  stripBcc?: boolean;
  /** Largest header section read by {@link readRawMessage} (default 1 MiB). */
  maxHeaderSize?: number;
}

interface HeaderField {
  name: string;
  value: string;
  start: number;
  end: number;
}

function headerEnd(bytes: Uint8Array): number {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.subarray(0, 2).toString('latin1') === '\r\n') return 0;
  const i = b.indexOf('\r\n\r\n');
  return i < 0 ? -1 : i + 2;
}

/** Fields of a CRLF-canonical header section, with their byte ranges (continuation lines included). */
function parseFields(head: Buffer): HeaderField[] {
  const fields: HeaderField[] = [];
  let pos = 0;
  while (pos < head.length) {
    let end = head.indexOf('\r\n', pos);
    if (end < 0) end = head.length;
    else end += 2;
    while (end < head.length && (head[end] === 0x20 || head[end] === 0x09)) {
      const next = head.indexOf('\r\n', end);
      end = next < 0 ? head.length : next + 2;
    }
    const raw = head.toString('utf8', pos, end);
    const colon = raw.indexOf(':');
    if (colon > 0) fields.push({ name: raw.slice(0, colon).trim().toLowerCase(), value: raw.slice(colon + 1).replace(/\r\n(?=[ \t])/g, '').trim(), start: pos, end });
    pos = end;
  }
  return fields;
}

function addresses(fields: HeaderField[], name: string): string[] {
  return fields.filter((f) => f.name === name).flatMap((f) => parseAddressList(f.value).map((a) => a.address)).filter((a) => a !== '');
}

interface RawFacts {
  head: Buffer;
  messageId: string;
  from: string;
  to: string[];
}

function analyse(head: Buffer, stripBcc: boolean): RawFacts {
  const fields = parseFields(head);
  const id = fields.find((f) => f.name === 'message-id')?.value ?? '';
  const messageId = /<[^<>\s]+>/.exec(id)?.[0] ?? id;
  const from = addresses(fields, 'from')[0] ?? '';
  const seen = new Set<string>();
  const to = ['to', 'cc', 'bcc'].flatMap((n) => addresses(fields, n)).filter((a) => {
    const key = a.toLowerCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  let out = head;
  if (stripBcc) {
    const keep: Buffer[] = [];
    let pos = 0;
    for (const f of fields.filter((x) => x.name === 'bcc')) {
      keep.push(head.subarray(pos, f.start));
      pos = f.end;
    }
    keep.push(head.subarray(pos));
    out = Buffer.concat(keep);
  }
  return { head: out, messageId, from, to };
}

function flags(bytes: Uint8Array): { eightBit: boolean; binary: boolean } {
  let eightBit = false;
  let lineStart = 0;
  let binary = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    if (b >= 0x80 || b === 0) eightBit = true;
    if (b === 0x0a) {
      if (i - 1 - lineStart > MAX_LINE_LENGTH) binary = true;
      lineStart = i + 1;
    }
  }
  if (bytes.length - lineStart > MAX_LINE_LENGTH) binary = true;
  return { eightBit: eightBit || binary, binary };
}

function isAsync(source: RawSource): source is AsyncIterable<Uint8Array> {
  return typeof source === 'object' && source !== null && Symbol.asyncIterator in source;
}

/**
 * Wraps a prebuilt RFC 5322 message for sending unchanged, except line ends canonicalised to CRLF
 * (bare LF / bare CR). The Message-ID and the envelope (first From; To, Cc, Bcc) are read from its
 * headers; `stripBcc` removes the Bcc fields (sendmail -t). For a stream, use {@link readRawMessage}.
 *
 * @example
 * ```ts
 * const msg = rawMessage('From: a@example.com\nTo: b@example.org\nBcc: c@example.net\n\nHi\n', { stripBcc: true });
 * msg.envelope; // { from: 'a@example.com', to: ['b@example.org', 'c@example.net'] }
 * ```
 */
export function rawMessage(bytes: RawSource, options: RawMessageOptions = {}): BuiltMessage {
  let buf: Buffer;
  if (typeof bytes === 'string') buf = Buffer.from(bytes, 'utf8');
  else if (bytes instanceof Uint8Array) buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  else if (isAsync(bytes)) {
    throw new MimeError('rawMessage needs the bytes in memory; for a stream use `await readRawMessage(stream)`', { code: 'ERR_MIME_ASYNC_SOURCE' });
  } else if (typeof bytes === 'object' && bytes !== null && Symbol.iterator in bytes) buf = Buffer.concat([...bytes]);
  else throw new MimeError('rawMessage needs a string, Uint8Array or chunks of Uint8Array', { code: 'ERR_MIME_INVALID_CONTENT' });
  const canonical = Buffer.from(canonicalizeLineEnds(buf));
  const split = headerEnd(canonical);
  const headLength = split < 0 ? canonical.length : split;
  const facts = analyse(canonical.subarray(0, headLength), options.stripBcc === true);
  const message = facts.head.length === headLength ? canonical : Buffer.concat([facts.head, canonical.subarray(headLength)]);
  return createBuiltMessage({
    messageId: facts.messageId,
    envelope: { from: facts.from, to: facts.to },
    size: message.length,
    needsSmtputf8: /[\u0080-\uffff]/.test(facts.from + facts.to.join('')),
    ...flags(message),
    reusable: true,
    bytes: message,
  });
}

/**
 * Like {@link rawMessage} for a stream: reads up to the end of the header section (bounded by
 * `maxHeaderSize`), then streams the rest lazily. The result can be streamed once; `size`, `eightBit`
 * and `binary` describe only what was read up front (size is undefined).
 */
export async function readRawMessage(source: RawSource, options: RawMessageOptions = {}): Promise<BuiltMessage> {
  if (!isAsync(source)) return rawMessage(source, options);
  const max = options.maxHeaderSize ?? 1024 * 1024;
  const canon = new LineEndCanonicalizer();
  const iterator = source[Symbol.asyncIterator]();
  let held = Buffer.alloc(0);
  let split = -1;
  for (;;) {
    const next = await iterator.next();
    if (next.done === true) {
      held = Buffer.concat([held, canon.end()]);
      break;
    }
    held = Buffer.concat([held, canon.push(next.value)]);
    split = headerEnd(held);
    if (split >= 0) break;
    if (held.length > max) {
      await iterator.return?.();
      throw new MimeError(`the header section is longer than ${max} octets`, { code: 'ERR_MIME_HEADER_TOO_LARGE' });
    }
  }
  const headLength = split < 0 ? held.length : split;
  const facts = analyse(held.subarray(0, headLength), options.stripBcc === true);
  const first = Buffer.concat([facts.head, held.subarray(headLength)]);
  async function* rest(): AsyncGenerator<Uint8Array> {
    yield first;
    for (;;) {
      const next = await iterator.next();
      if (next.done === true) break;
      const out = canon.push(next.value);
      if (out.length > 0) yield out;
    }
    const tail = canon.end();
    if (tail.length > 0) yield tail;
  }
  const f = flags(first);
  return createBuiltMessage({
    messageId: facts.messageId,
    envelope: { from: facts.from, to: facts.to },
    size: undefined,
    needsSmtputf8: /[\u0080-\uffff]/.test(facts.from + facts.to.join('')),
    eightBit: f.eightBit,
    binary: f.binary,
    reusable: false,
    open: rest,
  });
}
