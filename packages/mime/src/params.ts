import { Buffer } from 'node:buffer';
import { encodeWord } from './encoded-word.js';

// RFC 2045 §5.1: token characters (no tspecials, no space, no controls), less "'" and "*": legal in a token,
// but they are RFC 2231's syntax (charset'language'value, name*), and readers such as Python's email package
// take an unquoted value holding them for an extended one (`filename=it's` reads back as nothing). Quoted, they
// are plain text to every reader.
const TOKEN = /^[!#$%&+\-.0-9A-Z^_`a-z{|}~]+$/;
// RFC 2231 §7: attribute-char, the characters left as they are in an extended value.
const ATTRIBUTE_CHAR = /[!#$&+\-.0-9A-Z^_`a-z|~]/;
/** Room for one parameter segment so that `name*12*=...;` stays well inside 78 characters. */
const SEGMENT = 60;

/**
 * Printable ASCII words separated by single spaces: readers keep it as it is. Runs of whitespace
 * (which readers collapse) and text that looks like an RFC 2047 word go in the extended form instead.
 */
function isPlain(value: string): boolean {
  return /^[\x21-\x7e]+(?: [\x21-\x7e]+)*$/.test(value) && !value.includes('=?');
}

/** A MIME parameter value as token or quoted-string (RFC 2045 §5.1). */
export function quoteParam(value: string): string {
  return TOKEN.test(value) ? value : `"${value.replace(/[\\"]/g, '\\$&')}"`;
}

function percentEncode(cp: string): string {
  if (ATTRIBUTE_CHAR.test(cp)) return cp;
  let s = '';
  for (const b of Buffer.from(cp, 'utf8')) s += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  return s;
}

/**
 * `; name=value` parameters for Content-Type / Content-Disposition, each on its own folded line.
 * Short printable-ASCII values are plain (quoted when needed); long or non-ASCII values use RFC 2231
 * `name*=utf-8''…` with continuations `name*0*=`, `name*1*=` (§3, §4), segments split between code points.
 */
export function formatParam(name: string, value: string): string[] {
  // A plain value that looks like an RFC 2047 word would be decoded by lenient readers: extend it instead.
  const ascii = isPlain(value);
  if (ascii && value.length <= SEGMENT) return [`${name}=${quoteParam(value)}`];
  if (ascii) {
    const parts: string[] = [];
    for (let i = 0, n = 0; i < value.length; i += SEGMENT, n++) parts.push(`${name}*${n}=${quoteParam(value.slice(i, i + SEGMENT))}`);
    return parts;
  }
  const segments: string[] = [];
  let current = "utf-8''";
  for (const cp of value) {
    const enc = percentEncode(cp);
    if (current.length + enc.length > SEGMENT) {
      segments.push(current);
      current = '';
    }
    current += enc;
  }
  segments.push(current);
  if (segments.length === 1) return [`${name}*=${segments[0]}`];
  return segments.map((s, n) => `${name}*${n}*=${s}`);
}

/**
 * The legacy `name=` parameter of Content-Type for readers without RFC 2231: RFC 2047 words inside a
 * quoted string, as most mail clients write and read it.
 */
export function formatLegacyNameParam(value: string): string {
  if (isPlain(value)) return `name=${quoteParam(value)}`;
  return `name="${encodeWord(value, { encoding: 'B' })}"`;
}

/** Joins a header value and its parameters with `;` and a space, so that folding can break between them. */
export function withParams(value: string, params: string[]): string {
  return [value, ...params].join('; ');
}
