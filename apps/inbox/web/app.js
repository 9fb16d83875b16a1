// The inbox page: plain DOM, no framework. Everything from a message goes in as text nodes, except the
// HTML view, which DOMPurify cleans and a sandboxed iframe (no allow-scripts) shows under the page's CSP.
const $ = (sel) => document.querySelector(sel);

/** Builds an element; children are nodes or strings (always text, never HTML). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

const state = { messages: [], visible: [], selected: -1, openId: null, tab: 'html', detail: null };

async function api(path, init) {
  const res = await fetch(path, init);
  if (!res.ok && res.status !== 204) throw new Error(`${res.status} ${await res.text()}`);
  return res;
}

function when(iso) {
  const d = new Date(iso);
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

function size(n) {
  return n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1048576).toFixed(1)} MB`;
}

// ── search: from: to: subject: has:attachment has:finding, the rest matches anywhere ──
function parseQuery(q) {
  const terms = [];
  for (const m of q.matchAll(/(\w+):("[^"]*"|\S+)|("[^"]*"|\S+)/g)) {
    const strip = (s) => s.replace(/^"|"$/g, '').toLowerCase();
    if (m[1]) terms.push({ key: m[1].toLowerCase(), value: strip(m[2]) });
    else terms.push({ key: '', value: strip(m[3]) });
  }
  return terms;
}

function matches(m, terms) {
  const from = `${m.from} ${m.headerFrom}`.toLowerCase();
  const to = m.to.join(' ').toLowerCase();
  const subject = m.subject.toLowerCase();
  return terms.every(({ key, value }) => {
    if (key === 'from') return from.includes(value);
    if (key === 'to') return to.includes(value);
    if (key === 'subject') return subject.includes(value);
    if (key === 'has') return value === 'attachment' ? m.attachments > 0 : value === 'finding' || value === 'findings' ? m.findings > 0 : false;
    return `${from} ${to} ${subject}`.includes(key ? `${key}:${value}` : value);
  });
}

function renderList() {
  const terms = parseQuery($('#search').value);
  state.visible = state.messages.filter((m) => matches(m, terms));
  const list = $('#list');
  list.replaceChildren(
    ...state.visible.map((m, i) =>
      h('div', { class: `item${i === state.selected ? ' selected' : ''}`, 'data-id': m.id, role: 'option', 'aria-selected': i === state.selected ? 'true' : 'false', onclick: () => { state.selected = i; open(m.id); } },
        h('div', { class: 'subject' }, m.subject || '(no subject)'),
        h('div', { class: 'meta' }, h('span', {}, m.headerFrom || m.from || '<>'), h('span', {}, m.findings > 0 ? h('span', { class: 'pill', title: 'findings' }, `${m.findings} finding${m.findings > 1 ? 's' : ''}`) : '', ' ', size(m.size), ' ', when(m.receivedAt))),
        h('div', { class: 'meta' }, h('span', {}, `to ${m.to.join(', ')}`)),
      ),
    ),
  );
  $('#status').textContent = `${state.visible.length} of ${state.messages.length} message${state.messages.length === 1 ? '' : 's'}`;
  list.querySelector('.selected')?.scrollIntoView({ block: 'nearest' });
}

// ── the detail view ──
const TABS = [
  ['html', 'HTML'], ['text', 'Text'], ['headers', 'Headers'], ['raw', 'Raw'], ['parts', 'Parts'],
  ['transcript', 'Transcript'], ['findings', 'Findings'], ['evidence', 'Evidence'],
];

async function open(id) {
  state.openId = id;
  renderList();
  const detail = await (await api(`/api/messages/${encodeURIComponent(id)}`)).json();
  if (state.openId !== id) return;
  state.detail = detail;
  if (state.tab === 'html' && detail.html === null) state.tab = 'text';
  renderDetail();
}

function renderDetail() {
  const d = state.detail;
  const pane = $('#detail');
  if (!d) return;
  const tabs = h('div', { class: 'tabs', role: 'tablist' },
    TABS.map(([key, label]) => h('button', { type: 'button', role: 'tab', 'data-tab': key, 'aria-selected': state.tab === key ? 'true' : 'false', onclick: () => { state.tab = key; renderDetail(); } },
      key === 'findings' && d.findings.length ? `${label} (${d.findings.length})` : label)));
  const body = h('div', { class: 'tab-body', 'data-tab': state.tab });
  pane.replaceChildren(
    h('div', { class: 'summary' },
      h('h2', {}, d.subject || '(no subject)'),
      h('div', { class: 'env' }, `MAIL FROM:<${d.envelope.from}>  RCPT TO:${d.envelope.to.map((t) => `<${t}>`).join(' ')}  · ${size(d.size)} · ${new Date(d.receivedAt).toLocaleString()} · via ${d.envelope.via}`),
      h('div', { class: 'badges' }, d.extensions.map((x) => h('span', { class: 'badge', 'data-ext': x }, x)))),
    tabs, body);
  RENDER[state.tab](d, body);
}

async function dataUrl(url, type) {
  const bytes = new Uint8Array(await (await api(url)).arrayBuffer());
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return `data:${type};base64,${btoa(bin)}`;
}

function partUrl(d, n) {
  return `/api/messages/${encodeURIComponent(d.id)}/parts/${n}`;
}

/** A transcript entry as lines: "C: EHLO x", CR and LF that are not a CRLF made visible (a bare LF shows as ␊). */
function transcriptText(l) {
  const dir = l.dir === '*' ? '*' : `${l.dir}:`;
  const text = l.text.endsWith('\r\n') ? l.text.slice(0, -2) : l.text;
  return text.split('\r\n').map((line) => `${dir} ${line.replace(/\r/g, '␍').replace(/\n/g, '␊')}`).join('\n');
}

const RENDER = {
  async html(d, body) {
    if (d.html === null) return body.append(h('p', { class: 'empty' }, 'This message has no HTML part.'));
    const cids = new Map(d.attachments.filter((a) => a.contentId).map((a) => [a.contentId, a]));
    const clean = window.DOMPurify.sanitize(d.html, { WHOLE_DOCUMENT: true, FORBID_TAGS: ['form', 'input', 'button', 'textarea', 'select'] });
    const doc = new DOMParser().parseFromString(clean, 'text/html');
    for (const img of doc.querySelectorAll('img')) {
      const src = img.getAttribute('src') || '';
      if (!/^cid:/i.test(src)) continue;
      const part = cids.get(decodeURIComponent(src.slice(4)));
      // inline images go in as data: URLs fetched by this page, so the sandboxed frame needs no access to the API
      if (part && part.type.startsWith('image/') && !part.type.includes('svg') && part.size <= 5 * 1024 * 1024) img.setAttribute('src', await dataUrl(partUrl(d, part.n), part.type));
      else img.removeAttribute('src');
    }
    const base = doc.createElement('base');
    base.setAttribute('target', '_blank');
    doc.head.prepend(base);
    // no allow-scripts, no allow-same-origin: the message can neither run code nor reach this page
    body.append(h('iframe', { class: 'html', sandbox: 'allow-popups allow-popups-to-escape-sandbox', referrerpolicy: 'no-referrer', title: 'HTML view', srcdoc: `<!doctype html>${doc.documentElement.outerHTML}` }));
  },
  text(d, body) {
    body.append(d.text === null ? h('p', { class: 'empty' }, 'This message has no text part.') : h('pre', { class: 'text' }, d.text));
  },
  headers(d, body) {
    body.append(h('table', { class: 'kv' }, d.headers.map((x) => h('tr', {}, h('th', {}, x.name), h('td', {}, x.value)))));
  },
  async raw(d, body) {
    const bytes = new Uint8Array(await (await api(`/api/messages/${encodeURIComponent(d.id)}/raw`)).arrayBuffer());
    const pre = h('div', { class: 'raw' });
    const LIMIT = 1 << 20;
    let run = '';
    const flush = () => { if (run) { pre.append(run); run = ''; } };
    for (let i = 0; i < Math.min(bytes.length, LIMIT); i++) {
      const b = bytes[i];
      if (b === 13) { flush(); pre.append(h('span', { class: 'ctl' }, '␍')); }
      else if (b === 10) { flush(); pre.append(h('span', { class: 'ctl' }, '␊'), '\n'); }
      else if (b === 9) { flush(); pre.append(h('span', { class: 'ctl' }, '␉')); }
      else if (b >= 0x80 || b < 0x20 || b === 0x7f) { flush(); pre.append(h('span', { class: 'hi', title: `octet 0x${b.toString(16)}` }, `\\x${b.toString(16).padStart(2, '0').toUpperCase()}`)); }
      else run += String.fromCharCode(b);
    }
    flush();
    if (bytes.length > LIMIT) pre.append(h('div', { class: 'empty' }, `… ${bytes.length - LIMIT} more octets: download the .eml`));
    body.append(h('p', {}, h('a', { href: `/api/messages/${encodeURIComponent(d.id)}/raw`, download: `${d.id}.eml` }, `Download ${d.id}.eml`), ` · ${bytes.length} octets exactly as received; ␍ ␊ ␉ are CR, LF, TAB; \\xNN marks non-ASCII octets`), pre);
  },
  parts(d, body) {
    const node = (p) => h('li', {}, h('code', {}, p.type), ` #${p.n} · ${p.encoding} · ${size(p.size)}`, p.filename ? ` · ${p.filename}` : '', p.contentId ? ` · cid:${p.contentId}` : '', p.disposition ? ` · ${p.disposition}` : '',
      p.children.length ? h('ul', {}, p.children.map(node)) : '');
    body.append(h('h3', {}, 'MIME tree'), h('div', { class: 'tree' }, h('ul', {}, node(d.parts))));
    body.append(h('h3', {}, 'Attachments and inline parts'));
    if (d.attachments.length === 0) body.append(h('p', { class: 'empty' }, 'None.'));
    for (const a of d.attachments) {
      body.append(h('div', { class: 'attachment' },
        h('a', { href: partUrl(d, a.n), download: '', 'data-part': a.n }, a.filename || `part ${a.n}`), ` ${a.type} · ${size(a.size)}${a.contentId ? ` · cid:${a.contentId}` : ''}`,
        a.type.startsWith('image/') && !a.type.includes('svg') ? h('img', { class: 'thumb', src: partUrl(d, a.n), alt: a.filename || '' }) : ''));
    }
  },
  async transcript(d, body) {
    const s = await (await api(`/api/sessions/${encodeURIComponent(d.sessionId)}`)).json();
    body.append(h('p', {}, `Session ${s.id} from ${s.remoteAddress} · EHLO ${s.helo ?? '?'}${s.tls ? ` · TLS ${s.tls}` : ''}${s.authUser ? ` · AUTH as ${s.authUser}` : ''}`),
      h('div', { class: 'badges' }, 'Extensions used: ', d.extensions.length ? d.extensions.map((x) => h('span', { class: 'badge', 'data-ext': x }, x)) : 'none',
        d.envelope.chunks.length ? ` · BDAT chunks: ${d.envelope.chunks.join(', ')} octets` : ''),
      h('div', { class: 'transcript' }, s.transcript.map((l) => h('div', { class: `t-${l.dir === '*' ? 'local' : l.dir}` },
        h('span', { class: 'at' }, l.at.slice(11, 23)), ' ', transcriptText(l)))));
  },
  findings(d, body) {
    if (d.findings.length === 0) return body.append(h('p', { class: 'empty' }, 'No findings: the client did nothing the inbox checks for wrong.'));
    body.append(...d.findings.map((f) => h('div', { class: 'finding', 'data-code': f.code }, h('code', {}, f.code), ` · ${f.rfc} · `, f.text)));
  },
  evidence(d, body) {
    body.append(h('p', {}, h('a', { href: `/evidence/${encodeURIComponent(d.id)}`, target: '_blank' }, 'Open the evidence view on its own page (to print or screenshot)')),
      h('iframe', { class: 'evidence', src: `/evidence/${encodeURIComponent(d.id)}`, title: 'Evidence view' }));
  },
};

// ── keyboard: j/k move, Enter open, Esc back, / search ──
document.addEventListener('keydown', (e) => {
  const search = $('#search');
  if (document.activeElement === search) {
    if (e.key === 'Escape') { search.blur(); }
    else if (e.key === 'Enter') { search.blur(); state.selected = 0; renderList(); }
    return;
  }
  if (e.metaKey || e.ctrlKey || e.altKey) return;
  if (e.key === '/') { e.preventDefault(); search.focus(); return; }
  if (e.key === 'j' || e.key === 'k') {
    const n = state.visible.length;
    if (n === 0) return;
    state.selected = Math.max(0, Math.min(n - 1, state.selected + (e.key === 'j' ? 1 : -1)));
    renderList();
  } else if (e.key === 'Enter' && state.visible[state.selected]) {
    open(state.visible[state.selected].id);
  } else if (e.key === 'Escape') {
    state.openId = null;
    state.detail = null;
    $('#detail').replaceChildren(h('p', { class: 'empty' }, 'No message selected.'));
    $('#list').focus();
  }
});

$('#search').addEventListener('input', () => { state.selected = -1; renderList(); });
// every session, also those that produced no message: summary rows, then one transcript
async function showSessions() {
  state.openId = null;
  state.detail = null;
  const sessions = await (await api('/api/sessions')).json();
  $('#detail').replaceChildren(h('h2', {}, 'SMTP sessions'), h('table', { class: 'kv sessions' },
    h('tr', {}, ['started', 'client', 'EHLO', 'extensions', 'findings', 'messages'].map((x) => h('th', {}, x))),
    sessions.map((s) => h('tr', { class: 'session', 'data-id': s.id, onclick: () => showSession(s.id) },
      h('td', {}, when(s.startedAt)), h('td', {}, s.remoteAddress), h('td', {}, s.helo ?? '—'),
      h('td', {}, s.extensions.map((x) => h('span', { class: 'badge' }, x))), h('td', {}, String(s.findings)), h('td', {}, String(s.messages.length))))));
}

async function showSession(id) {
  const s = await (await api(`/api/sessions/${encodeURIComponent(id)}`)).json();
  $('#detail').replaceChildren(h('h2', {}, `Session ${s.id}`),
    h('p', {}, `from ${s.remoteAddress} · EHLO ${s.helo ?? '?'}${s.tls ? ` · TLS ${s.tls}` : ''}${s.authUser ? ` · AUTH as ${s.authUser}` : ''} · ${s.messages.length} message(s)`),
    h('div', { class: 'badges' }, s.extensions.map((x) => h('span', { class: 'badge', 'data-ext': x }, x))),
    s.findings.map((f) => h('div', { class: 'finding', 'data-code': f.code }, h('code', {}, f.code), ` · ${f.rfc} · `, f.text)),
    h('div', { class: 'transcript' }, s.transcript.map((l) => h('div', { class: `t-${l.dir === '*' ? 'local' : l.dir}` }, h('span', { class: 'at' }, l.at.slice(11, 23)), ' ', transcriptText(l)))));
}

$('#sessions').addEventListener('click', () => showSessions());
$('#clear').addEventListener('click', async () => { await api('/api/messages', { method: 'DELETE' }); });

async function load() {
  state.messages = await (await api('/api/messages')).json();
  renderList();
}

// live updates: server-sent events
const events = new EventSource('/api/events');
events.addEventListener('message', (e) => {
  const m = JSON.parse(e.data);
  state.messages.unshift(m);
  if (state.selected >= 0) state.selected++;
  renderList();
});
events.addEventListener('clear', () => {
  state.messages = [];
  state.selected = -1;
  state.detail = null;
  $('#detail').replaceChildren(h('p', { class: 'empty' }, 'No messages.'));
  renderList();
});
events.addEventListener('open', () => load());
load();
