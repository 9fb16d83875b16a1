import { Buffer } from 'node:buffer';
import { domainToASCII } from 'node:url';
import { inputError } from './errors.js';
import { assertNoControls, hasNonAscii } from './validate.js';

/** Longest local part in octets (RFC 5321 §4.5.3.1.1). */
export const MAX_LOCAL_PART = 64;
/** Longest domain in octets (RFC 5321 §4.5.3.1.2). */
export const MAX_DOMAIN = 255;
/** Longest path in octets, angle brackets included (RFC 5321 §4.5.3.1.3). */
export const MAX_PATH = 256;

/** Encoding choices shared by the address and command encoders. */
export interface EncodeOptions {
  /**
   * The transaction uses SMTPUTF8 (RFC 6531). When false (default), IDN domains become A-labels
   * and a non-ASCII local part is an input error (`ERR_SMTP_SMTPUTF8_REQUIRED`).
   */
  smtputf8?: boolean;
}

/** A mailbox split per RFC 5321 §4.1.2. */
export interface Mailbox {
  /** Dot-string or quoted string (quotes kept), exactly as given. */
  localPart: string;
  /** Domain as given (may hold U-labels), or an address literal such as `[192.0.2.1]`. */
  domain: string;
  /** The local part holds non-ASCII characters, so it can only be sent with SMTPUTF8 (RFC 6531 §3.3). */
  needsSmtputf8: boolean;
}

// RFC 5322 §3.2.3 atext, as used by RFC 5321 Atom.
const ATEXT = new Uint8Array(128);
for (const ch of "!#$%&'*+-/=?^_`{|}~") ATEXT[ch.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) ATEXT[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) ATEXT[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) ATEXT[c] = 1;

function isLetDig(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/** `address "…"` for an error message, built only when an error is thrown. */
class Described {
  readonly #address: string;
  constructor(address: string) {
    this.#address = address;
  }
  toString(): string {
    return `address ${JSON.stringify(this.#address)}`;
  }
}

function fail(message: string, what: string | { toString(): string }): never {
  throw inputError(`${String(what)}: ${message}`);
}

/** RFC 5321 §4.1.2 Dot-string (RFC 6531 §3.3 adds UTF-8); returns whether it is non-ASCII. */
function checkDotString(s: string, what: string | { toString(): string }): boolean {
  if (s.length === 0) fail('empty local part', what);
  let nonAscii = false;
  let atomLen = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2e) {
      if (atomLen === 0) fail(`local part has an empty atom at index ${i} (leading, trailing or double dot)`, what);
      atomLen = 0;
    } else if (c > 0x7f) {
      nonAscii = true;
      atomLen++;
    } else if (ATEXT[c] === 1) {
      atomLen++;
    } else {
      fail(`character ${JSON.stringify(s[i])} is not allowed in an unquoted local part`, what);
    }
  }
  if (atomLen === 0) fail('local part ends with a dot', what);
  return nonAscii;
}

/** RFC 5321 §4.1.2 Quoted-string; `s` includes the quotes. Returns whether it is non-ASCII. */
function checkQuoted(s: string, what: string | { toString(): string }): boolean {
  let nonAscii = false;
  if (s.length < 2 || s.charCodeAt(s.length - 1) !== 0x22) fail('unterminated quoted local part', what);
  for (let i = 1; i < s.length - 1; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5c) {
      // quoted-pairSMTP = %d92 %d32-126
      const n = s.charCodeAt(++i);
      if (!(n >= 0x20 && n <= 0x7e) || i >= s.length - 1) fail('bad backslash escape in quoted local part', what);
    } else if (c === 0x22) {
      fail('unescaped quote inside quoted local part', what);
    } else if (c > 0x7f) {
      nonAscii = true;
    }
    // (controls never get here: parseMailbox rejects them first)
  }
  return nonAscii;
}

/** RFC 5321 §4.1.2 Domain in ASCII (LDH labels); returns an error message or undefined. */
function ldhError(d: string): string | undefined {
  if (d.length === 0) return 'empty domain';
  if (d.length > MAX_DOMAIN) return `domain longer than ${MAX_DOMAIN} octets (RFC 5321 §4.5.3.1.2)`;
  let labelStart = 0;
  for (let i = 0; i <= d.length; i++) {
    const c = i === d.length ? 0x2e : d.charCodeAt(i);
    if (c === 0x2e) {
      const len = i - labelStart;
      if (len === 0) return 'domain has an empty label';
      if (len > 63) return 'domain label longer than 63 octets';
      if (d.charCodeAt(i - 1) === 0x2d) return 'domain label ends with a hyphen';
      labelStart = i + 1;
    } else if (isLetDig(c)) {
      continue;
    } else if (c === 0x2d) {
      if (i === labelStart) return 'domain label starts with a hyphen';
    } else {
      return `character ${JSON.stringify(d[i])} is not allowed in a domain`;
    }
  }
  return undefined;
}

function isIPv4(s: string): boolean {
  let parts = 0;
  let start = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i === s.length ? 0x2e : s.charCodeAt(i);
    if (c === 0x2e) {
      const len = i - start;
      // Snum = 1*3DIGIT representing 0-255 (RFC 5321 §4.1.3)
      if (len < 1 || len > 3 || Number(s.slice(start, i)) > 255) return false;
      parts++;
      start = i + 1;
    } else if (c < 0x30 || c > 0x39) {
      return false;
    }
  }
  return parts === 4;
}

function hexGroups(s: string): number {
  if (s === '') return 0;
  let count = 0;
  for (const g of s.split(':')) {
    if (g.length < 1 || g.length > 4) return -1;
    for (let i = 0; i < g.length; i++) {
      const c = g.charCodeAt(i) | 0x20;
      if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return -1;
    }
    count++;
  }
  return count;
}

/** RFC 5321 §4.1.3 IPv6-addr (full, compressed, and both with a trailing IPv4). */
function isIPv6(s: string): boolean {
  let groupsNeeded = 8;
  let body = s;
  const lastColon = s.lastIndexOf(':');
  if (s.indexOf('.', lastColon) !== -1) {
    if (!isIPv4(s.slice(lastColon + 1))) return false;
    groupsNeeded = 6;
    body = s.slice(0, lastColon + 1);
    if (!body.endsWith('::')) body = body.slice(0, -1);
  }
  const dbl = body.indexOf('::');
  if (dbl === -1) return hexGroups(body) === groupsNeeded;
  if (body.indexOf('::', dbl + 1) !== -1) return false;
  const left = hexGroups(body.slice(0, dbl));
  const right = hexGroups(body.slice(dbl + 2));
  // "::" stands for at least two groups (RFC 5321 §4.1.3 IPv6-comp / IPv6v4-comp).
  return left >= 0 && right >= 0 && left + right <= groupsNeeded - 2;
}

/** RFC 5321 §4.1.3 address literal, brackets included: `[192.0.2.1]` or `[IPv6:2001:db8::1]`. */
function isAddressLiteral(s: string): boolean {
  if (s.length < 3 || s.charCodeAt(0) !== 0x5b || s.charCodeAt(s.length - 1) !== 0x5d) return false;
  const inner = s.slice(1, -1);
  if (inner.length > 5 && inner.slice(0, 5).toLowerCase() === 'ipv6:') return isIPv6(inner.slice(5));
  return isIPv4(inner);
}

// A small bounded memo for IDN conversion: senders repeat the same few domains, and UTS #46
// processing is the most expensive step of encoding an envelope. Cleared when full, never unbounded.
const IDN_CACHE_MAX = 256;
const idnCache = new Map<string, string>();

function toALabels(domain: string): string {
  let ascii = idnCache.get(domain);
  if (ascii === undefined) {
    ascii = domainToASCII(domain);
    if (idnCache.size >= IDN_CACHE_MAX) idnCache.clear();
    idnCache.set(domain, ascii);
  }
  return ascii;
}

/**
 * Validates a domain (or address literal) and returns its ASCII form: IDN U-labels become A-labels
 * (UTS #46 via `node:url` `domainToASCII`, RFC 5890) unless `keepUnicode` is set. ASCII input is returned as is.
 * @internal
 */
export function asciiDomain(domain: string, what: string | { toString(): string }, keepUnicode: boolean): string {
  if (domain.charCodeAt(0) === 0x5b) {
    if (!isAddressLiteral(domain)) fail(`${JSON.stringify(domain)} is not a valid address literal (RFC 5321 §4.1.3)`, what);
    return domain;
  }
  let ascii = domain;
  if (hasNonAscii(domain)) {
    ascii = toALabels(domain);
    if (ascii === '') fail(`${JSON.stringify(domain)} is not a valid internationalized domain`, what);
  }
  const err = ldhError(ascii);
  if (err !== undefined) fail(err, what);
  return keepUnicode ? domain : ascii;
}

/** True when `domain` is a valid EHLO/HELO argument: a domain or an address literal (RFC 5321 §4.1.1.1). */
export function isValidEhloDomain(domain: string): boolean {
  try {
    assertNoControls(domain, 'domain');
    asciiDomain(domain, 'domain', false);
    return true;
  } catch {
    return false;
  }
}

/**
 * Splits and validates a mailbox per RFC 5321 §4.1.2: dot-string or quoted local part, then a domain
 * or an address literal. One pair of surrounding angle brackets is accepted and removed.
 *
 * @throws {SmtpError} kind `input` naming the problem.
 * @example
 * ```ts
 * parseMailbox('"john doe"@example.com'); // { localPart: '"john doe"', domain: 'example.com', needsSmtputf8: false }
 * ```
 */
export function parseMailbox(address: string): Mailbox {
  const what = new Described(address);
  assertNoControls(address, 'address');
  let s = address;
  if (s.charCodeAt(0) === 0x3c && s.charCodeAt(s.length - 1) === 0x3e) s = s.slice(1, -1);
  const at = s.lastIndexOf('@');
  if (at === -1) fail('missing "@"', what);
  const localPart = s.slice(0, at);
  const domain = s.slice(at + 1);
  const nonAscii = localPart.charCodeAt(0) === 0x22 ? checkQuoted(localPart, what) : checkDotString(localPart, what);
  const localOctets = nonAscii ? Buffer.byteLength(localPart, 'utf8') : localPart.length;
  if (localOctets > MAX_LOCAL_PART) fail(`local part longer than ${MAX_LOCAL_PART} octets (RFC 5321 §4.5.3.1.1)`, what);
  asciiDomain(domain, what, true);
  return { localPart, domain, needsSmtputf8: nonAscii };
}

/** True when the address's local part is non-ASCII, so sending it needs SMTPUTF8 (RFC 6531 §3.3). */
export function needsSmtputf8(address: string): boolean {
  const at = address.lastIndexOf('@');
  return hasNonAscii(at === -1 ? address : address.slice(0, at));
}

/**
 * Formats a reverse- or forward-path: `<local@domain>`, or `<>` for `''` (the null reverse-path,
 * RFC 5321 §4.1.1.2). IDN domains become A-labels unless `smtputf8` is on.
 *
 * @throws {SmtpError} kind `input`; code `ERR_SMTP_SMTPUTF8_REQUIRED` for a non-ASCII local part without SMTPUTF8.
 * @example
 * ```ts
 * formatPath('user@bücher.example'); // '<user@xn--bcher-kva.example>'
 * ```
 */
export function formatPath(address: string, options?: EncodeOptions): string {
  if (address === '' || address === '<>') return '<>';
  const smtputf8 = options?.smtputf8 === true;
  const memo = smtputf8 ? utf8PathMemo : asciiPathMemo;
  let path = memo.get(address);
  if (path === undefined) {
    path = checkedPath(address, smtputf8);
    if (memo.size >= PATH_MEMO_MAX) memo.clear();
    memo.set(address, path);
  }
  return path;
}

// Paths are pure functions of the address: a small bounded memo of valid ones spares a sender that
// repeats the same few addresses the parsing of every one. Cleared when full, never unbounded; an
// invalid address is never stored, so it fails every time.
const PATH_MEMO_MAX = 256;
const asciiPathMemo = new Map<string, string>();
const utf8PathMemo = new Map<string, string>();

function checkedPath(address: string, smtputf8: boolean): string {
  const box = parseMailbox(address);
  if (box.needsSmtputf8 && !smtputf8) {
    throw inputError(
      `address ${JSON.stringify(address)} has a non-ASCII local part: it can only be sent with SMTPUTF8 (RFC 6531)`,
      'ERR_SMTP_SMTPUTF8_REQUIRED',
    );
  }
  const domain = smtputf8 ? box.domain : asciiDomain(box.domain, 'domain', false);
  const path = `<${box.localPart}@${domain}>`;
  const octets = smtputf8 ? Buffer.byteLength(path, 'utf8') : path.length;
  if (octets > MAX_PATH) throw inputError(`path longer than ${MAX_PATH} octets (RFC 5321 §4.5.3.1.3)`);
  return path;
}
