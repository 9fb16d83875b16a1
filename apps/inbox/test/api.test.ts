// The JSON API as a contract (route and field names), its security rules, and the findings it reports.
import { once } from 'node:events';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sendMail } from '@smtpkit/client';
import { generateCertificates } from '@smtpkit/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readUsersFile, selfSignedCertificate } from '../src/index.js';
import type { Inbox } from '../src/index.js';
import { getJson, rawHttp, rawSmtp, testInbox } from './helpers.js';

const CRLF = '\r\n';
const good = (subject: string, extra = '') =>
  `From: a@example.com${CRLF}To: b@example.com${CRLF}Subject: ${subject}${CRLF}Date: Mon, 07 Dec 2026 00:00:00 +0000${CRLF}Message-ID: <${Date.now()}.${Math.random()}@example.com>${CRLF}${extra}${CRLF}body${CRLF}`;
const send = (inbox: Inbox, data: string, to = ['b@example.com']) =>
  sendMail({ host: '127.0.0.1', port: inbox.smtpPort, tls: 'none', from: 'a@example.com', to, data });

let inbox: Inbox;
beforeAll(async () => {
  inbox = await testInbox();
});
afterAll(() => inbox.close());

describe('JSON API: every route and field', () => {
  it('GET /api/messages, /api/messages/:id, /raw, /parts/:n, /api/sessions, /api/sessions/:id', async () => {
    await send(inbox, good('contract'));
    const list = await getJson(inbox, '/api/messages');
    const row = list.find((m: { subject: string }) => m.subject === 'contract');
    expect(Object.keys(row)).toEqual(expect.arrayContaining(['id', 'from', 'to', 'subject', 'size', 'receivedAt', 'findings']));
    expect(row).toMatchObject({ from: 'a@example.com', to: ['b@example.com'], findings: 0 });
    expect(new Date(row.receivedAt).toISOString()).toBe(row.receivedAt);

    const d = await getJson(inbox, `/api/messages/${row.id}`);
    expect(Object.keys(d)).toEqual(expect.arrayContaining(['envelope', 'headers', 'parts', 'extensions', 'findings', 'sessionId']));
    expect(d.envelope).toMatchObject({ from: 'a@example.com', to: ['b@example.com'] });
    expect(d.headers[0]).toEqual({ name: 'From', value: 'a@example.com' });
    expect(d.parts).toMatchObject({ n: 0, type: 'text/plain', children: [] });
    expect(d.extensions).toEqual(expect.arrayContaining(['PIPELINING', 'CHUNKING', 'SIZE']));
    for (const x of d.extensions) expect(x).toMatch(/^[A-Z0-9-]+( [A-Z0-9-]+)?$/); // bare keywords, no "BODY="

    const raw = await fetch(new URL(`/api/messages/${row.id}/raw`, inbox.url));
    expect(raw.headers.get('content-type')).toBe('message/rfc822');
    expect(await raw.text()).toBe(good('contract').replace(/<[^>]+>/, (await (await fetch(new URL(`/api/messages/${row.id}/raw`, inbox.url))).text()).match(/<[^>]+>/)![0]));

    const part = await fetch(new URL(`/api/messages/${row.id}/parts/0`, inbox.url));
    expect(await part.text()).toBe(`body${CRLF}`);

    const sessions = await getJson(inbox, '/api/sessions');
    const s = sessions.find((x: { id: string }) => x.id === d.sessionId);
    expect(s.messages).toContain(row.id);
    const sd = await getJson(inbox, `/api/sessions/${d.sessionId}`);
    expect(sd.transcript[0]).toEqual({ dir: '*', text: expect.stringMatching(/^connected from 127\.0\.0\.1:/), at: expect.any(String) });
    expect(sd.transcript.map((l: { dir: string }) => l.dir)).toEqual(expect.arrayContaining(['C', 'S', '*']));
  });

  it('GET /api/wait: the next matching message (to, subject: case-insensitive substrings), 408 on timeout', async () => {
    const waiting = getJson(inbox, '/api/wait?to=CAROL@&subject=Waited&timeout=20');
    await new Promise((r) => setTimeout(r, 100));
    await send(inbox, good('waited for, not this one'), ['dave@example.com']);
    await send(inbox, good('the WAITED message'), ['carol@example.com']);
    const m = await waiting;
    expect(m.subject).toBe('the WAITED message');
    expect(m.to).toEqual(['carol@example.com']);
    const t = await fetch(new URL('/api/wait?subject=never&timeout=0.2', inbox.url));
    expect(t.status).toBe(408);
    expect((await fetch(new URL('/api/wait?timeout=-1', inbox.url))).status).toBe(400);
  });

  it('DELETE /api/messages empties the list; unknown ids are 404', async () => {
    await send(inbox, good('to delete'));
    expect((await fetch(new URL('/api/messages', inbox.url), { method: 'DELETE' })).status).toBe(204);
    expect(await getJson(inbox, '/api/messages')).toEqual([]);
    expect((await fetch(new URL('/api/messages/nope', inbox.url))).status).toBe(404);
    expect((await fetch(new URL('/api/messages/..%2f..%2fetc', inbox.url))).status).toBe(404);
    expect((await fetch(new URL('/api/sessions/nope', inbox.url))).status).toBe(404);
  });
});

describe('HTTP security', () => {
  it('a foreign Host header (DNS rebinding) is refused; loopback names are fine', async () => {
    expect((await rawHttp(inbox.httpPort, '/api/messages', { Host: `evil.example:${inbox.httpPort}` })).status).toBe(421);
    expect([400, 421]).toContain((await rawHttp(inbox.httpPort, '/api/messages', {})).status); // node:http answers 400 itself
    expect((await rawHttp(inbox.httpPort, '/api/messages', { Host: `localhost:${inbox.httpPort}` })).status).toBe(200);
  });

  it('no CORS headers; cross-site and foreign-Origin requests are refused', async () => {
    const ok = await rawHttp(inbox.httpPort, '/api/messages', { Host: `127.0.0.1:${inbox.httpPort}`, Origin: 'http://127.0.0.1:1' });
    expect(ok.status).toBe(403);
    expect(ok.headers['access-control-allow-origin']).toBeUndefined();
    const del = await rawHttp(inbox.httpPort, '/api/messages', { Host: `127.0.0.1:${inbox.httpPort}`, 'Sec-Fetch-Site': 'cross-site' }, 'DELETE');
    expect(del.status).toBe(403);
    const plain = await rawHttp(inbox.httpPort, '/api/messages', { Host: `127.0.0.1:${inbox.httpPort}` });
    expect(plain.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('request bodies and other methods are refused; the page has a CSP', async () => {
    expect((await rawHttp(inbox.httpPort, '/api/messages', { Host: `127.0.0.1:${inbox.httpPort}`, 'Content-Length': '0' }, 'POST')).status).toBe(405);
    const big = await fetch(new URL('/api/messages', inbox.url), { method: 'DELETE', body: 'x'.repeat(10) });
    expect(big.status).toBe(413);
    const page = await fetch(inbox.url);
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    expect(page.headers.get('x-frame-options')).toBe('DENY');
  });

  it('downloads: sanitised names, Content-Disposition attachment, nosniff, scripts never served as HTML', async () => {
    const boundary = 'b1';
    const body = [
      `--${boundary}`, 'Content-Type: text/plain', '', 'hi',
      `--${boundary}`, 'Content-Type: text/html; name="x.html"', 'Content-Disposition: attachment; filename="../../etc/pa\\"ss\\r.html"', '', '<script>alert(1)</script>',
      `--${boundary}`, 'Content-Type: image/svg+xml', 'Content-Disposition: attachment; filename="=?utf-8?B?w6lt?=.svg"', '', '<svg onload="alert(1)"/>',
      `--${boundary}--`, '',
    ].join(CRLF);
    await send(inbox, good('downloads', `MIME-Version: 1.0${CRLF}Content-Type: multipart/mixed; boundary=${boundary}${CRLF}`).replace(`body${CRLF}`, body));
    const row = (await getJson(inbox, '/api/messages')).find((m: { subject: string }) => m.subject === 'downloads');
    const d = await getJson(inbox, `/api/messages/${row.id}`);
    const html = await fetch(new URL(`/api/messages/${row.id}/parts/2`, inbox.url));
    expect(html.headers.get('content-type')).toBe('application/octet-stream');
    expect(html.headers.get('content-disposition')).toBe(`attachment; filename="pa_ssr.html"; filename*=UTF-8''pa_ssr.html`);
    expect(html.headers.get('x-content-type-options')).toBe('nosniff');
    expect(html.headers.get('content-security-policy')).toMatch(/sandbox/);
    const svg = await fetch(new URL(`/api/messages/${row.id}/parts/3`, inbox.url));
    expect(svg.headers.get('content-type')).toBe('application/octet-stream');
    expect(svg.headers.get('content-disposition')).toBe(`attachment; filename="_m.svg"; filename*=UTF-8''%C3%A9m.svg`);
    expect(d.attachments.map((a: { filename: string }) => a.filename)).toEqual(['../../etc/pa"ssr.html', 'ém.svg']);
  });
});

describe('findings', () => {
  it('a raw-socket sender with bare LF in commands and data, 8-bit data without 8BITMIME and a smuggling shape', async () => {
    const replies = await rawSmtp(inbox.smtpPort, [
      'EHLO raw.test\n',
      'MAIL FROM:<a@example.com>\r\n',
      'RCPT TO:<rawlf@example.com>\r\n',
      'DATA\r\n',
      `Subject: raw${CRLF}${CRLF}line one\nline two caf\u00e9\n.\nstill the same message\r\n.\r\n`,
      'QUIT\r\n',
    ]);
    expect(replies).toMatch(/250 2\.0\.0 Ok: queued as/);
    const row = (await getJson(inbox, '/api/messages')).find((m: { to: string[] }) => m.to[0] === 'rawlf@example.com');
    const d = await getJson(inbox, `/api/messages/${row.id}`);
    const codes = d.findings.map((f: { code: string }) => f.code);
    expect(codes).toEqual(expect.arrayContaining(['bare-lf-data', '8bit-without-8bitmime', 'smuggling-end-of-data', 'missing-date', 'missing-from', 'missing-message-id']));
    expect(d.findings.find((f: { code: string }) => f.code === 'bare-lf-data')).toEqual({ code: 'bare-lf-data', rfc: 'RFC 5321 §2.3.8', text: expect.stringContaining('bare LF') });
    const s = await getJson(inbox, `/api/sessions/${d.sessionId}`);
    expect(s.findings.map((f: { code: string }) => f.code)).toContain('bare-lf-command');
    expect(s.transcript.find((l: { dir: string }) => l.dir === 'C').text).toBe('EHLO raw.test\n');
  });

  it('pipelining detected from commands sent before their replies; command before EHLO', async () => {
    await rawSmtp(inbox.smtpPort, ['MAIL FROM:<a@example.com>\r\nEHLO p.test\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<piped@example.com>\r\nDATA\r\n', 'Subject: piped\r\n\r\nx\r\n.\r\nQUIT\r\n']);
    const row = (await getJson(inbox, '/api/messages')).find((m: { to: string[] }) => m.to[0] === 'piped@example.com');
    const d = await getJson(inbox, `/api/messages/${row.id}`);
    expect(d.extensions).toContain('PIPELINING');
    const s = await getJson(inbox, `/api/sessions/${d.sessionId}`);
    expect(s.findings.map((f: { code: string }) => f.code)).toContain('command-before-ehlo');
  });

  it('message findings: UTF-8 raw headers, broken base64 / QP / encoded word, boundaries, Content-ID, cid:, Bcc', async () => {
    const mixed = [
      `From: a@example.com${CRLF}Bcc: secret@example.com${CRLF}Subject: =?utf-8?B?not base64!?= broken${CRLF}X-Name: Jörg${CRLF}MIME-Version: 1.0${CRLF}Content-Type: multipart/related; boundary=r${CRLF}${CRLF}`,
      `--r${CRLF}Content-Type: text/html${CRLF}${CRLF}<img src="cid:missing@x"><img src="cid:a@x">${CRLF}`,
      `--r${CRLF}Content-Type: image/png${CRLF}Content-ID: <a@x>${CRLF}Content-Transfer-Encoding: base64${CRLF}${CRLF}iVBO!!!${CRLF}`,
      `--r${CRLF}Content-Type: image/png${CRLF}Content-ID: <a@x>${CRLF}Content-Transfer-Encoding: quoted-printable${CRLF}${CRLF}=ZZ${CRLF}`,
      `--r${CRLF}Content-Type: multipart/mixed${CRLF}${CRLF}no boundary here${CRLF}`,
    ].join('');
    await rawSmtp(inbox.smtpPort, ['EHLO m.test\r\n', 'MAIL FROM:<a@example.com> BODY=8BITMIME\r\n', 'RCPT TO:<mime@example.com>\r\n', 'DATA\r\n', `${mixed}.\r\n`, 'QUIT\r\n']);
    const row = (await getJson(inbox, '/api/messages')).find((m: { to: string[] }) => m.to[0] === 'mime@example.com');
    const d = await getJson(inbox, `/api/messages/${row.id}`);
    const codes = d.findings.map((f: { code: string }) => f.code);
    expect(codes).toEqual(expect.arrayContaining([
      'raw-8bit-header', 'broken-encoded-word', 'broken-base64', 'broken-quoted-printable', 'missing-boundary',
      'unclosed-boundary', 'duplicate-content-id', 'missing-cid-part', 'bcc-leaked', 'missing-date', 'missing-message-id',
    ]));
    expect(codes).not.toContain('8bit-without-8bitmime');
    for (const f of d.findings) expect(f.rfc).toMatch(/^RFC \d+ §[\d.]+$/);
  });
});

describe('TLS, AUTH, limits, storage', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'inbox-api-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('STARTTLS and AUTH from a users file: the extensions and TLS are recorded; wrong password is 535', async () => {
    const certs = await generateCertificates();
    await writeFile(join(dir, 'users'), '# user:secret\nalice:wonderland\n');
    const secure = await testInbox({ tls: { key: certs.key, cert: certs.cert }, auth: { mode: 'users', users: await readUsersFile(join(dir, 'users')) } });
    try {
      const base = { host: '127.0.0.1', port: secure.smtpPort, tls: 'starttls' as const, ca: certs.caCert, servername: 'localhost', from: 'a@example.com', to: ['b@example.com'] };
      await sendMail({ ...base, auth: { user: 'alice', pass: 'wonderland', method: 'PLAIN' }, data: good('over tls') });
      const [m] = await getJson(secure, '/api/messages');
      const d = await getJson(secure, `/api/messages/${m.id}`);
      expect(d.extensions).toEqual(expect.arrayContaining(['STARTTLS', 'AUTH PLAIN']));
      const s = await getJson(secure, `/api/sessions/${d.sessionId}`);
      expect(s.tls).toMatch(/^TLSv1\.[23] /);
      expect(s.authUser).toBe('alice');
      // the transcript keeps the mechanism, never the credentials
      expect(JSON.stringify(s.transcript)).not.toContain(Buffer.from('\0alice\0wonderland').toString('base64'));
      expect(s.transcript.some((l: { text: string }) => l.text === 'AUTH PLAIN ***\r\n')).toBe(true);
      await sendMail({ ...base, auth: { user: 'alice', pass: 'cram', method: 'CRAM-MD5' }, data: good('cram') }).then(
        () => expect.unreachable(),
        (e: { replyCode?: number }) => expect(e.replyCode).toBe(535),
      );
      await sendMail({ ...base, auth: { user: 'alice', pass: 'wonderland', method: 'CRAM-MD5' }, data: good('cram ok') });
      await sendMail({ ...base, tls: 'none', data: good('no auth') }).then(
        () => expect.unreachable(),
        (e: { replyCode?: number }) => expect(e.replyCode).toBe(530),
      );
      expect((await getJson(secure, '/api/messages')).map((x: { subject: string }) => x.subject).sort()).toEqual(['cram ok', 'over tls']);
    } finally {
      await secure.close();
    }
  });

  it('--auth any: AUTH offered, any credentials accepted, not required; --tls self-signed offers STARTTLS', async () => {
    const open = await testInbox({ auth: { mode: 'any' }, tls: await selfSignedCertificate('inbox.test') });
    try {
      const base = { host: '127.0.0.1', port: open.smtpPort, from: 'a@example.com', to: ['b@example.com'] };
      await sendMail({ ...base, tls: 'starttls', rejectUnauthorized: false, auth: { user: 'anyone', accessToken: 'any-token', method: 'XOAUTH2' }, data: good('xoauth2') });
      await sendMail({ ...base, tls: 'none', allowInsecureAuth: true, auth: { user: 'someone', pass: 'whatever', method: 'LOGIN' }, data: good('login') });
      await sendMail({ ...base, tls: 'none', data: good('anonymous') });
      const byName = new Map<string, { extensions: string[]; sessionId: string }>();
      for (const row of await getJson(open, '/api/messages')) byName.set(row.subject, await getJson(open, `/api/messages/${row.id}`));
      expect(byName.get('xoauth2')!.extensions).toEqual(expect.arrayContaining(['STARTTLS', 'AUTH XOAUTH2']));
      expect(byName.get('login')!.extensions).toContain('AUTH LOGIN');
      expect(byName.get('anonymous')!.extensions.filter((x) => x.startsWith('AUTH'))).toEqual([]);
      const s = await getJson(open, `/api/sessions/${byName.get('xoauth2')!.sessionId}`);
      expect(s.authUser).toBe('anyone');
      expect(JSON.stringify(s.transcript)).not.toContain('any-token');
    } finally {
      await open.close();
    }
  });

  it('SIZE is enforced while the data streams: 552, nothing stored', async () => {
    const small = await testInbox({ maxMessageSize: 1000 });
    try {
      // a sender that announces no SIZE: the limit holds while the octets stream
      const replies = await rawSmtp(small.smtpPort, ['EHLO s.test\r\n', 'MAIL FROM:<a@example.com>\r\n', 'RCPT TO:<b@example.com>\r\n', 'DATA\r\n', `${'x'.repeat(3000)}\r\n.\r\n`, 'QUIT\r\n']);
      expect(replies).toMatch(/552 5\.3\.4 /);
      const bdat = await rawSmtp(small.smtpPort, ['EHLO s.test\r\n', 'MAIL FROM:<a@example.com>\r\n', 'RCPT TO:<b@example.com>\r\n', `BDAT 3000 LAST\r\n${'x'.repeat(3000)}`, 'QUIT\r\n']);
      expect(bdat).toMatch(/552 5\.3\.4 /);
      expect(await getJson(small, '/api/messages')).toEqual([]);
    } finally {
      await small.close();
    }
  });

  it('the ring keeps the newest N messages', async () => {
    const ring = await testInbox({ maxMessages: 2 });
    try {
      for (const s of ['one', 'two', 'three']) await sendMail({ host: '127.0.0.1', port: ring.smtpPort, tls: 'none', from: 'a@example.com', to: ['b@example.com'], data: good(s) });
      expect((await getJson(ring, '/api/messages')).map((m: { subject: string }) => m.subject)).toEqual(['three', 'two']);
    } finally {
      await ring.close();
    }
  });

  it('--dir keeps .eml + .json per message and loads them on start', async () => {
    const store = join(dir, 'store');
    const first = await testInbox({ dir: store });
    await sendMail({ host: '127.0.0.1', port: first.smtpPort, tls: 'none', from: 'a@example.com', to: ['b@example.com'], data: good('kept') });
    const [m] = await getJson(first, '/api/messages');
    await first.close();
    expect((await readdir(store)).sort()).toEqual([`${m.id}.eml`, `${m.id}.json`]);
    const second = await testInbox({ dir: store });
    try {
      const d = await getJson(second, `/api/messages/${m.id}`);
      expect(d.subject).toBe('kept');
      const s = await getJson(second, `/api/sessions/${d.sessionId}`);
      expect(s.transcript.length).toBeGreaterThan(5);
    } finally {
      await second.close();
    }
  });

  it('too many connections: 421', async () => {
    const tight = await testInbox({ maxConnections: 1 });
    try {
      const first = connect(tight.smtpPort, '127.0.0.1');
      await once(first, 'data');
      try {
        expect(await rawSmtp(tight.smtpPort, [])).toMatch(/^421 4\.7\.0/);
      } finally {
        first.destroy();
      }
    } finally {
      await tight.close();
    }
  });

  it('idle sessions end with 421', async () => {
    const idle = await testInbox({ idleTimeoutMs: 200 });
    try {
      expect(await rawSmtp(idle.smtpPort, [])).toMatch(/421 4\.4\.2 .* idle timeout/);
    } finally {
      await idle.close();
    }
  });
});
