import type { MimePart } from './mime-walk.js';
import { decodeBody, decodeText } from './mime-walk.js';
import type { SessionRecord, StoredMessage } from './store.js';

/** A part as the API shows it: no internal offsets. */
export type PartView = Omit<MimePart, 'bodyStart' | 'bodyEnd' | 'depth' | 'children'> & { children: PartView[] };

function partView(p: MimePart): PartView {
  const v: PartView = { n: p.n, type: p.type, encoding: p.encoding, size: p.size, children: p.children.map(partView) };
  if (p.charset !== undefined) v.charset = p.charset;
  if (p.disposition !== undefined) v.disposition = p.disposition;
  if (p.filename !== undefined) v.filename = p.filename;
  if (p.contentId !== undefined) v.contentId = p.contentId;
  return v;
}

/** Leaf parts a reader would call attachments or inline images (everything but the shown text and HTML). */
export function attachmentsOf(m: StoredMessage): MimePart[] {
  const a = m.analysis;
  return a.parts.filter(
    (p) => p.n !== 0 && p.children.length === 0 && !p.type.startsWith('multipart/') && p.n !== a.textPart && p.n !== a.htmlPart,
  );
}

/** `GET /api/messages` rows. */
export function messageSummary(m: StoredMessage) {
  return {
    id: m.id,
    from: m.transaction.from,
    to: m.transaction.to,
    subject: m.analysis.subject,
    size: m.raw.length,
    receivedAt: m.receivedAt,
    findings: m.findings.length,
    headerFrom: m.analysis.fromHeader,
    attachments: attachmentsOf(m).length,
    sessionId: m.sessionId,
  };
}

/** `GET /api/messages/:id`. */
export function messageDetail(m: StoredMessage) {
  const t = m.transaction;
  const a = m.analysis;
  return {
    id: m.id,
    sessionId: m.sessionId,
    receivedAt: m.receivedAt,
    size: m.raw.length,
    subject: a.subject,
    from: t.from,
    to: t.to,
    envelope: { from: t.from, to: t.to, mailParams: t.mailParams, rcptParams: t.rcptParams, via: t.via, chunks: t.chunks },
    headers: a.headers,
    parts: partView(a.root),
    extensions: t.extensions,
    findings: m.findings,
    text: a.textPart === undefined ? null : decodeText(m.raw, a.parts[a.textPart] as MimePart),
    html: a.htmlPart === undefined ? null : decodeText(m.raw, a.parts[a.htmlPart] as MimePart),
    attachments: attachmentsOf(m).map((p) => ({
      n: p.n,
      filename: p.filename ?? null,
      type: p.type,
      size: decodeBody(m.raw, p).length,
      contentId: p.contentId ?? null,
      disposition: p.disposition ?? null,
    })),
  };
}

/** `GET /api/sessions` rows. */
export function sessionSummary(s: SessionRecord) {
  return {
    id: s.id,
    remoteAddress: s.remoteAddress,
    startedAt: s.startedAt,
    endedAt: s.endedAt ?? null,
    helo: s.helo ?? null,
    secure: s.secure,
    authUser: s.authUser ?? null,
    extensions: s.extensions,
    findings: s.findings.length,
    messages: s.messageIds,
  };
}

/** `GET /api/sessions/:id`. */
export function sessionDetail(s: SessionRecord) {
  return { ...sessionSummary(s), tls: s.tls ?? null, findings: s.findings, transcript: s.transcript, droppedLines: s.droppedLines };
}

/** A download name that is safe everywhere: no path, no controls, no quotes, bounded. */
export function sanitizeFilename(name: string | undefined, fallback: string): string {
  const base = (name ?? '').split(/[\\/]/).pop() ?? '';
  // eslint-disable-next-line no-control-regex -- removing control characters is the point
  const clean = base.replace(/[\u0000-\u001f\u007f"*:<>?|]/g, '_').replace(/^[.\s]+/, '').trim().slice(0, 120);
  return clean === '' ? fallback : clean;
}

/** `Content-Disposition: attachment` with an ASCII fallback and the UTF-8 name (RFC 6266 §4.3). */
export function attachmentDisposition(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]/g, '_').replace(/[\\"]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}
