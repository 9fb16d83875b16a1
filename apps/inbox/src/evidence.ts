import { attachmentsOf } from './http-api.js';
import { decodeBody, decodeText } from './mime-walk.js';
import type { MimePart } from './mime-walk.js';
import type { SessionRecord, StoredMessage, TranscriptLine } from './store.js';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML element content and quoted attributes. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c] as string);
}

/** CR, LF and TAB made visible, as in the raw view. */
export function visibleControls(s: string): string {
  return s.replace(/\r/g, '␍').replace(/\n/g, '␊').replace(/\t/g, '␉');
}

/** A transcript entry as display lines: `C: EHLO x`, one per CRLF line; a bare CR or LF made visible. */
export function transcriptText(l: TranscriptLine): string {
  const dir = l.dir === '*' ? '*' : `${l.dir}:`;
  const text = l.text.endsWith('\r\n') ? l.text.slice(0, -2) : l.text;
  return text
    .split('\r\n')
    .map((line) => `${dir} ${visibleControls(line)}`)
    .join('\n');
}

/**
 * The evidence view, rendered on the server as one printable page with no script: the message
 * (headers and text), the envelope, the transcript of its session and the times. This is the
 * screenshot a lab asks for ("show that you indeed received the e-mail message").
 */
export function renderEvidence(m: StoredMessage, session: SessionRecord | undefined): string {
  const t = m.transaction;
  const a = m.analysis;
  const text = a.textPart !== undefined ? decodeText(m.raw, a.parts[a.textPart] as MimePart) : a.htmlPart !== undefined ? '(HTML only; see the HTML view)' : decodeBody(m.raw, a.root).toString('utf8');
  const rows = (pairs: Array<[string, string]>) => pairs.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('');
  const transcript = (session?.transcript ?? [])
    .map((l) => `<div class="t-${l.dir === '*' ? 'local' : l.dir}"><span class="at">${escapeHtml(l.at.slice(11, 23))}</span> ${escapeHtml(transcriptText(l))}</div>`)
    .join('');
  const badges = t.extensions.map((x) => `<span class="badge">${escapeHtml(x)}</span>`).join(' ');
  const findings = m.findings.length === 0 ? '<p>No findings.</p>' : `<ul>${m.findings.map((f) => `<li><b>${escapeHtml(f.code)}</b> (${escapeHtml(f.rfc)}): ${escapeHtml(f.text)}</li>`).join('')}</ul>`;
  const attachments = attachmentsOf(m).map((p) => `<li>${escapeHtml(p.filename ?? `part ${p.n}`)} — ${escapeHtml(p.type)}, ${decodeBody(m.raw, p).length} bytes</li>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Evidence — ${escapeHtml(a.subject || m.id)}</title>
<link rel="stylesheet" href="/assets/app.css"></head>
<body class="evidence">
<header><h1>smtpkit inbox — evidence of receipt</h1>
<p>Message <code>${escapeHtml(m.id)}</code> received by the local SMTP server at <b>${escapeHtml(m.receivedAt)}</b> (${m.raw.length} octets, stored exactly as received).</p></header>
<section><h2>Envelope</h2><table>${rows([
    ['MAIL FROM', `<${t.from}>${Object.keys(t.mailParams).length ? ' ' + Object.entries(t.mailParams).map(([k, v]) => (v === '' ? k : `${k}=${v}`)).join(' ') : ''}`],
    ['RCPT TO', t.to.map((x) => `<${x}>`).join(', ')],
    ['via', t.via === 'BDAT' ? `BDAT (${t.chunks.join(' + ')} octets)` : 'DATA'],
    ['client', session ? `${session.helo ?? '?'} from ${session.remoteAddress}:${session.remotePort}${session.tls ? `, TLS ${session.tls}` : ''}${session.authUser ? `, AUTH as ${session.authUser}` : ''}` : '?'],
  ])}</table><p class="badges">Extensions used: ${badges || 'none'}</p></section>
<section><h2>Message</h2><table>${rows(a.headers.filter((h) => /^(from|to|cc|subject|date|message-id)$/i.test(h.name)).map((h) => [h.name, h.value]))}</table>
<pre class="body">${escapeHtml(text)}</pre>${attachments ? `<ul class="attachments">${attachments}</ul>` : ''}</section>
<section><h2>Findings</h2>${findings}</section>
<section><h2>SMTP transcript</h2><div class="transcript">${transcript}</div></section>
</body></html>
`;
}
