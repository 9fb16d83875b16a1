/// <reference lib="dom" />
// The inbox page in a real browser: playwright-core driving the system Chromium (no browser download).
// A missing Chromium fails this file loudly; it never skips.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync, crc32 } from 'node:zlib';
import { sendMail } from '@smtpkit/client';
import { buildMessage } from '@smtpkit/mime';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Inbox } from '../src/index.js';
import { rawSmtp, testInbox } from './helpers.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** A real 24×16 PNG (filter 0 rows of blue pixels), so the inline image has a natural size. */
function png(width = 24, height = 16): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const row = Buffer.concat([Buffer.from([0]), Buffer.alloc(width * 3, Buffer.from([30, 90, 200]))]);
  const idat = deflateSync(Buffer.concat(Array.from({ length: height }, () => row)));
  return Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
}

let inbox: Inbox;
let context: BrowserContext;
let page: Page;
let profile: string;
/** A server standing for "some other site": it records every request (the XSS payload's target) and serves a page on another port. */
let other: Server;
let otherPort = 0;
const otherRequests: string[] = [];
const dialogs: string[] = [];

beforeAll(async () => {
  inbox = await testInbox();
  other = createServer((req, res) => {
    otherRequests.push(req.url ?? '');
    if (req.url === '/reader') {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end(`<!doctype html><title>pending</title><script>
        fetch('http://127.0.0.1:${inbox.httpPort}/api/messages').then(r => r.text()).then(t => { document.title = 'READ ' + t.length; }, () => { document.title = 'blocked'; });
      </script>`);
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((r) => other.listen(0, '127.0.0.1', () => r()));
  otherPort = (other.address() as AddressInfo).port;
  profile = await mkdtemp(join(tmpdir(), 'inbox-chromium-'));
  context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: FLAGS, acceptDownloads: true, viewport: { width: 1280, height: 900 } });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (e) => console.log('pageerror:', e.message));
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  await page.goto(inbox.url);
  await page.locator('#status', { hasText: '0 of 0 messages' }).waitFor({ timeout: 30_000 }); // the page's script ran
}, 120_000);

afterAll(async () => {
  await context?.close();
  await inbox?.close();
  await new Promise<void>((r) => (other ? other.close(() => r()) : r()));
  if (profile) await rm(profile, { recursive: true, force: true });
});

const XSS_HTML = (port: number) =>
  `<p id="hello">Hello <b>world</b></p>
<img src="cid:logo.png" id="logo" alt="logo">
<img src="x" onerror="alert('onerror')">
<script>alert('script')</script>
<a id="js" href="javascript:alert('link')">click me</a>
<img src="http://127.0.0.1:${port}/pixel.png" id="remote">
<div style="background:url(http://127.0.0.1:${port}/css.png)">styled</div>`;

async function openMessage(subject: string): Promise<void> {
  await page.locator('.item', { hasText: subject }).first().click();
  await page.locator('.summary h2', { hasText: subject }).waitFor();
}

describe('the inbox page in Chromium', () => {
  it('a message appears without reload; the sanitised HTML shows and no XSS payload runs or fetches', async () => {
    const built = buildMessage({
      from: 'Alice <alice@example.com>', to: 'bob@example.com', subject: 'xss attempt', text: 'plain version', html: XSS_HTML(otherPort),
      inline: [{ filename: 'logo.png', cid: 'logo.png', content: png(), contentType: 'image/png' }],
      attachments: [{ filename: '../../evil"name.txt', content: Buffer.from('attached\n'), contentType: 'text/plain' }],
    });
    await sendMail({ host: '127.0.0.1', port: inbox.smtpPort, tls: 'none', from: 'alice@example.com', to: ['bob@example.com'], data: await built.toBuffer() });
    await page.locator('.item', { hasText: 'xss attempt' }).waitFor({ timeout: 20_000 }); // live, through server-sent events
    await openMessage('xss attempt');
    const frame = page.frameLocator('iframe.html');
    await expect(frame.locator('#hello').textContent()).resolves.toBe('Hello world');
    expect(await page.locator('iframe.html').getAttribute('sandbox')).toBe('allow-popups allow-popups-to-escape-sandbox');
    // the inline image renders from its part
    await frame.locator('#logo').evaluate((img: HTMLImageElement) => (img.complete ? null : new Promise((r) => (img.onload = r))));
    expect(await frame.locator('#logo').evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(24);
    expect(await frame.locator('script').count()).toBe(0);
    expect(await frame.locator('[onerror]').count()).toBe(0);
    expect(await frame.locator('#js').getAttribute('href')).toBeNull();
    await frame.locator('#js').click();
    await page.waitForTimeout(500);
    expect(dialogs).toEqual([]);
    expect(otherRequests.filter((u) => u.endsWith('.png'))).toEqual([]);
    const file = join(tmpdir(), `smtpkit-inbox-page-${Date.now()}.png`);
    await page.screenshot({ path: file });
    console.log(`inbox page screenshot (HTML view): ${file}`);
  });

  it('the download has a sanitised name; the MIME tree is shown', async () => {
    await page.getByRole('tab', { name: 'Parts' }).click();
    await expect(page.locator('.tree').textContent()).resolves.toMatch(/multipart\/mixed.*multipart\/alternative.*text\/plain.*multipart\/related.*text\/html.*image\/png/);
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('.attachment a', { hasText: 'evil' }).click()]);
    expect(download.suggestedFilename()).toBe('evil_name.txt');
  });

  it('the transcript tab shows C: EHLO and the PIPELINING / CHUNKING badges the client used', async () => {
    await page.getByRole('tab', { name: 'Transcript' }).click();
    const transcript = page.locator('.transcript');
    await transcript.waitFor();
    expect(await transcript.textContent()).toMatch(/C: EHLO /);
    expect(await transcript.textContent()).toMatch(/C: BDAT \d+ LAST/);
    for (const ext of ['PIPELINING', 'CHUNKING']) expect(await page.locator(`.tab-body .badge[data-ext="${ext}"]`).count()).toBe(1);
  });

  it('the raw view shows CR, LF and TAB, and marks non-ASCII octets', async () => {
    await rawSmtp(inbox.smtpPort, ['EHLO raw.test\r\n', 'MAIL FROM:<raw@example.com> BODY=8BITMIME\r\n', 'RCPT TO:<bob@example.com>\r\n', 'DATA\r\n', 'Subject: raw bytes\r\nDate: Mon, 07 Dec 2026 00:00:00 +0000\r\n\r\ncaf\u00e9\tx\r\n.\r\n', 'QUIT\r\n']);
    await openMessage('raw bytes');
    await page.getByRole('tab', { name: 'Raw' }).click();
    const raw = page.locator('.raw');
    await raw.waitFor();
    expect(await raw.textContent()).toContain('caf\\xC3\\xA9␉x␍␊');
  });

  it('the findings panel lists the bare-LF finding of a raw-socket sender', async () => {
    await rawSmtp(inbox.smtpPort, ['EHLO lf.test\r\n', 'MAIL FROM:<lf@example.com>\r\n', 'RCPT TO:<bob@example.com>\r\n', 'DATA\r\n', 'Subject: bare lf\r\n\r\none\ntwo\r\n.\r\n', 'QUIT\r\n']);
    await openMessage('bare lf');
    await page.getByRole('tab', { name: /Findings/ }).click();
    const f = page.locator('.finding[data-code="bare-lf-data"]');
    await f.waitFor();
    expect(await f.textContent()).toMatch(/bare-lf-data · RFC 5321 §2\.3\.8 · a bare LF in the message data/);
  });

  it('search: from:, subject:, has:attachment, has:finding', async () => {
    const search = page.locator('#search');
    const subjects = async () => page.locator('.item .subject').allTextContents();
    await search.fill('has:attachment');
    expect(await subjects()).toEqual(['xss attempt']);
    await search.fill('from:lf@');
    expect(await subjects()).toEqual(['bare lf']);
    await search.fill('has:finding subject:raw');
    expect(await subjects()).toEqual(['raw bytes']);
    await search.fill('');
    expect(await subjects()).toHaveLength(3);
  });

  it('keyboard: / focuses search, j/k move, Enter opens, Esc goes back', async () => {
    await page.locator('#search').focus();
    await page.keyboard.press('Escape');
    await page.keyboard.press('/');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('search');
    await page.keyboard.press('Escape');
    await page.keyboard.press('j');
    await page.keyboard.press('Enter');
    await page.locator('.summary h2', { hasText: 'bare lf' }).waitFor(); // newest first
    await page.keyboard.press('j');
    await page.keyboard.press('j');
    await page.keyboard.press('k');
    await page.keyboard.press('Enter');
    await page.locator('.summary h2', { hasText: 'raw bytes' }).waitFor();
    await page.keyboard.press('Escape');
    expect(await page.locator('#detail .summary').count()).toBe(0);
  });

  it('dark mode follows prefers-color-scheme', async () => {
    const bg = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    await page.emulateMedia({ colorScheme: 'light' });
    expect(await bg()).toBe('rgb(255, 255, 255)');
    await page.emulateMedia({ colorScheme: 'dark' });
    expect(await bg()).toBe('rgb(21, 24, 28)');
    await page.emulateMedia({ colorScheme: 'light' });
  });

  it('a page on another port cannot read /api/*', async () => {
    const reader = await context.newPage();
    try {
      await reader.goto(`http://127.0.0.1:${otherPort}/reader`);
      await reader.waitForFunction(() => document.title !== 'pending', undefined, { timeout: 10_000 });
      expect(await reader.title()).toBe('blocked');
    } finally {
      await reader.close();
    }
  });

  it('sessions: one that sent no message is listed, with its transcript', async () => {
    await rawSmtp(inbox.smtpPort, ['EHLO nomail.test\r\n', 'NOOP\r\n', 'QUIT\r\n']);
    await page.locator('#sessions').click();
    const row = page.locator('tr.session', { hasText: 'nomail.test' });
    await row.waitFor();
    expect(await row.locator('td').last().textContent()).toBe('0');
    await row.click();
    const transcript = page.locator('.transcript');
    await transcript.waitFor();
    expect(await transcript.textContent()).toMatch(/C: EHLO nomail\.test.*C: NOOP.*S: 250 2\.0\.0 Ok.*C: QUIT/s);
  });

  it('the evidence view: message, envelope, transcript and time on one page (screenshot saved)', async () => {
    await openMessage('xss attempt');
    const id = await page.locator('.item.selected, .item', { hasText: 'xss attempt' }).first().getAttribute('data-id');
    const evidence = await context.newPage();
    try {
      await evidence.goto(new URL(`evidence/${id}`, inbox.url).href);
      const text = (await evidence.locator('body').textContent()) ?? '';
      expect(text).toContain('evidence of receipt');
      expect(text).toMatch(/MAIL FROM\s*<alice@example\.com>/);
      expect(text).toContain('plain version');
      expect(text).toMatch(/C: EHLO /);
      expect(await evidence.locator('script').count()).toBe(0);
      const file = join(tmpdir(), `smtpkit-inbox-evidence-${Date.now()}.png`);
      await evidence.screenshot({ path: file, fullPage: true });
      console.log(`evidence screenshot: ${file}`);
    } finally {
      await evidence.close();
    }
  });

  it('Clear deletes every message, and the list empties live', async () => {
    await page.locator('#clear').click();
    await page.locator('.item').first().waitFor({ state: 'detached', timeout: 10_000 });
    expect(await page.locator('#status').textContent()).toBe('0 of 0 messages');
  });
});
