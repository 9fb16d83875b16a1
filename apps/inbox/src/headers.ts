/**
 * Reading RFC 5322 header sections as received: unfolding (§2.2.3), parameters of structured fields
 * (RFC 2045 §5.1, RFC 2231 §4 for `name*=charset''value`), and RFC 2047 encoded words, checked.
 */

/** One header field: the name as written, the unfolded raw value (octets as latin1 → UTF-8 decoded). */
export interface HeaderField {
  name: string;
  value: string;
}

/** Splits `raw` at the end of the header section (first empty line). Returns the header octets' end and the body start. */
export function splitHeaderSection(raw: Buffer, from: number, to: number): { headerEnd: number; bodyStart: number } {
  if (raw[from] === 0x0a) return { headerEnd: from, bodyStart: from + 1 };
  if (raw[from] === 0x0d && raw[from + 1] === 0x0a) return { headerEnd: from, bodyStart: from + 2 };
  for (let i = from; i < to; i++) {
    if (raw[i] !== 0x0a) continue;
    if (raw[i + 1] === 0x0a) return { headerEnd: i + 1, bodyStart: i + 2 };
    if (raw[i + 1] === 0x0d && raw[i + 2] === 0x0a) return { headerEnd: i + 1, bodyStart: i + 3 };
  }
  return { headerEnd: to, bodyStart: to };
}

/** Parses a header section into fields (names as written, values unfolded, UTF-8 decoded). */
export function parseHeaderFields(section: Buffer): HeaderField[] {
  const text = section.toString('utf8');
  const fields: HeaderField[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line === '') continue;
    if ((line[0] === ' ' || line[0] === '\t') && fields.length > 0) {
      (fields.at(-1) as HeaderField).value += line;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    fields.push({ name: line.slice(0, colon).trim(), value: line.slice(colon + 1).trim() });
  }
  return fields;
}

/** The first field named `name` (case-insensitive). */
export function header(fields: HeaderField[], name: string): string | undefined {
  const lower = name.toLowerCase();
  return fields.find((f) => f.name.toLowerCase() === lower)?.value;
}

/** `type/subtype; a=b; c="d"` → `{ value: 'type/subtype', params: { a: 'b', c: 'd' } }`, keys lower-cased. */
export function parseStructured(value: string): { value: string; params: Record<string, string> } {
  const parts: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    if (quoted && c === '\\') {
      cur += value[++i] ?? '';
      continue;
    }
    if (c === '"') quoted = !quoted;
    else if (c === ';' && !quoted) {
      parts.push(cur);
      cur = '';
      continue;
    }
    cur += c;
  }
  parts.push(cur);
  const params: Record<string, string> = {};
  const continued: Record<string, string[]> = {};
  for (const p of parts.slice(1)) {
    const eq = p.indexOf('=');
    if (eq === -1) continue;
    const key = p.slice(0, eq).trim().toLowerCase();
    let v = p.slice(eq + 1).trim();
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1);
    // RFC 2231 §3-4: name*0*=..., name*=charset'lang'value
    const m = /^([^*]+)\*(?:(\d+)\*?)?$/.exec(key);
    if (m) {
      const base = m[1] as string;
      (continued[base] ??= [])[Number(m[2] ?? 0)] = v;
      continue;
    }
    params[key] = v;
  }
  for (const [base, pieces] of Object.entries(continued)) {
    const joined = pieces.join('');
    const m = /^([^']*)'[^']*'(.*)$/.exec(joined);
    if (m) {
      const bytes = Buffer.from((m[2] as string).replace(/%([0-9a-fA-F]{2})/g, (_s, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1');
      params[base] = decodeCharset(m[1] === '' ? 'us-ascii' : (m[1] as string), bytes) ?? joined;
    } else {
      params[base] = joined;
    }
  }
  return { value: (parts[0] as string).trim().toLowerCase(), params };
}

/** Decodes `bytes` from `charset`, or undefined when the charset is unknown. */
export function decodeCharset(charset: string, bytes: Uint8Array): string | undefined {
  try {
    return new TextDecoder(charset.trim().toLowerCase()).decode(bytes);
  } catch {
    return undefined;
  }
}

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Why an RFC 2047 encoded word is broken, or undefined when it is fine. */
function encodedWordProblem(word: string, charset: string, encoding: string, text: string): string | undefined {
  if (encoding !== 'B' && encoding !== 'Q') return `unknown encoding ${JSON.stringify(encoding)} in ${word}`;
  if (/\s/.test(charset) || /\s/.test(text)) return `white space inside ${word}`;
  if (word.length > 75) return `longer than 75 characters (RFC 2047 §2): ${word.slice(0, 40)}…`;
  if (decodeCharset(charset.split('*')[0] as string, new Uint8Array()) === undefined) return `unknown charset ${JSON.stringify(charset)}`;
  if (encoding === 'B') {
    if (!B64.test(text) || text.length % 4 !== 0) return `bad base64 in ${word}`;
  } else if (/[ ?]/.test(text) || /=(?![0-9A-Fa-f]{2})/.test(text)) {
    return `bad Q encoding in ${word}`;
  }
  return undefined;
}

/** Decodes RFC 2047 encoded words in a header value; collects problems of broken ones. */
export function decodeEncodedWords(value: string, problems?: string[]): string {
  // RFC 2047 §6.2: white space between adjacent encoded words is dropped.
  // Loose on purpose: something shaped like an encoded word but broken (spaces, unknown encoding) is reported.
  const re = /=\?([^?\r\n]+)\?([^?\r\n]*)\?([^?\r\n]*)\?=/g;
  let out = '';
  let last = 0;
  let prevWasWord = false;
  for (let m = re.exec(value); m; m = re.exec(value)) {
    const between = value.slice(last, m.index);
    if (!(prevWasWord && /^\s*$/.test(between))) out += between;
    const [word, charset, enc, text] = m as unknown as [string, string, string, string];
    const encoding = enc.toUpperCase();
    const problem = encodedWordProblem(word, charset, encoding, text);
    if (problem !== undefined) {
      problems?.push(problem);
      out += word;
    } else {
      const bytes =
        encoding === 'B'
          ? Buffer.from(text, 'base64')
          : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_s, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1');
      out += decodeCharset(charset.split('*')[0] as string, bytes) ?? word;
    }
    last = m.index + word.length;
    prevWasWord = true;
  }
  return out + value.slice(last);
}
