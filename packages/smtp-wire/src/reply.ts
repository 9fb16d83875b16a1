import { Buffer } from 'node:buffer';
/** RFC 3463 enhanced status code `class.subject.detail`, e.g. 5.1.1. */
export interface EnhancedStatus {
  klass: 2 | 4 | 5;
  subject: number;
  detail: number;
}

/** One complete SMTP reply (RFC 5321 §4.2), single- or multi-line. */
export interface Reply {
  /** Three-digit reply code. */
  code: number;
  /** RFC 3463 status from the first line's text when its class equals the code's first digit. */
  enhanced?: EnhancedStatus;
  /** Text of each line after `250-` / `250 ` (may be `''`), decoded as UTF-8. */
  lines: string[];
  /** `lines` joined with `'\n'`. */
  text: string;
}

/** `'5.1.1'` for `{ klass: 5, subject: 1, detail: 1 }`. */
export function formatEnhanced(e: EnhancedStatus): string {
  return `${e.klass}.${e.subject}.${e.detail}`;
}

/** 2yz: positive completion (RFC 5321 §4.2.1). */
export function isPositiveCompletion(r: Reply): boolean {
  return r.code >= 200 && r.code < 300;
}

/**
 * RCPT refused because the transaction holds too many recipients: `452` (RFC 5321 §4.5.3.1.10), or the
 * RFC 3463 status `x.5.3` "too many recipients" (a `552 5.5.3` included: §4.5.3.1.10 asks clients to treat
 * that old RFC 821 code as temporary). The recipient may be sent in a further transaction.
 */
export function isTooManyRecipients(r: Reply): boolean {
  const e = r.enhanced;
  return r.code === 452 || (e !== undefined && e.subject === 5 && e.detail === 3 && (e.klass === 4 || r.code === 552));
}

/** 3yz: positive intermediate, e.g. 354 after DATA or 334 during AUTH (RFC 5321 §4.2.1). */
export function isPositiveIntermediate(r: Reply): boolean {
  return r.code >= 300 && r.code < 400;
}

/** 4yz: transient negative completion; the same command may succeed later (RFC 5321 §4.2.1). */
export function isTransient(r: Reply): boolean {
  return r.code >= 400 && r.code < 500;
}

/** 5yz: permanent negative completion (RFC 5321 §4.2.1). */
export function isPermanent(r: Reply): boolean {
  return r.code >= 500 && r.code < 600;
}

/**
 * Parses `x.y.z` (RFC 3463 §2) at the start of `text`, followed by a space or the end of the text.
 * Returns undefined unless the class is 2, 4 or 5 and equals `firstDigit`.
 */
export function parseEnhanced(text: string, firstDigit: number): EnhancedStatus | undefined {
  // Non-ASCII characters become octets >= 0x80 in UTF-8: never a digit, a dot or a space.
  const bytes = Buffer.from(text, 'utf8');
  return enhancedAt(bytes, 0, bytes.length, firstDigit);
}

/**
 * {@link parseEnhanced} on the octets `bytes[from, end)` of a reply line's text, as the reply parser
 * sees them: byte loads, no string made (this runs for every reply).
 * @internal
 */
export function enhancedAt(bytes: Uint8Array, from: number, end: number, firstDigit: number): EnhancedStatus | undefined {
  if (end - from < 2) return undefined;
  const klass = (bytes[from] as number) - 48;
  if (klass !== firstDigit || (klass !== 2 && klass !== 4 && klass !== 5) || bytes[from + 1] !== 46) {
    return undefined;
  }
  // subject and detail: 1 to 3 digits each (RFC 3463 §2)
  let i = from + 2;
  const subjectStart = i;
  let subject = 0;
  for (; i < end && i - subjectStart < 3; i++) {
    const c = bytes[i] as number;
    if (c < 48 || c > 57) break;
    subject = subject * 10 + (c - 48);
  }
  if (i === subjectStart || i >= end || bytes[i] !== 46) return undefined;
  const detailStart = ++i;
  let detail = 0;
  for (; i < end && i - detailStart < 3; i++) {
    const c = bytes[i] as number;
    if (c < 48 || c > 57) break;
    detail = detail * 10 + (c - 48);
  }
  if (i === detailStart || (i < end && bytes[i] !== 32)) return undefined;
  return { klass, subject, detail };
}

/**
 * Formats a reply as a server would send it: `"250-a\r\n250 b\r\n"`. For tests and fault-injection servers.
 *
 * @example
 * ```ts
 * encodeReply(250, ['mail.example.com', 'PIPELINING']); // '250-mail.example.com\r\n250 PIPELINING\r\n'
 * ```
 */
export function encodeReply(code: number, lines: string[] | string): string {
  const list = typeof lines === 'string' ? lines.split('\n') : lines.length === 0 ? [''] : lines;
  let out = '';
  for (let i = 0; i < list.length; i++) {
    out += `${code}${i === list.length - 1 ? ' ' : '-'}${list[i]}\r\n`;
  }
  return out;
}
