import { Buffer } from 'node:buffer';

/** What the 7-bit downgrade needs to know of an entity's header section (RFC 2045, RFC 2046). */
export interface MimeHead {
  /** The header lines as read, without their line breaks (7-bit, checked by the caller). */
  lines: Buffer[];
  /** Media type and subtype, lower case; `text/plain` (or `message/rfc822` in a digest) when absent (RFC 2045 §5.2). */
  type: string;
  subtype: string;
  /** The multipart boundary parameter, when there is one (RFC 2046 §5.1.1). */
  boundary: string | undefined;
  /** Content-Transfer-Encoding, lower case; `7bit` when absent (RFC 2045 §6.1). */
  encoding: string;
  /** A MIME-Version field is present (RFC 2045 §4). */
  mimeVersion: boolean;
  /** Index of the first line of the Content-Transfer-Encoding field, and one past its last, or -1. */
  encodingAt: number;
  encodingEnd: number;
}

const TOKEN = /^[\s]*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*\/\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)/;
const BOUNDARY = /;\s*boundary\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s"]+))/i;

function isWsp(c: number | undefined): boolean {
  return c === 0x20 || c === 0x09;
}

/**
 * Reads the fields the downgrade needs from an entity's header lines. Folded lines (RFC 5322 §2.2.3)
 * belong to the field above them; unknown and malformed fields are kept as they are and ignored here.
 */
export function readMimeHead(lines: Buffer[], defaultType: readonly [string, string]): MimeHead {
  const head: MimeHead = {
    lines,
    type: defaultType[0],
    subtype: defaultType[1],
    boundary: undefined,
    encoding: '7bit',
    mimeVersion: false,
    encodingAt: -1,
    encodingEnd: -1,
  };
  for (let i = 0; i < lines.length; ) {
    let end = i + 1;
    while (end < lines.length && isWsp((lines[end] as Buffer)[0])) end++;
    const first = lines[i] as Buffer;
    const colon = first.indexOf(0x3a);
    if (colon > 0) {
      const name = first.toString('latin1', 0, colon).trim().toLowerCase();
      const value = () =>
        [first.toString('latin1', colon + 1), ...lines.slice(i + 1, end).map((l) => l.toString('latin1'))].join(' ').trim();
      if (name === 'mime-version') head.mimeVersion = true;
      else if (name === 'content-transfer-encoding') {
        head.encoding = value().split(/[\s(;]/)[0]?.toLowerCase() || '7bit';
        head.encodingAt = i;
        head.encodingEnd = end;
      } else if (name === 'content-type') {
        const v = value();
        const m = TOKEN.exec(v);
        if (m) {
          head.type = (m[1] as string).toLowerCase();
          head.subtype = (m[2] as string).toLowerCase();
        }
        const b = BOUNDARY.exec(v);
        head.boundary = b ? (b[1] !== undefined ? b[1].replace(/\\(.)/g, '$1') : b[2]) : undefined;
      }
    }
    i = end;
  }
  return head;
}

/**
 * The header lines of `head` with its Content-Transfer-Encoding set to `encoding`: the old field (with its
 * folded lines) replaced in place, or the new one added at the end.
 */
export function withEncoding(head: MimeHead, encoding: string): Buffer[] {
  const field = Buffer.from(`Content-Transfer-Encoding: ${encoding}`, 'latin1');
  if (head.encodingAt < 0) return [...head.lines, field];
  return [...head.lines.slice(0, head.encodingAt), field, ...head.lines.slice(head.encodingEnd)];
}
