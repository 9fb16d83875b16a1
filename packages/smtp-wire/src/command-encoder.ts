import { Buffer } from 'node:buffer';
import { asciiDomain, formatPath } from './address.js';
import type { EncodeOptions } from './address.js';
import { inputError } from './errors.js';
import { assertNoControls, hasNonAscii } from './validate.js';

export type { EncodeOptions } from './address.js';

/** Longest command line in octets, CRLF included (RFC 5321 §4.5.3.1.4). */
export const MAX_COMMAND_LINE = 512;
/** Longest AUTH continuation line in octets, CRLF included (RFC 4954 §4: servers accept at least 12288). */
export const MAX_AUTH_RESPONSE_LINE = 12288;
/** Longest ENVID before xtext encoding (RFC 3461 §4.4). */
export const MAX_ENVID = 100;

/** ESMTP parameters of MAIL FROM. The caller checks that the server advertised each extension. */
export interface MailParams {
  /** `SIZE=n`, RFC 1870. */
  size?: number;
  /** `BODY=`, RFC 6152 (8BITMIME) and RFC 3030 (BINARYMIME). */
  body?: '7BIT' | '8BITMIME' | 'BINARYMIME';
  /** `SMTPUTF8`, RFC 6531 §3.4; also lets the reverse-path be non-ASCII. */
  smtputf8?: boolean;
  /** `RET=`, RFC 3461 §4.3. */
  ret?: 'FULL' | 'HDRS';
  /** `ENVID=` (xtext-encoded here), RFC 3461 §4.4. Printable ASCII, at most 100 characters. */
  envid?: string;
  /** `REQUIRETLS`, RFC 8689 §4.1. */
  requireTls?: boolean;
}

/** ESMTP parameters of RCPT TO (RFC 3461 DSN). */
export interface RcptParams {
  /** `NOTIFY=`, RFC 3461 §4.1: NEVER, or a non-empty list of SUCCESS, FAILURE, DELAY. */
  notify?: 'NEVER' | Array<'SUCCESS' | 'FAILURE' | 'DELAY'>;
  /**
   * Original recipient (RFC 3461 §4.2): an ASCII address goes as `ORCPT=rfc822;<xtext>`; one with non-ASCII
   * characters as `ORCPT=utf-8;…` (RFC 6533 §3), in the utf-8-addr-unitext form when the command is encoded
   * for SMTPUTF8 and in the 7-bit utf-8-addr-xtext form otherwise.
   */
  orcpt?: string;
}

/** One SMTP command; its wire form comes only from {@link encodeCommand}. */
export type Command =
  | { verb: 'EHLO' | 'HELO' | 'LHLO'; domain: string }
  | { verb: 'MAIL'; from: string; params?: MailParams }
  | { verb: 'RCPT'; to: string; params?: RcptParams }
  | { verb: 'DATA' }
  | { verb: 'RSET' }
  | { verb: 'NOOP' }
  | { verb: 'QUIT' }
  | { verb: 'STARTTLS' }
  | { verb: 'BDAT'; size: number; last: boolean }
  | { verb: 'AUTH'; mechanism: string; initialResponse?: string }
  | { verb: 'AUTH_RESPONSE'; response: string };

/** The bytes to write and a log-safe rendering (no CRLF; AUTH payloads replaced by `***`). */
export interface EncodedCommand {
  verb: string;
  bytes: Uint8Array;
  logText: string;
  /**
   * Octets that follow the command line in the same write: a BDAT chunk (RFC 3030 §2), exactly as many as
   * the line announces. Only {@link encodeBdatChunk} sets it; the transcript shows it as `<chunk n bytes>`.
   */
  data?: Uint8Array;
}

/**
 * Encodes a string as xtext (RFC 3461 §4): `+`, `=` and octets outside `!`..`~` become `+HH`.
 * Non-ASCII characters are encoded as their UTF-8 octets.
 */
export function encodeXtext(value: string): string {
  let out = '';
  let plain = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 0x21 && c <= 0x7e && c !== 0x2b && c !== 0x3d) continue;
    out += value.slice(plain, i);
    if (c < 0x80) {
      out += `+${c < 0x10 ? '0' : ''}${c.toString(16).toUpperCase()}`;
    } else {
      const cp = value.codePointAt(i) as number;
      if (cp > 0xffff) i++;
      for (const b of Buffer.from(String.fromCodePoint(cp), 'utf8')) out += `+${b.toString(16).toUpperCase()}`;
    }
    plain = i + 1;
  }
  return plain === 0 ? value : out + value.slice(plain);
}

/** Decodes xtext (RFC 3461 §4); `+HH` octets are read as UTF-8. @throws {SmtpError} kind `input` on a bad escape. */
export function decodeXtext(value: string): string {
  if (!value.includes('+')) return value;
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x2b) {
      const hex = value.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw inputError(`bad xtext escape at index ${i}`);
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(c);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/**
 * The ORCPT value for `address` (RFC 3461 §4.2). An ASCII address is of type `rfc822`, as xtext. An address with
 * non-ASCII characters is of type `utf-8` (RFC 6533 §3): QCHARs as they are, `+`, `=`, `\` and space as
 * EmbeddedUnicodeChar (`\x{2B}`…), and every non-ASCII character as its UTF-8 text when `smtputf8`
 * (utf-8-addr-unitext, only for an SMTPUTF8 transaction) or as EmbeddedUnicodeChar otherwise (utf-8-addr-xtext,
 * 7-bit, safe on any server).
 */
function encodeOrcpt(address: string, smtputf8: boolean): string {
  if (!hasNonAscii(address)) return `rfc822;${encodeXtext(address)}`;
  let out = 'utf-8;';
  for (let i = 0; i < address.length; i++) {
    const c = address.charCodeAt(i);
    if (c < 0x80) {
      // QCHAR = %x21-2a / %x2c-3c / %x3e-5b / %x5d-7e; the rest of printable ASCII has a two-digit HEXPOINT.
      out += c === 0x20 || c === 0x2b || c === 0x3d || c === 0x5c ? embeddedChar(c) : address[i];
      continue;
    }
    const cp = address.codePointAt(i) as number;
    if (cp >= 0xd800 && cp <= 0xdfff) throw inputError(`ORCPT has a lone surrogate at index ${i}`, 'ERR_SMTP_INPUT', 'RCPT TO');
    if (cp > 0xffff) i++;
    out += smtputf8 ? String.fromCodePoint(cp) : embeddedChar(cp);
  }
  return out;
}

/**
 * RFC 6533 §3 EmbeddedUnicodeChar: `\x{` HEXPOINT `}`, the code point in upper-case hex without leading zeros.
 * Only space and up are ever given (controls are refused earlier), so there are always two digits at least.
 */
function embeddedChar(cp: number): string {
  return `\\x{${cp.toString(16).toUpperCase()}}`;
}

const NOTIFY_VALUES = new Set(['SUCCESS', 'FAILURE', 'DELAY']);

function mailLine(cmd: { from: string; params?: MailParams }, options?: EncodeOptions): string {
  const p = cmd.params;
  const smtputf8 = options?.smtputf8 === true || p?.smtputf8 === true;
  assertNoControls(cmd.from, 'MAIL FROM address', 'MAIL FROM');
  let line = `MAIL FROM:${formatPath(cmd.from, { smtputf8 })}`;
  if (p === undefined) return line;
  if (p.size !== undefined) {
    if (!Number.isSafeInteger(p.size) || p.size < 0) throw inputError(`SIZE must be a non-negative integer, got ${p.size}`);
    line += ` SIZE=${p.size}`;
  }
  if (p.body !== undefined) {
    if (p.body !== '7BIT' && p.body !== '8BITMIME' && p.body !== 'BINARYMIME') {
      throw inputError(`BODY must be 7BIT, 8BITMIME or BINARYMIME, got ${JSON.stringify(p.body)}`);
    }
    line += ` BODY=${p.body}`;
  }
  if (p.smtputf8 === true) line += ' SMTPUTF8';
  if (p.ret !== undefined) {
    if (p.ret !== 'FULL' && p.ret !== 'HDRS') throw inputError(`RET must be FULL or HDRS, got ${JSON.stringify(p.ret)}`);
    line += ` RET=${p.ret}`;
  }
  if (p.envid !== undefined) {
    assertNoControls(p.envid, 'ENVID', 'MAIL FROM');
    if (p.envid.length === 0 || p.envid.length > MAX_ENVID) {
      throw inputError(`ENVID must be 1 to ${MAX_ENVID} characters (RFC 3461 §4.4)`);
    }
    for (let i = 0; i < p.envid.length; i++) {
      if (p.envid.charCodeAt(i) > 0x7e) throw inputError('ENVID must be printable ASCII (RFC 3461 §4.4)');
    }
    line += ` ENVID=${encodeXtext(p.envid)}`;
  }
  if (p.requireTls === true) line += ' REQUIRETLS';
  return line;
}

function rcptLine(cmd: { to: string; params?: RcptParams }, options?: EncodeOptions): string {
  assertNoControls(cmd.to, 'RCPT TO address', 'RCPT TO');
  if (cmd.to === '' || cmd.to === '<>') throw inputError('RCPT TO needs a mailbox; the null path <> is for MAIL FROM only');
  let line = `RCPT TO:${formatPath(cmd.to, options)}`;
  const p = cmd.params;
  if (p === undefined) return line;
  if (p.notify !== undefined) {
    if (p.notify === 'NEVER') {
      line += ' NOTIFY=NEVER';
    } else {
      if (!Array.isArray(p.notify) || p.notify.length === 0) {
        throw inputError('NOTIFY must be NEVER or a non-empty list of SUCCESS, FAILURE, DELAY (RFC 3461 §4.1)');
      }
      const seen = new Set<string>();
      for (const v of p.notify) {
        if (!NOTIFY_VALUES.has(v)) throw inputError(`NOTIFY value ${JSON.stringify(v)} is not SUCCESS, FAILURE or DELAY`);
        seen.add(v);
      }
      line += ` NOTIFY=${[...seen].join(',')}`;
    }
  }
  if (p.orcpt !== undefined) {
    assertNoControls(p.orcpt, 'ORCPT', 'RCPT TO');
    if (p.orcpt === '') throw inputError('ORCPT must not be empty');
    line += ` ORCPT=${encodeOrcpt(p.orcpt, options?.smtputf8 === true)}`;
  }
  return line;
}

function mechanism(m: string): string {
  // RFC 4422 §3.1: 1-20 characters of A-Z, 0-9, "-" and "_"
  if (typeof m !== 'string' || !/^[A-Za-z0-9_-]{1,20}$/.test(m)) {
    throw inputError('SASL mechanism must be 1-20 characters of A-Z, 0-9, "-", "_" (RFC 4422 §3.1)', 'ERR_SMTP_INPUT', 'AUTH');
  }
  return m.toUpperCase();
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function line(verb: string, text: string, logText: string, max = MAX_COMMAND_LINE): EncodedCommand {
  // The single last check over every byte of the line (RFC 5321 §2.3.8: no bare CR or LF).
  assertNoControls(text, `${verb} command`, logText);
  const bytes = Buffer.from(`${text}\r\n`); // UTF-8 (RFC 6531), Node's default: no encoding name to look up
  if (bytes.length > max) {
    throw inputError(
      `${verb} command line is ${bytes.length} octets; the limit is ${max} including CRLF` +
        (max === MAX_COMMAND_LINE ? ' (RFC 5321 §4.5.3.1.4)' : ' (RFC 4954 §4)'),
      'ERR_SMTP_COMMAND_TOO_LONG',
      logText,
    );
  }
  return { verb, bytes, logText };
}

/**
 * Encodes one command as the exact bytes to write, CRLF included. Every argument is validated: a C0
 * control or DEL anywhere is an input error (so no argument can smuggle a second command), mailboxes
 * follow RFC 5321 §4.1.2, the line fits 512 octets (RFC 5321 §4.5.3.1.4).
 *
 * @throws {SmtpError} kind `input` naming the problem (never echoing AUTH data).
 * @example
 * ```ts
 * const { bytes, logText } = encodeCommand({ verb: 'MAIL', from: 'a@example.com', params: { size: 1200 } });
 * // bytes: "MAIL FROM:<a@example.com> SIZE=1200\r\n"
 * encodeCommand({ verb: 'AUTH', mechanism: 'PLAIN', initialResponse: 'AGEAYg==' }).logText; // 'AUTH PLAIN ***'
 * ```
 */
export function encodeCommand(cmd: Command, options?: EncodeOptions): EncodedCommand {
  switch (cmd.verb) {
    case 'EHLO':
    case 'HELO':
    case 'LHLO': {
      // LHLO (RFC 2033 §4.1) takes the same argument as EHLO.
      assertNoControls(cmd.domain, `${cmd.verb} domain`, cmd.verb);
      const text = `${cmd.verb} ${asciiDomain(cmd.domain, `${cmd.verb} domain`, false)}`;
      return line(cmd.verb, text, text);
    }
    case 'MAIL': {
      const text = mailLine(cmd, options);
      return line('MAIL', text, text);
    }
    case 'RCPT': {
      const text = rcptLine(cmd, options);
      return line('RCPT', text, text);
    }
    case 'DATA':
    case 'RSET':
    case 'NOOP':
    case 'QUIT':
    case 'STARTTLS':
      return line(cmd.verb, cmd.verb, cmd.verb);
    case 'BDAT': {
      // RFC 3030 §2: BDAT <chunk-size> [LAST]
      if (!Number.isSafeInteger(cmd.size) || cmd.size < 0) {
        throw inputError(`BDAT size must be a non-negative integer, got ${cmd.size}`, 'ERR_SMTP_INPUT', 'BDAT');
      }
      const text = cmd.last ? `BDAT ${cmd.size} LAST` : `BDAT ${cmd.size}`;
      return line('BDAT', text, text);
    }
    case 'AUTH': {
      const mech = mechanism(cmd.mechanism);
      if (cmd.initialResponse === undefined) return line('AUTH', `AUTH ${mech}`, `AUTH ${mech}`);
      const ir = cmd.initialResponse;
      assertNoControls(ir, 'AUTH initial response', `AUTH ${mech}`);
      // RFC 4954 §4: the initial response is base64, or "=" for an empty one.
      if (typeof ir !== 'string' || ir === '' || !BASE64.test(ir)) {
        throw inputError('AUTH initial response must be base64 ("=" when empty) (RFC 4954 §4)', 'ERR_SMTP_INPUT', `AUTH ${mech}`);
      }
      return line('AUTH', `AUTH ${mech} ${ir}`, `AUTH ${mech} ***`);
    }
    case 'AUTH_RESPONSE': {
      const r = cmd.response;
      if (typeof r !== 'string') throw inputError('AUTH response must be a string', 'ERR_SMTP_INPUT', 'AUTH');
      assertNoControls(r, 'AUTH response', 'AUTH');
      // RFC 4954 §4: a base64 line, or "*" to cancel the exchange.
      if (r !== '*' && !BASE64.test(r)) throw inputError('AUTH response must be base64 or "*" (RFC 4954 §4)', 'ERR_SMTP_INPUT', 'AUTH');
      return line('AUTH_RESPONSE', r, r === '*' ? '*' : '***', MAX_AUTH_RESPONSE_LINE);
    }
    default: {
      const verb = (cmd as { verb?: unknown }).verb;
      throw inputError(`unknown command verb ${JSON.stringify(verb)}`);
    }
  }
}
