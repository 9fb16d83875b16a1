import { needsSmtputf8, SmtpError, type BodySource, type Capabilities, type Envelope, type MailParams, type RcptParams } from '@smtpkit/wire';
import { inputError } from './errors.js';
import type { SendOptions } from './types.js';

/** RFC 5321 §4.5.3.1.6: a text line is at most 998 octets plus CRLF (the DATA path enforces it). */
const MAX_TEXT_LINE = 998;
/** Message-ID is looked for in this many leading octets of the body. */
const HEADER_SCAN = 64 * 1024;
const EMPTY_LINE_CRLF = Buffer.from('\n\r\n');
const EMPTY_LINE_LF = Buffer.from('\n\n');

/** What can be learnt from a body before sending it (only for string/Uint8Array bodies). */
export interface BodyInfo {
  /** Octets of the body as given; undefined for streams. */
  size?: number;
  eightBit: boolean;
  /** Has a NUL octet: only BINARYMIME can carry it. */
  binary: boolean;
  longLine: boolean;
  messageId?: string;
}

/** Scan a string/Uint8Array body once; streams are not read ahead. */
export function analyseBody(data: BodySource): BodyInfo {
  let bytes: Uint8Array;
  if (typeof data === 'string') bytes = Buffer.from(data, 'utf8');
  else if (data instanceof Uint8Array) bytes = data;
  else return { eightBit: false, binary: false, longLine: false };
  let eightBit = false;
  let binary = false;
  let longLine = false;
  let lineStart = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    if (b >= 0x80) eightBit = true;
    else if (b === 0) binary = true;
    else if (b === 0x0a || b === 0x0d) {
      if (i - lineStart > MAX_TEXT_LINE) longLine = true;
      lineStart = i + 1;
    }
  }
  if (bytes.length - lineStart > MAX_TEXT_LINE) longLine = true;
  const messageId = findMessageId(bytes);
  return { size: bytes.length, eightBit, binary, longLine, ...(messageId ? { messageId } : {}) };
}

function findMessageId(bytes: Uint8Array): string | undefined {
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, HEADER_SCAN));
  // The header section ends at the first empty line (RFC 5322 §2.1): found natively, then only the
  // header octets become a string.
  const crlf = head.indexOf(EMPTY_LINE_CRLF);
  const lf = head.indexOf(EMPTY_LINE_LF);
  const end = crlf === -1 ? lf : lf === -1 ? crlf : Math.min(crlf, lf);
  const headers = head.toString('latin1', 0, end === -1 ? head.length : end);
  return /^message-id:[ \t]*(?:\r?\n[ \t]+)?(<[^>\r\n]+>)/im.exec(headers)?.[1];
}

/** The checked envelope and how the body will travel. */
export interface PreparedEnvelope {
  envelope: Envelope;
  useBdat: boolean;
  smtputf8: boolean;
  /** BODY=BINARYMIME: bytes go unchanged (no CRLF canonicalisation). */
  binary: boolean;
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
  ctx: { secure: boolean; chunking: 'auto' | 'never' },
): PreparedEnvelope {
  if (typeof o.from !== 'string') throw inputError('ERR_SMTP_INPUT', '`from` must be a string (\'\' for the null path)');
  if (!Array.isArray(o.to) || o.to.length === 0) throw inputError('ERR_SMTP_INPUT', '`to` needs at least one recipient');
  for (const r of o.to) if (typeof r !== 'string' || r === '') throw inputError('ERR_SMTP_INPUT', 'every recipient must be a non-empty string');
  if (o.data === undefined || o.data === null) throw inputError('ERR_SMTP_INPUT', '`data` is required');
  const notes: string[] = [];
  const size = o.size ?? body.size;
  if (size !== undefined && caps.size !== undefined && caps.size > 0 && size > caps.size) {
    throw inputError(
      'ERR_SMTP_SIZE_EXCEEDED',
      `message of ${size} octets exceeds the server's SIZE limit of ${caps.size} octets (RFC 1870)`,
    );
  }
  const smtputf8 = o.smtputf8 === true || needsSmtputf8(o.from) || o.to.some((a) => needsSmtputf8(a));
  if (smtputf8 && !caps.smtputf8) {
    throw inputError(
      'ERR_SMTP_SMTPUTF8_UNSUPPORTED',
      'the message needs SMTPUTF8 (non-ASCII address or headers) but the server does not offer it (RFC 6531)',
    );
  }
  const binary = o.binary ?? body.binary;
  const chunkingOn = caps.chunking && ctx.chunking !== 'never';
  if (binary && !(chunkingOn && caps.binaryMime)) {
    throw inputError(
      'ERR_SMTP_BINARYMIME_UNSUPPORTED',
      'the body is binary but the server does not offer BINARYMIME with CHUNKING (RFC 3030)',
    );
  }
  const eightBit = !binary && (o.eightBit ?? body.eightBit);
  if (eightBit && !caps.eightBitMime) {
    throw inputError('ERR_SMTP_8BITMIME_UNSUPPORTED', 'the body has 8-bit octets but the server does not offer 8BITMIME (RFC 6152)');
  }
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
  const envelope: Envelope = {
    from: o.from,
    to: [...o.to],
    ...(Object.keys(mailParams).length > 0 ? { mailParams } : {}),
    ...(rcptParams ? { rcptParams } : {}),
  };
  return { envelope, useBdat, smtputf8, binary, notes };
}

/** Per-recipient ORCPT (RFC 3461 §4.2) when asked and DSN is offered. */
export function orcptFor(caps: Capabilities, o: SendOptions, address: string): string | undefined {
  return o.dsn?.orcpt && caps.dsn ? address : undefined;
}
