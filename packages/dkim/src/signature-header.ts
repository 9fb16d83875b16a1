import { SIGNATURE_LINE_WIDTH } from './constants.js';

/** The name of the field a signature travels in (RFC 6376 §3.5). */
export const SIGNATURE_FIELD = 'DKIM-Signature';

/**
 * Writes a DKIM-Signature field from its tags, `b=` last and empty: the exact text that is hashed
 * (RFC 6376 §3.7). Folds only between tags and after a `:` of the `h=` list, where the grammar allows
 * FWS (§3.5), never inside a name or a value.
 */
export function formatUnsignedHeader(tags: ReadonlyArray<readonly [string, string]>): string {
  let out = `${SIGNATURE_FIELD}:`;
  let line = out.length;
  const put = (piece: string, space: boolean): void => {
    if (line + (space ? 1 : 0) + piece.length > SIGNATURE_LINE_WIDTH && line > 1) {
      out += `\r\n ${piece}`;
      line = 1 + piece.length;
    } else {
      out += (space ? ' ' : '') + piece;
      line += (space ? 1 : 0) + piece.length;
    }
  };
  for (const [name, value] of tags) {
    if (name === 'h') {
      const names = value.split(':');
      names.forEach((n, i) => put(i === 0 ? `h=${n}${names.length > 1 ? ':' : ';'}` : `${n}${i < names.length - 1 ? ':' : ';'}`, i === 0));
    } else put(`${name}=${value};`, true);
  }
  put('b=', true);
  return out;
}

/** Appends the signature value to {@link formatUnsignedHeader}'s text, folded, and ends the field with CRLF. */
export function appendSignature(unsigned: string, b64: string): string {
  const lastLine = unsigned.length - unsigned.lastIndexOf('\n') - 1;
  let out = unsigned;
  let room = Math.max(0, SIGNATURE_LINE_WIDTH - lastLine);
  let i = 0;
  if (room > 8) {
    out += b64.slice(0, room);
    i = room;
  }
  room = SIGNATURE_LINE_WIDTH - 1;
  for (; i < b64.length; i += room) out += `\r\n ${b64.slice(i, i + room)}`;
  return `${out}\r\n`;
}

/** A tag-list (RFC 6376 §3.2) read from a field value; FWS around names and values is dropped. */
export function parseTagList(value: string): Map<string, string> {
  const tags = new Map<string, string>();
  for (const part of value.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).replace(/\s+/g, '');
    if (name !== '' && !tags.has(name)) tags.set(name, part.slice(eq + 1).replace(/^\s+|\s+$/g, ''));
  }
  return tags;
}

/**
 * RFC 6376 §3.5 (b=): the signature field with the value of `b=` removed, everything else, its folds
 * included, kept.
 */
export function withoutSignatureValue(raw: string): string {
  return raw.replace(/(^|;)([ \t\r\n]*b[ \t\r\n]*=)[^;]*/, '$1$2');
}
