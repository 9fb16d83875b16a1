// `smtpkit inbox` as users run it: the built CLI in its own process, on free ports, stopped by signal.
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sendMail } from '@smtpkit/client';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, runCli } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'cli-inbox-'));
const children = new Set<ChildProcessWithoutNullStreams>();
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** Starts `smtpkit inbox` and waits for a stdout line matching `until`. */
function start(args: string[]) {
  const child = spawn(process.execPath, [CLI, 'inbox', '--smtp', '127.0.0.1:0', '--http', '127.0.0.1:0', ...args], { stdio: 'pipe' });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const waitFor = (re: RegExp, ms = 30_000) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${re} in stdout ${JSON.stringify(stdout)} / stderr ${JSON.stringify(stderr)}`)), ms);
      const check = () => {
        const m = stdout.match(re);
        if (m) {
          clearTimeout(timer);
          child.stdout.off('data', check);
          resolve(m);
        }
      };
      child.stdout.on('data', check);
      check();
    });
  const exit = () => new Promise<number | null>((r) => (child.exitCode !== null ? r(child.exitCode) : child.once('exit', (code) => r(code))));
  return { child, waitFor, exit, output: () => ({ stdout, stderr }) };
}

describe('smtpkit inbox', () => {
  it('prints its addresses, shows each message as it arrives, writes --shot, stops cleanly on SIGTERM', async () => {
    const shot = join(dir, 'evidence.png');
    const inbox = start(['--dir', join(dir, 'store'), '--shot', shot]);
    const smtp = Number((await inbox.waitFor(/SMTP {2}127\.0\.0\.1:(\d+)/))[1]);
    const web = (await inbox.waitFor(/web {3}(http:\S+)/))[1] as string;
    await sendMail({ host: '127.0.0.1', port: smtp, tls: 'none', from: 'alice@example.com', to: ['bob@example.com'], data: 'Subject: from the cli test\r\nFrom: alice@example.com\r\n\r\nhello\r\n' });
    const line = await inbox.waitFor(/<alice@example\.com> → <bob@example\.com> {2}"from the cli test" .*\[(.*)\].*evidence\/(\S+)/);
    expect(line[1]).toContain('CHUNKING');
    const list = (await (await fetch(new URL('api/messages', web))).json()) as Array<{ subject: string }>;
    expect(list.map((m) => m.subject)).toEqual(['from the cli test']);
    await inbox.waitFor(/evidence screenshot: (\S+\.png)/, 60_000);
    expect(readFileSync(shot).subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    console.log(`smtpkit inbox --shot wrote ${shot}`);
    inbox.child.kill('SIGTERM');
    expect(await inbox.exit()).toBe(0);
    expect(inbox.output().stdout).toContain('SIGTERM: stopping');
  });

  it('--dir: a restart loads the kept messages', async () => {
    const inbox = start(['--dir', join(dir, 'store')]);
    await inbox.waitFor(/dir {3}.* \(1 message\(s\) loaded\)/);
    inbox.child.kill('SIGINT');
    expect(await inbox.exit()).toBe(0);
  });

  it.each([
    [['--smtp', 'nowhere'], /--smtp "nowhere": expected HOST:PORT/],
    [['--tls', 'bogus'], /--tls "bogus"/],
    [['--cert', 'x.pem'], /--cert and --key go together/],
    [['--max-messages', '0'], /--max-messages "0"/],
  ])('bad flags %j: exit 64 with a clear message', async (args, message) => {
    const r = await runCli(['inbox', ...args]);
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(message);
  });

  it('--auth with a missing users file: exit 66', async () => {
    const r = await runCli(['inbox', '--auth', join(dir, 'no-such-file')]);
    expect(r.code).toBe(66);
    expect(r.stderr).toMatch(/no-such-file/);
  });

  it('a non-loopback address prints a loud warning', async () => {
    const inbox = start(['--http', '0.0.0.0:0']);
    await inbox.waitFor(/Ctrl-C to stop/);
    expect(inbox.output().stderr).toMatch(/WARNING: .*0\.0\.0\.0.*READ EVERY CAPTURED MESSAGE/);
    inbox.child.kill('SIGINT');
    expect(await inbox.exit()).toBe(0);
  });
});
