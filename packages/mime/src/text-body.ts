import { Buffer } from 'node:buffer';
import { base64EncodedLength, encodeBase64 } from './base64.js';
import { MAX_LINE_LENGTH } from './constants.js';
import { encodeQuotedPrintable } from './quoted-printable.js';

/** A Content-Transfer-Encoding (RFC 2045 §6.1; `binary` per RFC 3030). */
export type TransferEncoding = '7bit' | '8bit' | 'binary' | 'quoted-printable' | 'base64';

/** What the transport can carry beyond 7-bit lines. */
export interface TransferEncodingOptions {
  /** The transport takes 8-bit data (8BITMIME, RFC 6152): UTF-8 text may go unencoded as `8bit`. */
  eightBit?: boolean;
  /** The transport takes binary data (BINARYMIME, RFC 3030): attachments go unencoded as `binary`. */
  binary?: boolean;
}

/** An encoded text body. */
export interface EncodedText {
  encoding: TransferEncoding;
  bytes: Uint8Array;
}

/** RFC 5322 §2.3 / RFC 2045 §2.7: text lines end in CRLF; bare CR and bare LF become CRLF. */
export function normalizeLineEndings(text: string): string {
  return hasBareLineEnd(text) ? text.replace(/\r\n|\r|\n/g, '\r\n') : text;
}

/** A CR not followed by LF, or an LF not preceded by CR: text that already ends every line in CRLF is kept as it is. */
function hasBareLineEnd(text: string): boolean {
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) if (text.charCodeAt(i - 1) !== 0x0d) return true;
  for (let i = text.indexOf('\r'); i !== -1; i = text.indexOf('\r', i + 1)) if (text.charCodeAt(i + 1) !== 0x0a) return true;
  return false;
}

function longestLine(bytes: Uint8Array): number {
  let longest = 0;
  let start = 0;
  for (let i = bytes.indexOf(0x0a); i >= 0; i = bytes.indexOf(0x0a, start)) {
    longest = Math.max(longest, i - 1 - start);
    start = i + 1;
  }
  return Math.max(longest, bytes.length - start);
}

/**
 * Chooses a transfer encoding by content (RFC 2045 §6) and encodes a text body:
 * `7bit` for ASCII with lines up to 998 octets and no NUL or line starting with "From ";
 * `8bit` for UTF-8 when the transport allows it; otherwise quoted-printable for mostly-ASCII text, base64 when it is over 20% smaller.
 */
export function encodeText(text: string, options: TransferEncodingOptions = {}): EncodedText {
  const normalized = normalizeLineEndings(text);
  const bytes = Buffer.from(normalized, 'utf8');
  // Every UTF-16 code unit from 0x80 up takes two or more octets in UTF-8 (a lone surrogate three, as U+FFFD).
  const ascii = bytes.length === normalized.length;
  const hasNul = normalized.includes('\0');
  const shortLines = longestLine(bytes) <= MAX_LINE_LENGTH;
  if (ascii && !hasNul && shortLines && !/(?:^|\n)From /.test(normalized)) return { encoding: '7bit', bytes };
  if (!hasNul && shortLines && (options.eightBit === true || options.binary === true)) return { encoding: ascii ? '7bit' : '8bit', bytes };
  if (options.binary === true) return { encoding: 'binary', bytes };
  const qp = encodeQuotedPrintable(bytes);
  // Mostly-ASCII text stays readable as quoted-printable unless base64 is clearly (over 20%) smaller.
  if (qp.length * 0.8 <= base64EncodedLength(bytes.length)) return { encoding: 'quoted-printable', bytes: Buffer.from(qp, 'latin1') };
  return { encoding: 'base64', bytes: Buffer.from(encodeBase64(bytes), 'latin1') };
}
