import { Buffer } from 'node:buffer';
import { MAX_ENCODED_WORD_LENGTH } from './constants.js';

/** "=?utf-8?X?" + "?=" */
const WORD_OVERHEAD = 12;
const MAX_TEXT = MAX_ENCODED_WORD_LENGTH - WORD_OVERHEAD;
/** B: 63 characters hold 15 quanta of 4, i.e. 45 octets. */
const MAX_B_OCTETS = Math.floor(MAX_TEXT / 4) * 3;
/** Tokens longer than this are encoded (and so split) to keep header lines under 998 octets. */
const MAX_PLAIN_TOKEN = 900;

/** RFC 2047 §5 (3): the characters allowed unencoded in a Q word anywhere, including a phrase. */
function isQSafe(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x21 || b === 0x2a || b === 0x2b || b === 0x2d || b === 0x2f;
}

function qLength(bytes: Uint8Array): number {
  let n = 0;
  for (const b of bytes) n += isQSafe(b) || b === 0x20 ? 1 : 3;
  return n;
}

function qEncode(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) {
    if (b === 0x20) s += '_';
    else if (isQSafe(b)) s += String.fromCharCode(b);
    else s += `=${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return s;
}

/** Groups whole code points (never half a surrogate pair, never part of a UTF-8 sequence: RFC 2047 §5) into words. */
function pack(text: string, fits: (bytes: number[], add: Uint8Array) => boolean): Uint8Array[] {
  const words: Uint8Array[] = [];
  let current: number[] = [];
  for (const cp of text) {
    const bytes = Buffer.from(cp, 'utf8');
    if (current.length > 0 && !fits(current, bytes)) {
      words.push(Uint8Array.from(current));
      current = [];
    }
    for (const b of bytes) current.push(b);
  }
  if (current.length > 0) words.push(Uint8Array.from(current));
  return words;
}

/** Options for {@link encodeWord}. */
export interface EncodeWordOptions {
  /** 'B', 'Q', or 'auto' (default): whichever gives the shorter result. */
  encoding?: 'B' | 'Q' | 'auto';
}

/**
 * Encodes `text` as RFC 2047 encoded words in UTF-8, separated by single spaces. Each word is at most
 * 75 characters (§2) and holds whole code points only (§5), so decoders never see a split character.
 * Q words use only the characters allowed in a phrase (§5 (3)), so the result is valid in display names too.
 *
 * @example
 * ```ts
 * encodeWord('Grüße'); // '=?utf-8?Q?Gr=C3=BC=C3=9Fe?='
 * ```
 */
export function encodeWord(text: string, options: EncodeWordOptions = {}): string {
  const mode = options.encoding ?? 'auto';
  const b = (): string =>
    pack(text, (cur, add) => cur.length + add.length <= MAX_B_OCTETS)
      .map((w) => `=?utf-8?B?${Buffer.from(w).toString('base64')}?=`)
      .join(' ');
  const q = (): string =>
    pack(text, (cur, add) => qLength(Uint8Array.from(cur)) + qLength(add) <= MAX_TEXT)
      .map((w) => `=?utf-8?Q?${qEncode(w)}?=`)
      .join(' ');
  if (mode === 'B') return b();
  if (mode === 'Q') return q();
  const qs = q();
  const bs = b();
  return qs.length <= bs.length ? qs : bs;
}

function needsEncoding(token: string): boolean {
  // Non-ASCII or controls, something a decoder would take for an encoded word, or a token too long to fold.
  return /[^\x20-\x7e\t]/.test(token) || /=\?[^?]*\?[bBqQ]\?/.test(token) || token.length > MAX_PLAIN_TOKEN;
}

/**
 * Prepares an unstructured header value (Subject, Comments, X-…; RFC 5322 §3.2.5) for the wire: printable
 * ASCII stays as it is; the span from the first to the last word that needs it is RFC 2047 encoded.
 * The result is folded later at the spaces between words.
 *
 * @example
 * ```ts
 * encodeHeaderValue('Re: café menu'); // 'Re: =?utf-8?Q?caf=C3=A9?= menu'
 * ```
 */
export function encodeHeaderValue(value: string): string {
  // Printable ASCII without "=?", short enough that no word can be too long, without edge whitespace: as it is.
  if (value.length <= MAX_PLAIN_TOKEN && !/[^\x20-\x7e\t]|=\?|^[ \t]|[ \t]$/.test(value)) return value;
  const tokens = value.split(/([ \t]+)/);
  let first = -1;
  let last = -1;
  for (let i = 0; i < tokens.length; i += 2) {
    if (needsEncoding(tokens[i] as string)) {
      if (first < 0) first = i;
      last = i;
    }
  }
  // Leading or trailing whitespace would be dropped by unfolding readers; inside a word it survives.
  const edges = /^[ \t]|[ \t]$/.test(value);
  if (first < 0 && !edges) return value;
  if (edges) {
    first = 0;
    last = tokens.length - 1;
  }
  // Between plain text and an encoded word only a single space survives every reader; a tab or a run
  // of spaces there goes inside the encoded span.
  while (first > 0 && tokens[first - 1] !== ' ') first -= 2;
  while (last < tokens.length - 1 && tokens[last + 1] !== ' ') last += 2;
  const head = tokens.slice(0, first).join('');
  const span = tokens.slice(first, last + 1).join('');
  const tail = tokens.slice(last + 1).join('');
  return head + encodeWord(span) + tail;
}

const ENCODED_WORD = /=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=/g;

function decodeOne(charset: string, encoding: string, text: string): string | undefined {
  let bytes: Buffer;
  if (encoding.toUpperCase() === 'B') bytes = Buffer.from(text, 'base64');
  else bytes = Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1');
  try {
    return new TextDecoder(charset.replace(/\*.*$/, '')).decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * Decodes RFC 2047 encoded words in a header value; whitespace between adjacent encoded words is
 * dropped (§6.2). Words in unknown charsets are left as they are.
 */
export function decodeWords(value: string): string {
  let out = '';
  let last = 0;
  let previousWasWord = false;
  for (const m of value.matchAll(ENCODED_WORD)) {
    const between = value.slice(last, m.index);
    const decoded = decodeOne(m[1] as string, m[2] as string, m[3] as string);
    if (decoded === undefined) {
      out += between + m[0];
      previousWasWord = false;
    } else {
      out += previousWasWord && /^[ \t\r\n]*$/.test(between) ? '' : between;
      out += decoded;
      previousWasWord = true;
    }
    last = m.index + m[0].length;
  }
  return out + value.slice(last);
}
