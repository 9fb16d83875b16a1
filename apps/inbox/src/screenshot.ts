import { spawn } from 'node:child_process';
import { access, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** Options of {@link evidenceScreenshot}. */
export interface ScreenshotOptions {
  /** The page to capture, e.g. `http://127.0.0.1:8025/evidence/<id>`. */
  url: string;
  /** Where the PNG goes. */
  file: string;
  /** The browser; default `/usr/bin/chromium`, or `CHROMIUM_PATH`. */
  executablePath?: string;
  width?: number;
  height?: number;
  timeoutMs?: number;
}

/**
 * Writes a PNG of a page with a system Chromium in headless mode (`--screenshot`), with a fresh profile
 * and no background networking. Fails with a clear message when no Chromium is found.
 */
export async function evidenceScreenshot(o: ScreenshotOptions): Promise<string> {
  const browser = o.executablePath ?? process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  try {
    await access(browser);
  } catch {
    throw new Error(`--shot needs Chromium: ${browser} not found (install it, or set CHROMIUM_PATH)`);
  }
  const file = resolve(o.file);
  const profile = await mkdtemp(join(tmpdir(), 'smtpkit-inbox-chromium-'));
  const args = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--hide-scrollbars', `--user-data-dir=${profile}`,
    `--window-size=${o.width ?? 1100},${o.height ?? 1400}`, `--screenshot=${file}`, o.url,
  ];
  try {
    await new Promise<void>((done, fail) => {
      const child = spawn(browser, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-2000)));
      const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 60_000);
      child.on('error', fail);
      child.on('exit', (code) => {
        clearTimeout(timer);
        if (code === 0) done();
        else fail(new Error(`chromium exited with ${code}: ${err.trim().split('\n').slice(-3).join(' ')}`));
      });
    });
    if ((await stat(file)).size === 0) throw new Error('chromium wrote an empty screenshot');
    return file;
  } finally {
    await rm(profile, { recursive: true, force: true });
  }
}
