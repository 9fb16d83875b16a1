import { isAscii } from 'node:buffer';
import { needsSmtputf8, SmtpError, type BodySource, type Capabilities, type Envelope, type MailParams, type RcptParams } from '@smtpkit/wire';
import { inputError } from './errors.js';
import type { SendOptions } from './types.js';

/** RFC 5321 §4.5.3.1.6: a text line is at most 998 octets plus CRLF (the DATA path enforces it). */
const MAX_TEXT_LINE = 998;
/** Message-ID is looked for in this many leading octets of the body. */
const HEADER_SCAN = 64 * 1024;
const CR = 0x0d;
const LF = 0x0a;
const LT = 0x3c;
const GT = 0x3e;

/** What can be learnt from a body before sending it (only for string/Uint8Array bodies). */
export interface BodyInfo {
  /** Octets of the body as given; undefined for streams. */
  size?: number;
  /** The body's octets when it is given whole (a string converted once, here); undefined for streams. */
  bytes?: Uint8Array;
  eightBit: boolean;
  /** The header section has raw 8-bit octets (UTF-8 headers, RFC 6532): SMTPUTF8 is used when offered. */
  headerEightBit: boolean;
  /** Has a NUL octet: only BINARYMIME can carry it. */
  binary: boolean;
  longLine: boolean;
  messageId?: string;
}

/** Scan a string/Uint8Array body once; streams are not read ahead. Native scans only: this runs for every message. */
export function analyseBody(data: BodySource): BodyInfo {
  let bytes: Buffer;
  if (typeof data === 'string') bytes = Buffer.from(data); // UTF-8
  else if (data instanceof Uint8Array) bytes = asBuffer(data);
  else {
    // A stream that also holds its whole octets (a built message in memory offers them as `bytes`) is read whole.
    const whole = (data as { bytes?: unknown }).bytes;
    if (!(whole instanceof Uint8Array)) return { eightBit: false, headerEightBit: false, binary: false, longLine: false };
    bytes = asBuffer(whole);
  }
  const eightBit = !isAscii(bytes);
  const binary = bytes.indexOf(0) !== -1;
  const longLine = bytes.length > MAX_TEXT_LINE && hasLongLine(bytes);
  const headerEightBit = eightBit && !isAscii(bytes.subarray(0, headerEnd(bytes)));
  const info: BodyInfo = { size: bytes.length, bytes, eightBit, headerEightBit, binary, longLine };
  const messageId = findMessageId(bytes);
  if (messageId) info.messageId = messageId;
  return info;
}

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** Where the header section ends: the first empty line (RFC 5322 §2.1), or the end of the body. */
function headerEnd(bytes: Buffer): number {
  const crlf = bytes.indexOf('\r\n\r\n');
  const lf = bytes.indexOf('\n\n');
  if (crlf === -1) return lf === -1 ? bytes.length : lf;
  return lf === -1 ? crlf : Math.min(crlf, lf);
}

/**
 * A line (ended by CR, LF or the end of the body) longer than {@link MAX_TEXT_LINE} octets. Each native
 * `lastIndexOf` skips up to a whole line limit of text; only a stretch with no LF in it is searched for CRs.
 */
function hasLongLine(bytes: Buffer): boolean {
  let start = 0;
  while (bytes.length - start > MAX_TEXT_LINE) {
    const lf = bytes.lastIndexOf(LF, start + MAX_TEXT_LINE);
    if (lf >= start) {
      start = lf + 1; // every line up to this LF is within the limit
      continue;
    }
    const next = bytes.indexOf(LF, start);
    const end = next === -1 ? bytes.length : next;
    if (longestCrLine(bytes, start, end) > MAX_TEXT_LINE) return true;
    if (next === -1) return false;
    start = next + 1;
  }
  return false;
}

/** The longest run between CRs in `bytes[start, end)` (a stretch without LF). */
function longestCrLine(bytes: Buffer, start: number, end: number): number {
  let longest = 0;
  for (let at = start; at <= end; ) {
    let cr = bytes.indexOf(CR, at);
    if (cr === -1 || cr > end) cr = end;
    longest = Math.max(longest, cr - at);
    at = cr + 1;
  }
  return longest;
}

/** The field name, lower case (RFC 5322 §3.6.4); compared with letters folded (§1.2.2). */
const MESSAGE_ID_FIELD = Buffer.from('message-id:', 'latin1');

/**
 * The Message-ID from the header section, which ends at the first empty line (RFC 5322 §2.1). Lines end as the
 * DATA encoder will send them (RFC 5321 §2.3.8): at CRLF, a bare LF or a bare CR. Walked line by line with the
 * native search, each line ending found once, and a line is compared only when it starts with "m" or "M": no
 * copy of the header and no string but the id's (this runs for every message).
 */
function findMessageId(bytes: Buffer): string | undefined {
  const end = Math.min(bytes.length, HEADER_SCAN);
  let nextCr = -1;
  let nextLf = -1;
  for (let at = 0; at < end; ) {
    const c = bytes[at] as number;
    if (c === LF || c === CR) return undefined; // an empty line: the body follows
    if ((c | 0x20) === 0x6d && isMessageIdField(bytes, at, end)) {
      const id = msgIdAt(bytes, at + MESSAGE_ID_FIELD.length, end);
      if (id) return id;
    }
    if (nextCr < at) {
      nextCr = bytes.indexOf(CR, at);
      if (nextCr === -1) nextCr = bytes.length;
    }
    if (nextLf < at) {
      nextLf = bytes.indexOf(LF, at);
      if (nextLf === -1) nextLf = bytes.length;
    }
    at = nextCr < nextLf ? (bytes[nextCr + 1] === LF ? nextCr + 2 : nextCr + 1) : nextLf + 1;
  }
  return undefined;
}

/** `h[at, end)` starts with "message-id:" in any case. */
function isMessageIdField(h: Buffer, at: number, end: number): boolean {
  if (end - at < MESSAGE_ID_FIELD.length) return false;
  for (let k = 1; k < MESSAGE_ID_FIELD.length; k++) {
    const c = h[at + k] as number;
    const f = MESSAGE_ID_FIELD[k] as number;
    // Letters match either case (0x20 apart); "-" and ":" only themselves.
    if (c !== f && (f < 0x61 || (c | 0x20) !== f)) return false;
  }
  return true;
}

/**
 * The msg-id at octet `i` of `h` (RFC 5322 §3.6.4) after optional white space, possibly folded onto the next
 * line (§2.2.3), within `h[0, end)` (a fold never reaches the body: the empty line before it starts with no
 * white space). Read from the octets: the id becomes a string of its own, decoded as UTF-8.
 */
function msgIdAt(h: Buffer, i: number, end: number): string | undefined {
  i = skipWsp(h, i, end);
  const fold = h[i] === CR && h[i + 1] === LF ? 2 : h[i] === LF || h[i] === CR ? 1 : 0;
  if (fold > 0) {
    i += fold;
    if (i >= end || !isWsp(h[i] as number)) return undefined;
    i = skipWsp(h, i, end);
  }
  if (i >= end || h[i] !== LT) return undefined;
  let j = i + 1;
  while (j < end && h[j] !== GT && h[j] !== CR && h[j] !== LF) j++;
  // UTF-8, which an internationalized message may use in its msg-id (RFC 6532 §3.2), and Node's default:
  // naming no encoding also spares this per-message path Node's lookup of the encoding's name.
  return j < end && h[j] === GT && j > i + 1 ? h.toString(undefined, i, j + 1) : undefined;
}

function skipWsp(h: Buffer, i: number, end: number): number {
  while (i < end && isWsp(h[i] as number)) i++;
  return i;
}

function isWsp(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** The checked envelope and how the body will travel. */
export interface PreparedEnvelope {
  envelope: Envelope;
  useBdat: boolean;
  smtputf8: boolean;
  /** BODY=BINARYMIME: bytes go unchanged (no CRLF canonicalisation). */
  binary: boolean;
  /** The streamed body is converted to 7-bit MIME on its way out (RFC 6152 §3). */
  downgradeStream: boolean;
  notes: string[];
}

/**
 * Check a message against what the server offers, before anything is sent: SIZE (RFC 1870),
 * 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531), BINARYMIME/CHUNKING (RFC 3030), REQUIRETLS (RFC 8689), DSN (RFC 3461).
 */
export function prepareEnvelope(
  caps: Capabilities,
  o: SendOptions,
  body: BodyInfo,
  ctx: { secure: boolean; chunking: 'auto' | 'never'; downgrade?: boolean },
): PreparedEnvelope {
  if (typeof o.from !== 'string') throw inputError('ERR_SMTP_INPUT', '`from` must be a string (\'\' for the null path)');
  if (!Array.isArray(o.to) || o.to.length === 0) throw inputError('ERR_SMTP_INPUT', '`to` needs at least one recipient');
  for (let i = 0; i < o.to.length; i++) {
    const r = o.to[i];
    if (typeof r !== 'string' || r === '') throw inputError('ERR_SMTP_INPUT', 'every recipient must be a non-empty string');
  }
  if (o.data === undefined || o.data === null) throw inputError('ERR_SMTP_INPUT', '`data` is required');
  const notes: string[] = [];
  // Converted to 7-bit, the message has the size of what is sent: known for a body given whole only.
  const downgrade = ctx.downgrade === true;
  const size = downgrade ? body.size : (o.size ?? body.size);
  if (size !== undefined && caps.size !== undefined && caps.size > 0 && size > caps.size) {
    throw inputError(
      'ERR_SMTP_SIZE_EXCEEDED',
      `message of ${size} octets exceeds the server's SIZE limit of ${caps.size} octets (RFC 1870)`,
    );
  }
  const smtputf8 = decideSmtputf8(caps, o, body);
  const binary = o.binary ?? body.binary;
  const chunkingOn = caps.chunking && ctx.chunking !== 'never';
  if (binary && !(chunkingOn && caps.binaryMime)) {
    throw inputError(
      'ERR_SMTP_BINARYMIME_UNSUPPORTED',
      'the body is binary but the server does not offer BINARYMIME with CHUNKING (RFC 3030)',
    );
  }
  // Without 8BITMIME an 8-bit message goes converted to 7-bit MIME (RFC 6152 §3; see downgrade.ts), or as it
  // is under SMTPUTF8, which a server offers only with 8-bit support (RFC 6531 §3.1), without BODY=8BITMIME.
  const eightBit = caps.eightBitMime && !binary && !downgrade && (o.eightBit ?? body.eightBit);
  if (downgrade) notes.push('8-bit message converted to 7-bit MIME (quoted-printable / base64): the server does not offer 8BITMIME (RFC 6152 §3)');
  const useBdat = chunkingOn;
  // RFC 5322 §2.1.1 / RFC 5321 §4.5.3.1.6 hold for BDAT too; only BINARYMIME lifts the limit (RFC 3030 §3).
  if (body.longLine && !binary) {
    throw inputError(
      'ERR_SMTP_LINE_TOO_LONG',
      `the body has a line longer than ${MAX_TEXT_LINE} octets (RFC 5321 §4.5.3.1.6); encode it (quoted-printable/base64)`,
    );
  }
  if (o.requireTls && !(ctx.secure && caps.requireTls)) {
    throw new SmtpError(
      ctx.secure ? 'REQUIRETLS asked but the server does not offer it (RFC 8689)' : 'REQUIRETLS asked on a connection without TLS',
      { kind: 'tls', code: 'ERR_SMTP_REQUIRETLS_UNSUPPORTED', retryable: false },
    );
  }
  const mailParams: MailParams = {};
  if (size !== undefined && caps.size !== undefined) mailParams.size = size;
  if (binary) mailParams.body = 'BINARYMIME';
  else if (eightBit) mailParams.body = '8BITMIME';
  if (smtputf8) mailParams.smtputf8 = true;
  if (o.requireTls) mailParams.requireTls = true;
  let rcptParams: RcptParams | undefined;
  if (o.dsn) {
    if (!caps.dsn) {
      notes.push('DSN parameters left out: the server does not offer DSN (RFC 3461)');
    } else {
      if (o.dsn.ret) mailParams.ret = o.dsn.ret;
      if (o.dsn.envid !== undefined) mailParams.envid = o.dsn.envid;
      if (o.dsn.notify) rcptParams = { notify: o.dsn.notify };
    }
  }
  // Built by assignment, not conditional spreads: this runs for every message.
  const envelope: Envelope = { from: o.from, to: o.to.slice() };
  if (hasAnyParam(mailParams)) envelope.mailParams = mailParams;
  if (rcptParams) envelope.rcptParams = rcptParams;
  // RFC 3461 §4.2: each recipient's ORCPT is its own address, when asked and DSN is offered.
  if (o.dsn?.orcpt && caps.dsn) envelope.orcpt = o.to.slice();
  return { envelope, useBdat, smtputf8, binary, downgradeStream: downgrade && body.bytes === undefined, notes };
}

/**
 * Whether the transaction uses SMTPUTF8 (RFC 6531), decided here once the server's EHLO is known:
 * - an address with a non-ASCII local part (or a domain kept in U-labels) needs it: used when offered,
 *   else the message is refused before MAIL FROM (`ERR_SMTP_SMTPUTF8_UNSUPPORTED`; the session stays usable);
 * - a header section with raw UTF-8 (RFC 6532) uses it when offered;
 * - `smtputf8: true` forces it (refused when not offered); `smtputf8: false` never uses it, and an address
 *   that needs it is then refused.
 */
function decideSmtputf8(caps: Capabilities, o: SendOptions, body: BodyInfo): boolean {
  let needing: string | undefined = o.from !== '' && needsSmtputf8(o.from) ? o.from : undefined;
  for (let i = 0; i < o.to.length && needing === undefined; i++) if (needsSmtputf8(o.to[i] as string)) needing = o.to[i];
  if (needing !== undefined && o.smtputf8 === false) {
    throw inputError('ERR_SMTP_INPUT', `${needing} is an internationalized address: it needs SMTPUTF8 (RFC 6531), but smtputf8 is false`);
  }
  if ((needing !== undefined || o.smtputf8 === true) && !caps.smtputf8) {
    throw inputError(
      'ERR_SMTP_SMTPUTF8_UNSUPPORTED',
      needing !== undefined
        ? `${needing} is an internationalized address: it needs SMTPUTF8 (RFC 6531), which the server does not offer; nothing was sent`
        : 'SMTPUTF8 was asked for (smtputf8: true) but the server does not offer it (RFC 6531); nothing was sent',
    );
  }
  return needing !== undefined || o.smtputf8 === true || (o.smtputf8 !== false && body.headerEightBit && caps.smtputf8);
}

/** At least one MAIL parameter was set (no key array built: this runs for every message). */
function hasAnyParam(p: MailParams): boolean {
  for (const _ in p) return true;
  return false;
}
