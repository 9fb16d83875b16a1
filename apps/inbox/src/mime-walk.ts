import { decodeCharset, decodeEncodedWords, header, parseHeaderFields, parseStructured, splitHeaderSection } from './headers.js';
import type { HeaderField } from './headers.js';

/** One node of a message's MIME tree (RFC 2045, RFC 2046), with where its body lies in the raw octets. */
export interface MimePart {
  /** Depth-first index; 0 is the message itself. `GET /api/messages/:id/parts/:n` serves it. */
  n: number;
  /** `text/plain`, `multipart/alternative` …, lower-cased (RFC 2045 §5.2 default `text/plain`). */
  type: string;
  charset?: string;
  /** `base64`, `quoted-printable`, `7bit` … (RFC 2045 §6). */
  encoding: string;
  disposition?: string;
  filename?: string;
  /** Content-ID without angle brackets (RFC 2392). */
  contentId?: string;
  /** Octets of the encoded body. */
  size: number;
  depth: number;
  children: MimePart[];
  /** @internal body octets in the raw message: [bodyStart, bodyEnd). */
  bodyStart: number;
  bodyEnd: number;
}

/** Limits on the walk: nesting and number of parts (hostile messages nest deeply). */
export interface WalkLimits {
  maxDepth: number;
  maxParts: number;
}

/** A problem found while walking, before it becomes a finding. */
export interface WalkProblem {
  code: 'missing-boundary' | 'unclosed-boundary' | 'mime-too-deep' | 'broken-encoded-word';
  detail: string;
}

/** The result of {@link walkMime}. */
export interface MimeWalk {
  headers: HeaderField[];
  root: MimePart;
  parts: MimePart[];
  problems: WalkProblem[];
}

function indexOfLine(raw: Buffer, needle: Buffer, from: number, to: number): number {
  let at = raw.indexOf(needle, from);
  while (at !== -1 && at < to) {
    const lineStart = at === 0 || raw[at - 1] === 0x0a;
    if (lineStart) return at;
    at = raw.indexOf(needle, at + 1);
  }
  return -1;
}

function lineEnd(raw: Buffer, from: number, to: number): number {
  const lf = raw.indexOf(0x0a, from);
  return lf === -1 || lf >= to ? to : lf + 1;
}

/**
 * Walks a message as received into its MIME tree. Never throws on malformed input: what is wrong
 * becomes a problem (missing or unclosed boundary, too deep, broken encoded words in names).
 */
export function walkMime(raw: Buffer, limits: WalkLimits): MimeWalk {
  const problems: WalkProblem[] = [];
  const parts: MimePart[] = [];
  let rootHeaders: HeaderField[] = [];

  const visit = (from: number, to: number, depth: number, parentType: string): MimePart => {
    const { headerEnd, bodyStart } = splitHeaderSection(raw, from, to);
    const fields = parseHeaderFields(raw.subarray(from, headerEnd));
    if (depth === 0) rootHeaders = fields;
    const defaultType = parentType === 'multipart/digest' ? 'message/rfc822' : 'text/plain';
    const ct = parseStructured(header(fields, 'content-type') ?? defaultType);
    const cd = header(fields, 'content-disposition');
    const disposition = cd === undefined ? undefined : parseStructured(cd);
    const wordProblems: string[] = [];
    const rawName = disposition?.params.filename ?? ct.params.name;
    const part: MimePart = {
      n: parts.length,
      type: ct.value.includes('/') ? ct.value : 'text/plain',
      encoding: (header(fields, 'content-transfer-encoding') ?? '7bit').trim().toLowerCase(),
      size: Math.max(0, to - bodyStart),
      depth,
      children: [],
      bodyStart: Math.min(bodyStart, to),
      bodyEnd: to,
    };
    if (ct.params.charset !== undefined) part.charset = ct.params.charset.toLowerCase();
    if (disposition) part.disposition = disposition.value;
    if (rawName !== undefined) part.filename = decodeEncodedWords(rawName, wordProblems);
    const cid = header(fields, 'content-id');
    if (cid !== undefined) part.contentId = cid.trim().replace(/^<|>$/g, '');
    for (const p of wordProblems) problems.push({ code: 'broken-encoded-word', detail: `file name: ${p}` });
    parts.push(part);
    if (!part.type.startsWith('multipart/')) return part;
    const boundary = ct.params.boundary;
    if (boundary === undefined || boundary === '') {
      problems.push({ code: 'missing-boundary', detail: `part ${part.n} (${part.type}) has no boundary parameter` });
      return part;
    }
    if (depth + 1 > limits.maxDepth) {
      problems.push({ code: 'mime-too-deep', detail: `nesting deeper than ${limits.maxDepth} levels is not walked` });
      return part;
    }
    const delimiter = Buffer.from(`--${boundary}`, 'latin1');
    let at = indexOfLine(raw, delimiter, part.bodyStart, to);
    let closed = false;
    while (at !== -1 && parts.length < limits.maxParts) {
      const after = at + delimiter.length;
      if (raw[after] === 0x2d && raw[after + 1] === 0x2d) {
        closed = true;
        break;
      }
      const start = lineEnd(raw, after, to);
      const next = indexOfLine(raw, delimiter, start, to);
      // RFC 2046 §5.1.1: the CRLF before a delimiter belongs to the delimiter.
      let end = next === -1 ? to : next;
      if (next !== -1 && raw[end - 1] === 0x0a) end -= raw[end - 2] === 0x0d ? 2 : 1;
      part.children.push(visit(start, Math.max(start, end), depth + 1, part.type));
      at = next;
    }
    if (!closed && parts.length < limits.maxParts) {
      problems.push({ code: 'unclosed-boundary', detail: `part ${part.n}: no closing "--${boundary}--" (RFC 2046 §5.1.1)` });
    }
    return part;
  };

  const root = visit(0, raw.length, 0, '');
  return { headers: rootHeaders, root, parts, problems };
}

/** Why a base64 body is malformed (RFC 2045 §6.8), or undefined. Line breaks and spaces are allowed. */
export function base64Problem(body: Buffer): string | undefined {
  const text = body.toString('latin1').replace(/[\r\n\t ]/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return 'characters outside the base64 alphabet';
  if (text.length % 4 !== 0) return `length ${text.length} is not a multiple of 4`;
  return undefined;
}

/** Why a quoted-printable body is malformed (RFC 2045 §6.7), or undefined. */
export function quotedPrintableProblem(body: Buffer): string | undefined {
  const text = body.toString('latin1');
  const bad = /=(?![0-9A-Fa-f]{2}|\r?\n|$)/.exec(text);
  if (bad) return `"=" not followed by two hex digits or a line break at offset ${bad.index}`;
  if (/[^\t\r\n\x20-\x7e]/.test(text)) return 'octets outside printable ASCII';
  return undefined;
}

/** The decoded body octets of a part (lenient: malformed input decodes as far as it goes). */
export function decodeBody(raw: Buffer, part: MimePart): Buffer {
  const body = raw.subarray(part.bodyStart, part.bodyEnd);
  if (part.encoding === 'base64') return Buffer.from(body.toString('latin1').replace(/[^A-Za-z0-9+/]/g, ''), 'base64');
  if (part.encoding === 'quoted-printable') {
    const text = body.toString('latin1').replace(/=\r?\n/g, '');
    return Buffer.from(text.replace(/=([0-9A-Fa-f]{2})/g, (_s, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1');
  }
  return Buffer.from(body);
}

/** The text of a text/* part, in its charset (UTF-8 when unknown or absent). */
export function decodeText(raw: Buffer, part: MimePart): string {
  const bytes = decodeBody(raw, part);
  return decodeCharset(part.charset ?? 'utf-8', bytes) ?? bytes.toString('utf8');
}
