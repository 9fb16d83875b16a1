import type { Finding } from '@smtpkit/wire';
import { decodeEncodedWords, header } from './headers.js';
import type { HeaderField } from './headers.js';
import { base64Problem, decodeText, quotedPrintableProblem, walkMime } from './mime-walk.js';
import type { MimePart, WalkLimits } from './mime-walk.js';

/** The message findings, with the rule each comes from. */
export const MESSAGE_FINDINGS = {
  'missing-date': { rfc: 'RFC 5322 §3.6', text: 'no Date header field (required)' },
  'missing-from': { rfc: 'RFC 5322 §3.6', text: 'no From header field (required)' },
  'missing-message-id': { rfc: 'RFC 5322 §3.6.4', text: 'no Message-ID header field (SHOULD be present)' },
  'raw-8bit-header': { rfc: 'RFC 6532 §3.2', text: 'raw non-ASCII octets in the header section without SMTPUTF8' },
  'broken-base64': { rfc: 'RFC 2045 §6.8', text: 'a base64 body that does not decode cleanly' },
  'broken-quoted-printable': { rfc: 'RFC 2045 §6.7', text: 'a quoted-printable body that does not decode cleanly' },
  'broken-encoded-word': { rfc: 'RFC 2047 §2', text: 'a broken encoded word' },
  'missing-boundary': { rfc: 'RFC 2046 §5.1.1', text: 'a multipart part without a boundary parameter' },
  'unclosed-boundary': { rfc: 'RFC 2046 §5.1.1', text: 'a multipart body without its closing boundary' },
  'duplicate-content-id': { rfc: 'RFC 2392 §2', text: 'two parts with the same Content-ID' },
  'missing-cid-part': { rfc: 'RFC 2392 §2', text: 'a cid: reference with no part of that Content-ID' },
  'bcc-leaked': { rfc: 'RFC 5322 §3.6.3', text: 'a Bcc header field in the message as delivered: every recipient sees it' },
  'mime-too-deep': { rfc: 'RFC 2046 §5.1', text: 'MIME nesting deeper than the inbox walks' },
} as const;

/** Code of a message finding. */
export type MessageFindingCode = keyof typeof MESSAGE_FINDINGS;

function finding(code: MessageFindingCode, detail?: string): Finding {
  const { rfc, text } = MESSAGE_FINDINGS[code];
  return { code, rfc, text: detail === undefined ? text : `${text}: ${detail}` };
}

/** What the inbox knows of a message's content. */
export interface MessageAnalysis {
  headers: HeaderField[];
  subject: string;
  /** Header From as decoded text. */
  fromHeader: string;
  root: MimePart;
  parts: MimePart[];
  /** The first text/plain and text/html parts that are not attachments. */
  textPart?: number;
  htmlPart?: number;
  findings: Finding[];
}

const HEADER_WORD_FIELDS = new Set(['subject', 'from', 'to', 'cc', 'reply-to', 'sender', 'comments', 'keywords']);

/** Walks the message, decodes what the page shows, and lists the message findings. */
export function analyseMessage(raw: Buffer, smtputf8: boolean, limits: WalkLimits): MessageAnalysis {
  const walk = walkMime(raw, limits);
  const findings: Finding[] = [];
  const add = (code: MessageFindingCode, detail?: string) => {
    if (!findings.some((f) => f.code === code)) findings.push(finding(code, detail));
  };
  const h = walk.headers;
  if (header(h, 'date') === undefined) add('missing-date');
  if (header(h, 'from') === undefined) add('missing-from');
  if (header(h, 'message-id') === undefined) add('missing-message-id');
  if (header(h, 'bcc') !== undefined) add('bcc-leaked', header(h, 'bcc'));
  if (!smtputf8) {
    const headerBytes = raw.subarray(0, walk.root.bodyStart);
    const at = headerBytes.findIndex((b) => b >= 0x80);
    if (at !== -1) add('raw-8bit-header', `first at octet ${at}`);
  }
  const wordProblems: string[] = [];
  for (const f of h) if (HEADER_WORD_FIELDS.has(f.name.toLowerCase())) decodeEncodedWords(f.value, wordProblems);
  if (wordProblems.length > 0) add('broken-encoded-word', wordProblems[0]);
  for (const p of walk.problems) add(p.code, p.detail);

  const cids = new Map<string, number>();
  let textPart: number | undefined;
  let htmlPart: number | undefined;
  for (const part of walk.parts) {
    if (part.children.length > 0 || part.type.startsWith('multipart/')) continue;
    const body = raw.subarray(part.bodyStart, part.bodyEnd);
    if (part.encoding === 'base64') {
      const problem = base64Problem(body);
      if (problem) add('broken-base64', `part ${part.n}: ${problem}`);
    } else if (part.encoding === 'quoted-printable') {
      const problem = quotedPrintableProblem(body);
      if (problem) add('broken-quoted-printable', `part ${part.n}: ${problem}`);
    }
    if (part.contentId !== undefined) {
      const seen = cids.get(part.contentId);
      if (seen !== undefined) add('duplicate-content-id', `<${part.contentId}> in parts ${seen} and ${part.n}`);
      else cids.set(part.contentId, part.n);
    }
    const isAttachment = part.disposition === 'attachment';
    if (!isAttachment && part.type === 'text/plain' && textPart === undefined) textPart = part.n;
    if (!isAttachment && part.type === 'text/html' && htmlPart === undefined) htmlPart = part.n;
  }
  if (htmlPart !== undefined) {
    const html = decodeText(raw, walk.parts[htmlPart] as MimePart);
    for (const m of html.matchAll(/["'(]cid:([^"')\s>]+)/gi)) {
      let id = m[1] as string;
      try {
        id = decodeURIComponent(id);
      } catch {
        // a malformed escape: compare as written
      }
      if (!cids.has(id)) {
        add('missing-cid-part', `cid:${id}`);
        break;
      }
    }
  }
  const analysis: MessageAnalysis = {
    headers: h,
    subject: decodeEncodedWords(header(h, 'subject') ?? ''),
    fromHeader: decodeEncodedWords(header(h, 'from') ?? ''),
    root: walk.root,
    parts: walk.parts,
    findings,
  };
  if (textPart !== undefined) analysis.textPart = textPart;
  if (htmlPart !== undefined) analysis.htmlPart = htmlPart;
  return analysis;
}
