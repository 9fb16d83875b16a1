import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import PostalMime from 'postal-mime';
import { afterAll, describe, expect, it } from 'vitest';
import { startInbox } from '@smtpkit/inbox';
import { runDemo } from '../src/demo.js';
import { mimeTree } from '../src/mime-tree.js';
import { buildRichMessage, sendRich } from '../src/rich.js';

const asset = (name: string) => readFileSync(fileURLToPath(new URL(`../assets/${name}`, import.meta.url)));
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('rich', () => {
  it('sends text + HTML + an inline PNG + an attachment; the server sees them all', async () => {
    const server = await startInbox({ smtpPort: 0, httpPort: 0 });
    try {
      const result = await sendRich({ host: '127.0.0.1', port: server.smtpPort, from: 'Alice <alice@example.com>', to: 'bob@example.com' });
      expect(result.accepted).toEqual(['bob@example.com']);
      const got = server.store.list()[0]!;
      expect(got.transaction.from).toBe('alice@example.com');
      const parsed = await PostalMime.parse(got.raw);
      expect(parsed.text).toMatch(/Hello!/);
      expect(parsed.html).toContain('src="cid:envelope.png"');
      const png = parsed.attachments.find((a) => a.filename === 'envelope.png')!;
      expect(png).toMatchObject({ mimeType: 'image/png', disposition: 'inline', contentId: '<envelope.png>' });
      expect(sha256(new Uint8Array(png.content as ArrayBuffer))).toBe(sha256(asset('envelope.png')));
      const notes = parsed.attachments.find((a) => a.filename === 'notes.txt')!;
      expect(Buffer.from(notes.content as ArrayBuffer).equals(asset('notes.txt'))).toBe(true);
      expect(mimeTree(got.raw)[0]).toBe('multipart/mixed');
    } finally {
      await server.close();
    }
  });

  it('the tree drawn from the built message has the documented shape', async () => {
    const raw = await buildRichMessage('a@example.com', 'b@example.com').toBuffer();
    const types = mimeTree(raw).map((l) => l.replace(/^[│├└─\s]+/, '').split(' ')[0]);
    expect(types).toEqual(['multipart/mixed', 'multipart/alternative', 'text/plain', 'multipart/related', 'text/html', 'image/png', 'text/plain']);
  });
});

let blocker: Server | undefined;
afterAll(() => new Promise<void>((r) => (blocker ? blocker.close(() => r()) : r())));

describe('demo', () => {
  it('starts the inbox, sends the rich and the lab messages, prints what it received, then stops (--once, free ports)', async () => {
    const lines: string[] = [];
    await runDemo((l) => lines.push(l), { once: true, smtp: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 } });
    const out = lines.join('\n');
    expect(out).toMatch(/^smtpkit inbox: SMTP on 127\.0\.0\.1:\d+, web page on http:\/\/127\.0\.0\.1:\d+\/$/m);
    expect(out).toMatch(/^C: EHLO /m);
    expect(out).toMatch(/^C: MAIL FROM:<alice@example.com>/m);
    expect(out).toMatch(/^C: BDAT \d+ LAST$/m);
    expect(out).toMatch(/^ {2}Subject: smtpkit: text, HTML, an inline image and an attachment$/m);
    expect(out).toMatch(/multipart\/related/);
    expect(out).toContain(`envelope.png  image/png  inline cid <envelope.png>  ${asset('envelope.png').length} bytes  sha256 ${sha256(asset('envelope.png'))}`);
    expect(out).toMatch(/notes\.txt .* sha256 [0-9a-f]{64}/);
    expect(out).toMatch(/^extensions used: .*PIPELINING.*CHUNKING/m);
    expect(out).toMatch(/^envelope: MAIL FROM:<alice@crepes\.fr> {2}RCPT TO:<bob@hamburger\.edu>/m);
    expect(out).toMatch(/^findings: missing-date \(RFC 5322 §3\.6\), missing-from/m);
    expect(out).toMatch(/^Evidence view \(the lab's screenshot\): http:\/\/127\.0\.0\.1:\d+\/evidence\/\S+$/m);
    expect(out).toMatch(/demo inbox stopped$/);
  });

  it('without --once it keeps serving until stopped, and the page is up meanwhile', async () => {
    const lines: string[] = [];
    const stop = new AbortController();
    const done = runDemo((l) => lines.push(l), { smtp: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 }, signal: stop.signal });
    for (let i = 0; i < 200 && !lines.some((l) => l.includes('Ctrl-C to stop')); i++) await new Promise((r) => setTimeout(r, 50));
    const url = lines.join('\n').match(/web page on (\S+)/)![1]!;
    const list = (await (await fetch(new URL('api/messages', url))).json()) as unknown[];
    expect(list).toHaveLength(2);
    stop.abort();
    await done;
    expect(lines.at(-1)).toBe('demo inbox stopped');
  });

  it('`node dist/demo.js --once` exits 0; a busy port falls back to a free one and says so', async () => {
    blocker = createServer();
    await new Promise<void>((r) => blocker!.listen(0, '127.0.0.1', () => r()));
    const busy = (blocker.address() as AddressInfo).port;
    const child = spawn(process.execPath, [fileURLToPath(new URL('../dist/demo.js', import.meta.url)), '--once', '--http', '127.0.0.1:0'], {
      env: { PATH: process.env.PATH, SMTPKIT_DEMO_SMTP: `127.0.0.1:${busy}` },
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c));
    child.stderr.on('data', (c: Buffer) => (out += c));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('close', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    expect(code, out).toBe(0);
    expect(out).toContain(`port ${busy} is busy: the demo inbox SMTP side listens on a free port instead`);
    expect(out).toMatch(/== What the inbox received: the lab message/);
  });
});
