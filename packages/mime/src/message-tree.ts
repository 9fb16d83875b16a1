import { Buffer } from 'node:buffer';
import type { MessageInput } from './build-message.js';
import { checkCalendar, type CheckedCalendar } from './calendar.js';
import { guessContentType } from './content-type.js';
import { MimeError } from './errors.js';
import { foldHeader } from './fold.js';
import type { LeafNode, MimeNode, MultipartNode } from './mime-tree.js';
import { formatLegacyNameParam, formatParam, withParams } from './params.js';
import type { RandomSource } from './random.js';
import type { ContentSource, OpenableSource } from './source.js';
import { toOpenable } from './source.js';
import { MAX_LINE_LENGTH } from './constants.js';
import { encodeText, normalizeLineEndings } from './text-body.js';
import type { TransferEncodingOptions } from './text-body.js';
import { assertSafeText } from './validate.js';

/** An attachment or inline part. */
export interface AttachmentInput {
  /** Shown to the recipient; RFC 2231 encoded when long or not ASCII. */
  filename?: string;
  /** Bytes, a string (sent as UTF-8), or a stream (async iterable or web ReadableStream). Never a path or URL. */
  content: ContentSource;
  /** Media type; guessed from `filename` when omitted. */
  contentType?: string;
  /** Raw size in octets of a streamed content, so that the message size is known up front. */
  size?: number;
  /** Default 'attachment' (for `inline` entries, 'inline'). */
  disposition?: 'attachment' | 'inline';
  /** Content-ID (without '<>') that HTML refers to as `cid:…`; required for `inline` entries. */
  cid?: string;
}

const MEDIA_TYPE = /^[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+\/[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+(?:\s*;.*)?$/;

/** What building the tree needs: randomness for boundaries, their prefix, the transport's abilities. */
export interface TreeContext {
  random: RandomSource;
  prefix: string;
  transfer: TransferEncodingOptions;
}

function textLeaf(subtype: 'plain' | 'html', text: string, field: string, ctx: TreeContext): LeafNode {
  if (typeof text !== 'string') throw new MimeError(`${field} must be a string`, { code: 'ERR_MIME_INVALID_OPTION', field });
  const encoded = encodeText(text, ctx.transfer);
  return {
    kind: 'leaf',
    headers: foldHeader('Content-Type', `text/${subtype}; charset=utf-8`) + foldHeader('Content-Transfer-Encoding', encoded.encoding),
    body: { type: 'bytes', bytes: encoded.bytes },
  };
}

/** An attachment part; `opened` is its content already made a source (a checked calendar stream). */
function attachmentLeaf(att: AttachmentInput, field: string, defaultDisposition: 'attachment' | 'inline', ctx: TreeContext, opened?: OpenableSource): LeafNode {
  if (typeof att !== 'object' || att === null) throw new MimeError(`${field} must be an object`, { code: 'ERR_MIME_INVALID_OPTION', field });
  const filename = att.filename;
  if (filename !== undefined) assertSafeText(filename, `${field}.filename`);
  let contentType = att.contentType ?? (filename === undefined ? 'application/octet-stream' : guessContentType(filename));
  assertSafeText(contentType, `${field}.contentType`);
  contentType = contentType.trim();
  if (!MEDIA_TYPE.test(contentType)) {
    throw new MimeError(`${field}.contentType ${JSON.stringify(contentType)} is not type/subtype`, { code: 'ERR_MIME_INVALID_OPTION', field: `${field}.contentType` });
  }
  if (typeof att.content === 'string' && /^text\//i.test(contentType) && !/;\s*charset=/i.test(contentType)) contentType += '; charset=utf-8';
  const typeParams = filename === undefined ? [] : [formatLegacyNameParam(filename)];
  const disposition = att.disposition ?? defaultDisposition;
  if (disposition !== 'attachment' && disposition !== 'inline') {
    throw new MimeError(`${field}.disposition must be 'attachment' or 'inline'`, { code: 'ERR_MIME_INVALID_OPTION', field: `${field}.disposition` });
  }
  const source = opened ?? toOpenable(att.content, `${field}.content`, att.size);
  const embedded = embeddedMessage(att.content, contentType, ctx.transfer);
  const encoding = embedded?.encoding ?? (ctx.transfer.binary === true ? 'binary' : 'base64');
  let headers =
    foldHeader('Content-Type', withParams(contentType, typeParams), `${field}.contentType`) +
    foldHeader('Content-Transfer-Encoding', encoding) +
    foldHeader('Content-Disposition', withParams(disposition, filename === undefined ? [] : formatParam('filename', filename)), `${field}.filename`);
  if (att.cid !== undefined) {
    assertSafeText(att.cid, `${field}.cid`);
    const cid = att.cid.trim().replace(/^<|>$/g, '');
    if (!/^[\x21-\x3b\x3d\x3f-\x7e]+$/.test(cid)) {
      throw new MimeError(`${field}.cid ${JSON.stringify(att.cid)} must be printable ASCII without '<', '>' or spaces`, { code: 'ERR_MIME_INVALID_OPTION', field: `${field}.cid` });
    }
    headers += foldHeader('Content-ID', `<${cid}>`, `${field}.cid`);
  }
  if (embedded !== undefined) return { kind: 'leaf', headers, body: { type: 'bytes', bytes: embedded.bytes } };
  return { kind: 'leaf', headers, body: { type: 'stream', source, encoding: encoding === 'binary' ? 'binary' : 'base64', field: `${field}.content` } };
}

/**
 * RFC 2046 §5.2.1: a message/rfc822 part may only be 7bit, 8bit or binary. An in-memory message that
 * fits is embedded as it is (line ends canonicalised); otherwise it goes as base64, as most mail clients
 * write and read it, since no other encoding could carry it.
 */
function embeddedMessage(content: ContentSource, contentType: string, transfer: TransferEncodingOptions): { encoding: '7bit' | '8bit'; bytes: Uint8Array } | undefined {
  if (!/^message\/rfc822\b/i.test(contentType) || !(typeof content === 'string' || content instanceof Uint8Array)) return undefined;
  // Octets as text, one character per octet (latin1), so line ends can be canonicalised without decoding.
  const raw = typeof content === 'string' ? Buffer.from(content, 'utf8') : Buffer.from(content.buffer, content.byteOffset, content.byteLength);
  const text = normalizeLineEndings(raw.toString('latin1'));
  if (text.includes('\0') || text.split('\r\n').some((line) => line.length > MAX_LINE_LENGTH)) return undefined;
  const bytes = Buffer.from(text, 'latin1');
  if (!/[\u0080-\u00ff]/.test(text)) return { encoding: '7bit', bytes };
  return transfer.eightBit === true || transfer.binary === true ? { encoding: '8bit', bytes } : undefined;
}

/**
 * Collects the octets we know up front in a subtree, to prove a boundary absent from them: headers, 7bit/8bit
 * bodies, and binary contents given in memory (a streamed binary content is checked as it streams).
 */
function knownBytes(node: MimeNode, out: Uint8Array[]): void {
  out.push(Buffer.from(node.headers, 'utf8'));
  if (node.kind === 'multipart') for (const c of node.children) knownBytes(c, out);
  else if (node.body.type === 'bytes') out.push(node.body.bytes);
  else if (node.body.encoding === 'binary' && node.body.source.bytes) out.push(node.body.source.bytes);
}

function multipart(subtype: 'mixed' | 'alternative' | 'related', children: MimeNode[], ctx: TreeContext): MultipartNode {
  const inner: Uint8Array[] = [];
  for (const c of children) knownBytes(c, inner);
  // RFC 2046 §5.1.1: the boundary must not occur in the encapsulated parts. "=_" never occurs in base64
  // or quoted-printable output; the known octets are checked as well.
  for (let attempt = 0; attempt < 16; attempt++) {
    const boundary = `${ctx.prefix}=_${ctx.random.hex(12)}`;
    const delimiter = Buffer.from(`--${boundary}`, 'latin1');
    if (inner.some((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).indexOf(delimiter) !== -1)) continue;
    const params = subtype === 'related' ? `; type="text/html"; boundary="${boundary}"` : `; boundary="${boundary}"`;
    return { kind: 'multipart', headers: foldHeader('Content-Type', `multipart/${subtype}${params}`), boundary, children };
  }
  throw new MimeError('could not find a boundary absent from the content', { code: 'ERR_MIME_INVALID_CONTENT' });
}

/**
 * RFC 6047 §2.4: the iCalendar object as a text/calendar part whose `method` matches its METHOD; text in
 * memory is encoded by content, a streamed object goes base64 (its octets are not known up front).
 */
function calendarLeaf(calendar: CheckedCalendar, ctx: TreeContext): LeafNode {
  const type = foldHeader('Content-Type', `text/calendar; charset=utf-8; method=${calendar.method}`);
  if (calendar.source !== undefined) {
    const encoding = ctx.transfer.binary === true ? 'binary' : 'base64';
    return { kind: 'leaf', headers: type + foldHeader('Content-Transfer-Encoding', encoding), body: { type: 'stream', source: calendar.source, encoding, field: 'calendar.source' } };
  }
  const encoded = encodeText(calendar.text, ctx.transfer);
  return { kind: 'leaf', headers: type + foldHeader('Content-Transfer-Encoding', encoded.encoding), body: { type: 'bytes', bytes: encoded.bytes } };
}

/**
 * The part tree for a message (RFC 2046 §5.1): mixed ⊃ alternative (text, related ⊃ html + inline,
 * calendar) ⊃ attachments, then the calendar again as an `.ics` attachment (as nodemailer's `icalEvent`).
 */
export function buildTree(input: MessageInput, ctx: TreeContext): MimeNode {
  const calendar = input.calendar === undefined ? undefined : checkCalendar(input.calendar);
  const attachments = input.attachments ?? [];
  const inline = input.inline ?? [];
  const hasHtml = input.html !== undefined;
  const related: LeafNode[] = [];
  const mixed: LeafNode[] = [];
  for (const [i, att] of inline.entries()) {
    if (att?.cid === undefined) throw new MimeError(`inline[${i}] needs a cid for the HTML to refer to`, { code: 'ERR_MIME_MISSING_CID', field: `inline[${i}].cid` });
    (hasHtml ? related : mixed).push(attachmentLeaf(att, `inline[${i}]`, 'inline', ctx));
  }
  for (const [i, att] of attachments.entries()) {
    const leaf = attachmentLeaf(att, `attachments[${i}]`, 'attachment', ctx);
    // An attachment the HTML can show inline by Content-ID belongs with it (as nodemailer and mail clients do).
    if (hasHtml && att.cid !== undefined && att.disposition === 'inline') related.push(leaf);
    else mixed.push(leaf);
  }
  const text = input.text === undefined ? undefined : textLeaf('plain', input.text, 'text', ctx);
  let html: MimeNode | undefined = hasHtml ? textLeaf('html', input.html as string, 'html', ctx) : undefined;
  if (html !== undefined && related.length > 0) html = multipart('related', [html, ...related], ctx);
  if (calendar !== undefined) {
    const ics = { filename: calendar.filename, content: calendar.text ?? '', contentType: 'application/ics' };
    mixed.push(attachmentLeaf(ics, 'calendar', 'attachment', ctx, calendar.source));
  }
  const alternatives = [text, html, calendar === undefined ? undefined : calendarLeaf(calendar, ctx)].filter((n): n is MimeNode => n !== undefined);
  const body: MimeNode | undefined = alternatives.length > 1 ? multipart('alternative', alternatives, ctx) : alternatives[0];
  if (mixed.length === 0) return body ?? textLeaf('plain', '', 'text', ctx);
  return multipart('mixed', body === undefined ? mixed : [body, ...mixed], ctx);
}
