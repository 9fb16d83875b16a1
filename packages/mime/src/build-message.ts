import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { domainToASCII } from 'node:url';
import type { AddressInput, NormalizedAddress } from './address.js';
import { formatDisplayName, normalizeAddress, parseAddressList } from './address.js';
import { WHOLE_MESSAGE_LIMIT, createBuiltMessage } from './built-message.js';
import type { CalendarInput } from './calendar.js';
import { LIST_HEADER_NAMES, listHeaders, type ListOptions } from './list-headers.js';
import type { BuiltMessage } from './built-message.js';
import { formatDate } from './date.js';
import { encodeHeaderValue } from './encoded-word.js';
import { MimeError } from './errors.js';
import { foldHeader } from './fold.js';
import { emitTree, endsWithCrlf, isInMemory, isReusable, nodeSize, writeTree } from './mime-tree.js';
import { seededRandom, uniqueSource } from './random.js';
import type { MimeNode } from './mime-tree.js';
import { buildTree } from './message-tree.js';
import type { AttachmentInput, TreeContext } from './message-tree.js';
import type { TransferEncodingOptions } from './text-body.js';
import { assertHeaderName, assertSafeText } from './validate.js';

/** Everything a message is made of. */
export interface MessageInput {
  from: AddressInput;
  to?: AddressInput | AddressInput[];
  cc?: AddressInput | AddressInput[];
  /** Envelope recipients only: never written into the message. */
  bcc?: AddressInput | AddressInput[];
  replyTo?: AddressInput | AddressInput[];
  sender?: AddressInput;
  subject?: string;
  text?: string;
  html?: string;
  attachments?: AttachmentInput[];
  /** Parts the HTML shows by `cid:` (multipart/related); each needs a `cid`. */
  inline?: AttachmentInput[];
  /** Mailing-list header fields: List-Id, List-Unsubscribe (with RFC 8058 one-click), List-Help, … */
  list?: ListOptions;
  /** A calendar invitation (iMIP, RFC 6047): a text/calendar alternative plus the same object as an .ics attachment. */
  calendar?: CalendarInput;
  /** Extra header fields; values are RFC 2047 encoded when needed. */
  headers?: Record<string, string> | Array<[string, string]>;
  date?: Date;
  /** Message-ID with or without '<>'; generated from the From domain when omitted. */
  messageId?: string;
  transferEncoding?: TransferEncodingOptions;
  /** Allow UTF-8 addresses (RFC 6531/6532): IDN domains stay U-labels, non-ASCII local parts are accepted. */
  smtputf8?: boolean;
  /** Override the envelope derived from the headers. */
  envelope?: { from?: string; to?: string[] };
  /**
   * Escape hatch: let `headers` replace Content-Type, Content-Transfer-Encoding and MIME-Version of the
   * top-level entity. The caller then answers for the body matching them.
   */
  dangerouslyAllowStructuralHeaders?: boolean;
  /**
   * The message will be DKIM-signed: every part stays 7-bit (quoted-printable or base64), because a relay
   * that converts 8bit to 7bit (RFC 6152 §3) breaks the body hash (RFC 6376 §5.3). `transferEncoding`
   * asking for 8bit or binary is then refused with `ERR_MIME_8BIT_WHEN_SIGNING`, unless `allow8bit`.
   */
  signing?: boolean | { allow8bit?: boolean };
}

/** Build-time switches. */
export interface BuildOptions {
  /** Deterministic mode: boundaries, Message-ID and Date derive from this seed (for golden and snapshot tests). */
  seed?: string;
  /** Start of every boundary (RFC 2046 bchars, up to 30 characters); default 'smtpkit'. */
  boundaryPrefix?: string;
}

const STRUCTURAL = new Set(['content-type', 'content-transfer-encoding', 'mime-version']);
const RESERVED: Record<string, string> = {
  date: 'date', from: 'from', sender: 'sender', 'reply-to': 'replyTo', to: 'to', cc: 'cc', bcc: 'bcc',
  subject: 'subject', 'message-id': 'messageId',
};
// RFC 2046 §5.1.1 bchars, without the space.
const BOUNDARY_CHARS = /^[A-Za-z0-9'()+_,\-./:=?]*$/;

function list(value: AddressInput | AddressInput[] | undefined): AddressInput[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** Strings may hold several addresses ('a@x, "B" <b@y>'); each becomes its own entry. */
function normalizeList(value: AddressInput | AddressInput[] | undefined, field: string, smtputf8: boolean): NormalizedAddress[] {
  const out: NormalizedAddress[] = [];
  for (const [i, item] of list(value).entries()) {
    const f = `${field}[${i}]`;
    if (typeof item === 'string') {
      assertSafeText(item, f);
      const parsed = parseAddressList(item);
      if (parsed.length === 0) throw new MimeError(`${f}: no address in ${JSON.stringify(item)}`, { code: 'ERR_MIME_INVALID_ADDRESS', field: f });
      for (const a of parsed) out.push(normalizeAddress(a, f, smtputf8));
    } else out.push(normalizeAddress(item, f, smtputf8));
  }
  return out;
}

function formatMailbox(a: NormalizedAddress): string {
  return a.name === undefined ? a.address : `${formatDisplayName(a.name)} <${a.address}>`;
}

function addressHeader(name: string, addresses: NormalizedAddress[]): string {
  return foldHeader(name, addresses.map(formatMailbox).join(', '));
}

function normalizeMessageId(id: string): string {
  assertSafeText(id, 'messageId');
  const bare = id.trim().replace(/^<|>$/g, '');
  if (!/^[\x21-\x3b\x3d\x3f-\x7e]+@[\x21-\x3b\x3d\x3f-\x7e]+$/.test(bare)) {
    throw new MimeError(`messageId ${JSON.stringify(id)} is not id-left@id-right (RFC 5322 §3.6.4)`, { code: 'ERR_MIME_INVALID_OPTION', field: 'messageId' });
  }
  return `<${bare}>`;
}

/** The sender's domain for Message-ID (RFC 5322 §3.6.4), always ASCII (A-labels). */
function messageIdDomain(address: string): string {
  const domain = address.slice(address.lastIndexOf('@') + 1);
  return /^[\x21-\x7e]+$/.test(domain) ? domain : domainToASCII(domain) || 'localhost';
}

function seededDate(seed: string): Date {
  // A fixed instant in 2020–2029 derived from the seed, whole seconds.
  const h = createHash('sha256').update(`smtpkit-mime-date\0${seed}`).digest();
  return new Date(Date.UTC(2020, 0, 1) + (h.readUInt32BE(0) % (10 * 365 * 86400)) * 1000);
}

function customHeaders(input: MessageInput): Array<[string, string]> {
  const entries = input.headers === undefined ? [] : Array.isArray(input.headers) ? input.headers : Object.entries(input.headers);
  const out: Array<[string, string]> = [];
  for (const [i, entry] of entries.entries()) {
    if (!Array.isArray(entry) || typeof entry[0] !== 'string' || typeof entry[1] !== 'string') {
      throw new MimeError(`headers[${i}]: expected [name, value] strings`, { code: 'ERR_MIME_INVALID_OPTION', field: `headers[${i}]` });
    }
    const [name, value] = entry;
    const field = `headers.${name}`;
    assertHeaderName(name, field);
    assertSafeText(value, field);
    const lower = name.toLowerCase();
    const reserved = RESERVED[lower];
    if (reserved !== undefined) {
      throw new MimeError(`header ${name} is written from the \`${reserved}\` field; set it there`, { code: 'ERR_MIME_RESERVED_HEADER', field });
    }
    if (input.list !== undefined && LIST_HEADER_NAMES.includes(lower)) {
      throw new MimeError(`header ${name} is written from the \`list\` field; set it there`, { code: 'ERR_MIME_RESERVED_HEADER', field });
    }
    if (STRUCTURAL.has(lower) && input.dangerouslyAllowStructuralHeaders !== true) {
      throw new MimeError(`header ${name} describes the body and is generated; set dangerouslyAllowStructuralHeaders to override it`, {
        code: 'ERR_MIME_STRUCTURAL_HEADER',
        field,
      });
    }
    out.push([name, value]);
  }
  return out;
}

/**
 * Builds an RFC 5322 / MIME message as a tree and returns it ready to stream. Everything is checked
 * here, before a byte is produced: addresses, header names and values (no CR, LF, NUL or other controls
 * anywhere), options. Structure: multipart/mixed ⊃ multipart/alternative (text, then multipart/related ⊃
 * html + inline parts) ⊃ attachments, collapsed to a single part when there is nothing else.
 *
 * @example
 * ```ts
 * const msg = buildMessage({
 *   from: 'Zoë <zoe@example.com>', to: ['bob@example.org'], subject: 'Grüße',
 *   text: 'Hi Bob', attachments: [{ filename: 'a.txt', content: 'hello' }],
 * });
 * for await (const chunk of msg) socket.write(chunk);
 * ```
 */
export function buildMessage(input: MessageInput, options: BuildOptions = {}): BuiltMessage {
  if (typeof input !== 'object' || input === null) throw new MimeError('buildMessage needs a MessageInput object', { code: 'ERR_MIME_INVALID_OPTION' });
  const smtputf8 = input.smtputf8 === true;
  const prefix = options.boundaryPrefix ?? 'smtpkit';
  if (!BOUNDARY_CHARS.test(prefix) || prefix.length > 30) {
    throw new MimeError('boundaryPrefix must be up to 30 RFC 2046 bchars (no spaces)', { code: 'ERR_MIME_INVALID_OPTION', field: 'boundaryPrefix' });
  }
  if (options.seed !== undefined && typeof options.seed !== 'string') {
    throw new MimeError('seed must be a string', { code: 'ERR_MIME_INVALID_OPTION', field: 'seed' });
  }
  const random = options.seed === undefined ? uniqueSource() : seededRandom(options.seed);

  if (input.from === undefined) throw new MimeError('from is required (RFC 5322 §3.6.2)', { code: 'ERR_MIME_INVALID_ADDRESS', field: 'from' });
  const from = normalizeAddress(input.from, 'from', smtputf8);
  const sender = input.sender === undefined ? undefined : normalizeAddress(input.sender, 'sender', smtputf8);
  const to = normalizeList(input.to, 'to', smtputf8);
  const cc = normalizeList(input.cc, 'cc', smtputf8);
  const bcc = normalizeList(input.bcc, 'bcc', smtputf8);
  const replyTo = normalizeList(input.replyTo, 'replyTo', smtputf8);
  if (input.subject !== undefined) {
    if (typeof input.subject !== 'string') throw new MimeError('subject must be a string', { code: 'ERR_MIME_INVALID_OPTION', field: 'subject' });
    assertSafeText(input.subject, 'subject');
  }
  const custom = customHeaders(input);
  const list = input.list === undefined ? [] : listHeaders(input.list);

  const messageId =
    input.messageId === undefined ? `<${random.hex(16)}@${messageIdDomain(from.address)}>` : normalizeMessageId(input.messageId);
  const date = input.date ?? (options.seed === undefined ? new Date() : seededDate(options.seed));
  if (!(date instanceof Date) || !Number.isFinite(date.getTime())) throw new MimeError('date must be a valid Date', { code: 'ERR_MIME_INVALID_OPTION', field: 'date' });

  const guard = sevenBitGuard(input);
  const ctx: TreeContext = { random, prefix, transfer: input.transferEncoding ?? {} };
  const root = buildTree(input, ctx);

  let headers = foldHeader('Date', formatDate(date));
  headers += addressHeader('From', [from]);
  if (sender !== undefined) headers += addressHeader('Sender', [sender]);
  if (replyTo.length > 0) headers += addressHeader('Reply-To', replyTo);
  if (to.length > 0) headers += addressHeader('To', to);
  if (cc.length > 0) headers += addressHeader('Cc', cc);
  if (input.subject !== undefined) headers += foldHeader('Subject', encodeHeaderValue(input.subject), 'subject');
  headers += foldHeader('Message-ID', messageId);
  const overridden = new Set<string>();
  for (const [name] of custom) if (STRUCTURAL.has(name.toLowerCase())) overridden.add(name.toLowerCase());
  if (!overridden.has('mime-version')) headers += 'MIME-Version: 1.0\r\n';
  for (const [name, value] of list) headers += foldHeader(name, value, `list.${name}`);
  for (const [name, value] of custom) headers += foldHeader(name, encodeHeaderValue(value), `headers.${name}`);
  const top: MimeNode = { ...root, headers: headers + withoutFields(root.headers, overridden) };

  const envelopeFrom = input.envelope?.from === undefined ? from.address : normalizeAddress(input.envelope.from, 'envelope.from', smtputf8).address;
  const recipients =
    input.envelope?.to === undefined
      ? [...to, ...cc, ...bcc].map((a) => a.address)
      : input.envelope.to.map((a, i) => normalizeAddress(a, `envelope.to[${i}]`, smtputf8).address);
  const seen = new Set<string>();
  const envelopeTo = recipients.filter((a) => {
    // RFC 5321 §2.4: the local part may be case-sensitive, the domain is not.
    const at = a.lastIndexOf('@');
    const key = a.slice(0, at) + a.slice(at).toLowerCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const trailer = endsWithCrlf(top) ? new Uint8Array(0) : Buffer.from('\r\n', 'latin1');
  const treeSize = nodeSize(top);
  const size = treeSize === undefined ? undefined : treeSize + trailer.length;
  const write = size !== undefined && isInMemory(top) ? () => writeTree(top, trailer, size) : undefined;
  const partHeaders = collectHeaders(top);
  const eightBit = /Content-Transfer-Encoding: (?:8bit|binary)\r\n/.test(partHeaders);
  if (guard && eightBit) throw eightBitWhenSigning('a part is 8bit or binary (set by a structural header)', 'headers');
  return createBuiltMessage({
    messageId,
    envelope: { from: envelopeFrom, to: envelopeTo },
    size,
    needsSmtputf8: smtputf8 && (/[\u0080-\uffff]/.test(envelopeFrom + envelopeTo.join('')) || [from, sender, ...to, ...cc, ...bcc, ...replyTo].some((a) => a?.needsSmtputf8)),
    eightBit,
    binary: eightBit && /Content-Transfer-Encoding: binary\r\n/.test(partHeaders),
    reusable: isReusable(top),
    ...(write !== undefined && (size as number) <= WHOLE_MESSAGE_LIMIT ? { bytes: write() } : { write, open: () => emitTree(top, trailer) }),
  });
}

function eightBitWhenSigning(what: string, field: string): MimeError {
  return new MimeError(`signing: ${what}; a relay converting it to 7-bit breaks the DKIM body hash (RFC 6376 §5.3): send it 7-bit, or set signing.allow8bit`, {
    code: 'ERR_MIME_8BIT_WHEN_SIGNING',
    field,
  });
}

/** True when `signing` asks for 7-bit parts; refuses transfer options that contradict it. */
function sevenBitGuard(input: MessageInput): boolean {
  const signing = input.signing;
  if (signing === undefined || signing === false) return false;
  if (typeof signing === 'object' && signing.allow8bit === true) return false;
  const t = input.transferEncoding;
  if (t?.eightBit === true || t?.binary === true) throw eightBitWhenSigning(`transferEncoding asks for ${t.binary === true ? 'binary' : '8bit'} parts`, 'transferEncoding');
  return true;
}

/** A header block without the fields named in `names` (lower case), continuation lines included. */
function withoutFields(headers: string, names: ReadonlySet<string>): string {
  if (names.size === 0) return headers;
  return headers
    .split(/\r\n(?![ \t])/)
    .filter((line) => line !== '' && !names.has(line.slice(0, line.indexOf(':')).toLowerCase()))
    .map((line) => `${line}\r\n`)
    .join('');
}

function collectHeaders(node: MimeNode): string {
  return node.kind === 'multipart' ? node.headers + node.children.map(collectHeaders).join('') : node.headers;
}

