import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { renderEvidence } from './evidence.js';
import { attachmentDisposition, messageDetail, messageSummary, sanitizeFilename, sessionDetail, sessionSummary } from './http-api.js';
import { decodeBody } from './mime-walk.js';
import type { MimePart } from './mime-walk.js';
import type { MessageStore } from './store.js';

/** Options of {@link listenHttp}. */
export interface HttpListenerOptions {
  host: string;
  port: number;
  store: MessageStore;
  /** Longest `GET /api/wait` in seconds. */
  maxWaitSeconds: number;
  maxEventClients: number;
}

const ID = /^[A-Za-z0-9_-]{1,64}$/;
/** Types served as themselves from /parts/:n (so the page can show inline images); anything else is octets. */
const SAFE_INLINE = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/avif', 'image/bmp']);

const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

function loadAssets(): Map<string, { body: Buffer; type: string }> {
  const web = new URL('../web/', import.meta.url);
  const require = createRequire(import.meta.url);
  const read = (name: string) => readFileSync(new URL(name, web));
  return new Map([
    ['/', { body: read('index.html'), type: 'text/html; charset=utf-8' }],
    ['/assets/app.js', { body: read('app.js'), type: 'text/javascript; charset=utf-8' }],
    ['/assets/app.css', { body: read('app.css'), type: 'text/css; charset=utf-8' }],
    ['/assets/purify.js', { body: readFileSync(require.resolve('dompurify/dist/purify.min.js')), type: 'text/javascript; charset=utf-8' }],
  ]);
}

function hostsFor(host: string, port: number): Set<string> {
  const names = new Set(['127.0.0.1', 'localhost', '[::1]', host.includes(':') ? `[${host}]` : host]);
  if (host === '0.0.0.0' || host === '::') {
    for (const list of Object.values(networkInterfaces())) {
      for (const i of list ?? []) names.add(i.family === 'IPv6' ? `[${i.address}]` : i.address);
    }
  }
  return new Set([...names].map((n) => `${n}:${port}`));
}

function send(res: ServerResponse, status: number, body: string | Buffer, type: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, {
    'Content-Type': type,
    'Content-Length': Buffer.byteLength(body),
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-store',
    ...extra,
  });
  res.end(body);
}

function json(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, JSON.stringify(value), 'application/json; charset=utf-8');
}

function error(res: ServerResponse, status: number, message: string): void {
  json(res, status, { error: message });
}

/** The inbox's HTTP side: the page, its assets, the JSON API and server-sent events (node:http only). */
export async function listenHttp(o: HttpListenerOptions): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const assets = loadAssets();
  let allowedHosts = new Set<string>();
  const streams = new Set<ServerResponse>();

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    // DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends Host: evil.example.
    if (!allowedHosts.has((req.headers.host ?? '').toLowerCase())) return error(res, 421, 'unexpected Host header');
    const url = new URL(req.url ?? '/', 'http://inbox.invalid');
    const path = url.pathname;
    const isApi = path.startsWith('/api/');
    // Another site (another port is another origin) never gets to act on the API, even blindly.
    const site = req.headers['sec-fetch-site'];
    if (isApi && (site === 'cross-site' || site === 'same-site')) return error(res, 403, 'cross-origin request refused');
    const origin = req.headers.origin;
    if (origin !== undefined && !allowedHosts.has(origin.replace(/^https?:\/\//, '').toLowerCase())) {
      return error(res, 403, 'cross-origin request refused');
    }
    if (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0') {
      return error(res, 413, 'the inbox takes no request bodies');
    }
    if (req.method === 'DELETE' && path === '/api/messages') {
      await o.store.clear();
      res.writeHead(204, { 'Cache-Control': 'no-store' });
      return res.end();
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return error(res, 405, 'method not allowed');
    if (path.startsWith('/evidence/')) {
      const id = path.slice('/evidence/'.length);
      const m = ID.test(id) ? o.store.get(id) : undefined;
      if (!m) return error(res, 404, 'no such message');
      const csp = PAGE_CSP.replace("frame-ancestors 'none'", "frame-ancestors 'self'");
      return send(res, 200, renderEvidence(m, o.store.session(m.sessionId)), 'text/html; charset=utf-8', { 'Content-Security-Policy': csp, 'X-Frame-Options': 'SAMEORIGIN' });
    }
    if (!isApi) {
      const asset = assets.get(path === '/' || path.startsWith('/m/') ? '/' : path);
      if (!asset) return error(res, 404, 'not found');
      // the sandboxed HTML view inherits this policy; its images come from this origin, named explicitly
      return send(res, 200, asset.body, asset.type, { 'Content-Security-Policy': PAGE_CSP, 'X-Frame-Options': 'DENY' });
    }
    const parts = path.split('/').slice(2); // ['messages', id, ...]
    if (parts[0] === 'messages') {
      if (parts.length === 1) return json(res, 200, o.store.list().map(messageSummary));
      const id = parts[1] as string;
      const m = ID.test(id) ? o.store.get(id) : undefined;
      if (!m) return error(res, 404, `no message ${JSON.stringify(id.slice(0, 64))}`);
      if (parts.length === 2) return json(res, 200, messageDetail(m));
      if (parts.length === 3 && parts[2] === 'raw') {
        return send(res, 200, m.raw, 'message/rfc822', { 'Content-Disposition': attachmentDisposition(`${m.id}.eml`), 'Content-Security-Policy': "default-src 'none'; sandbox" });
      }
      if (parts.length === 4 && parts[2] === 'parts' && /^\d{1,6}$/.test(parts[3] as string)) {
        const part = m.analysis.parts[Number(parts[3])];
        if (!part || part.type.startsWith('multipart/')) return error(res, 404, 'no such leaf part');
        return sendPart(res, m.raw, part);
      }
      return error(res, 404, 'not found');
    }
    if (parts[0] === 'sessions') {
      if (parts.length === 1) return json(res, 200, o.store.sessions().map(sessionSummary));
      const s = parts.length === 2 && ID.test(parts[1] as string) ? o.store.session(parts[1] as string) : undefined;
      return s ? json(res, 200, sessionDetail(s)) : error(res, 404, 'no such session');
    }
    if (parts[0] === 'wait' && parts.length === 1) return wait(req, res, url);
    if (parts[0] === 'events' && parts.length === 1) return events(req, res);
    return error(res, 404, 'not found');
  };

  const wait = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const t = url.searchParams.get('timeout');
    const seconds = t === null || t === '' ? 30 : Number(t);
    if (!Number.isFinite(seconds) || seconds < 0 || seconds > o.maxWaitSeconds) {
      return error(res, 400, `timeout must be a number of seconds from 0 to ${o.maxWaitSeconds}`);
    }
    const filter = { to: url.searchParams.get('to') ?? '', subject: url.searchParams.get('subject') ?? '' };
    const gone = new AbortController();
    req.socket.once('close', () => gone.abort());
    const signal = AbortSignal.any([gone.signal, AbortSignal.timeout(Math.round(seconds * 1000))]);
    const m = await o.store.wait(filter, signal);
    if (res.destroyed) return;
    if (m) return json(res, 200, messageDetail(m));
    return error(res, 408, `no matching message within ${seconds} s`);
  };

  const events = (req: IncomingMessage, res: ServerResponse) => {
    if (streams.size >= o.maxEventClients) return error(res, 503, 'too many event streams');
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
    res.write(': smtpkit inbox\n\n');
    streams.add(res);
    const unsubscribe = o.store.subscribe((e) => {
      if (e.type === 'message') res.write(`event: message\ndata: ${JSON.stringify(messageSummary(e.message))}\n\n`);
      else if (e.type === 'clear') res.write('event: clear\ndata: {}\n\n');
      else res.write(`event: session\ndata: ${JSON.stringify(sessionSummary(e.session))}\n\n`);
    });
    const beat = setInterval(() => res.write(': keep-alive\n\n'), 25_000);
    req.socket.once('close', () => {
      clearInterval(beat);
      unsubscribe();
      streams.delete(res);
    });
  };

  const server = createServer({ requestTimeout: 30_000, headersTimeout: 10_000, maxHeaderSize: 16_384 }, (req, res) => {
    handle(req, res).catch((e: Error) => {
      if (!res.headersSent) error(res, 500, e.message);
      else res.destroy();
    });
  });
  // /api/wait and /api/events outlive the request timeout on purpose.
  server.requestTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  allowedHosts = hostsFor(o.host, port);
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of streams) s.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function sendPart(res: ServerResponse, raw: Buffer, part: MimePart): void {
  const body = decodeBody(raw, part);
  const type = SAFE_INLINE.has(part.type) ? part.type : 'application/octet-stream';
  const name = sanitizeFilename(part.filename, `part-${part.n}${part.type === 'text/plain' ? '.txt' : part.type === 'text/html' ? '.html' : '.bin'}`);
  send(res, 200, body, type, { 'Content-Disposition': attachmentDisposition(name), 'Content-Security-Policy': "default-src 'none'; sandbox" });
}
