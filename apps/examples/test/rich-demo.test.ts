import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import PostalMime from 'postal-mime';
import { afterAll, describe, expect, it } from 'vitest';
import { runDemo, startDemoServer } from '../src/demo.js';
import { mimeTree } from '../src/mime-tree.js';
import { buildRichMessage, sendRich } from '../src/rich.js';

const asset = (name: string) => readFileSync(fileURLToPath(new URL(`../assets/${name}`, import.meta.url)));
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('rich', () => {
  it('sends text + HTML + an inline PNG + an attachment; the server sees them all', async () => {
    const server = await startDemoServer(0);
    try {
      const result = await sendRich({ host: '127.0.0.1', port: server.port, from: 'Alice <alice@example.com>', to: 'bob@example.com' });
      expect(result.accepted).toEqual(['bob@example.com']);
      const got = server.received[0]!;
      expect(got.from).toBe('alice@example.com');
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
  it('prints the transcript and what the server received, then stops (in-process, OS-chosen port)', async () => {
    const lines: string[] = [];
    await runDemo((l) => lines.push(l), 0);
    const out = lines.join('\n');
    expect(out).toMatch(/^C: EHLO /m);
    expect(out).toMatch(/^C: MAIL FROM:<alice@example.com>$/m);
    expect(out).toMatch(/^S: 354 /m);
    expect(out).toMatch(/^C: <message \d+ bytes>$/m);
    expect(out).toMatch(/^ {2}Subject: smtpkit: text, HTML, an inline image and an attachment$/m);
    expect(out).toMatch(/multipart\/related/);
    expect(out).toContain(`envelope.png  image/png  inline cid <envelope.png>  ${asset('envelope.png').length} bytes  sha256 ${sha256(asset('envelope.png'))}`);
    expect(out).toMatch(/notes\.txt .* sha256 [0-9a-f]{64}/);
    expect(out).toMatch(/demo server stopped$/);
  });

  it('`node dist/demo.js` exits 0; with 1025 busy it falls back to a free port and says so', async () => {
    // Occupy 1025 if we can (it may already be busy, which is the same case for the demo).
    blocker = createServer();
    await new Promise<void>((r) => {
      blocker!.once('error', () => {
        blocker = undefined;
        r();
      });
      blocker!.listen(1025, '127.0.0.1', () => r());
    });
    const child = spawn(process.execPath, [fileURLToPath(new URL('../dist/demo.js', import.meta.url))], { env: { PATH: process.env.PATH } });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c));
    child.stderr.on('data', (c: Buffer) => (out += c));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.on('close', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    expect(code, out).toBe(0);
    expect(out).toMatch(/port 1025 is busy: the demo server listens on 127\.0\.0\.1:\d+ instead/);
    expect(out).toMatch(/== What the server received/);
  });
});
