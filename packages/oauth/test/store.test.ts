import { chmodSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkAccountName, FileSecretStore, isFresh, KeyringSecretStore, refreshMargin, withLock } from '../src/index.js';

const scratch = () => mkdtempSync(join(tmpdir(), 'smtpkit-oauth-'));
const SECRET = JSON.stringify({ accessToken: 'eyJ-secret "quoted" token', refreshToken: 'rt-0001' });

/** A stand-in for macOS `security`: `-i` reads commands from stdin; every call's argv and stdin are logged. */
function fakeSecurity(dir: string): { command: string; log: string } {
  const log = join(dir, 'security.log');
  const command = join(dir, 'security');
  writeFileSync(
    command,
    `#!/usr/bin/env node
const fs = require('node:fs');
const argv = process.argv.slice(2);
const stdin = argv[0] === '-i' ? fs.readFileSync(0, 'utf8') : '';
fs.appendFileSync(${JSON.stringify(log)}, JSON.stringify({ argv, stdin }) + '\\n');
const vault = ${JSON.stringify(join(dir, 'vault.json'))};
const items = fs.existsSync(vault) ? JSON.parse(fs.readFileSync(vault, 'utf8')) : {};
const words = argv[0] === '-i' ? stdin.trim().split(/\\s+/) : argv;
const opt = (f) => words[words.indexOf(f) + 1];
const key = opt('-s') + '/' + opt('-a');
if (words[0] === 'add-generic-password') items[key] = Buffer.from(opt('-X'), 'hex').toString('utf8');
else if (words[0] === 'find-generic-password') { if (!(key in items)) process.exit(44); process.stdout.write(items[key] + '\\n'); }
else if (words[0] === 'delete-generic-password') delete items[key];
fs.writeFileSync(vault, JSON.stringify(items));
`,
    { mode: 0o755 },
  );
  return { command, log };
}

describe('KeyringSecretStore', () => {
  it('security (macOS): the secret goes hex-encoded on stdin through `security -i`, never in argv', async () => {
    const { command, log } = fakeSecurity(scratch());
    const store = new KeyringSecretStore({ backend: 'security', command });
    expect(await store.probe()).toBe(true);
    await store.set('work', SECRET);
    expect(await store.get('work')).toBe(SECRET);
    await store.delete('work');
    expect(await store.get('work')).toBeUndefined();
    const calls = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { argv: string[]; stdin: string });
    const add = calls.filter((c) => c.argv[0] === '-i').at(-1)!;
    expect(add.stdin).toMatch(/^add-generic-password -U -a work -s smtpkit -l smtpkit:work -X [0-9a-f]+\n$/);
    expect(add.stdin).toContain(Buffer.from(SECRET).toString('hex'));
    for (const c of calls) {
      expect(c.argv.join(' ')).not.toContain('rt-0001');
      expect(c.argv.join(' ')).not.toContain(Buffer.from(SECRET).toString('hex'));
    }
  });

  it('a missing program makes the probe fail (so --store auto falls back to the file)', async () => {
    expect(await new KeyringSecretStore({ backend: 'secret-tool', command: join(scratch(), 'no-such-secret-tool') }).probe()).toBe(false);
  });
});

describe('FileSecretStore', () => {
  it('writes 0600 files in a 0700 directory, atomically, leaving no temp file', async () => {
    const dir = join(scratch(), 'tokens');
    const store = new FileSecretStore(dir);
    await store.set('work', SECRET);
    await store.set('work', SECRET + ' ');
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'work.json')).mode & 0o777).toBe(0o600);
    expect(await store.get('work')).toBe(SECRET + ' ');
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(dir)).toEqual(['work.json']);
  });

  it.each([0o640, 0o604, 0o660, 0o644])('refuses a token file with mode %o', async (mode) => {
    const dir = join(scratch(), 'tokens');
    const store = new FileSecretStore(dir);
    await store.set('work', SECRET);
    chmodSync(join(dir, 'work.json'), mode);
    await expect(store.get('work')).rejects.toMatchObject({ kind: 'config', code: 'ERR_OAUTH_UNSAFE_FILE', message: expect.stringContaining(`mode 0${mode.toString(8)} lets other users read it`) });
  });

  it('does not follow a symlink planted in place of the token file', async () => {
    const dir = join(scratch(), 'tokens');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const { symlinkSync } = await import('node:fs');
    writeFileSync(join(dir, 'target'), SECRET, { mode: 0o600 });
    symlinkSync(join(dir, 'target'), join(dir, 'work.json'));
    await expect(new FileSecretStore(dir).get('work')).rejects.toMatchObject({ code: 'ERR_OAUTH_STORE' });
  });
});

describe('account names, refresh margin and the lock', () => {
  it.each(['../etc/passwd', '.hidden', 'a b', 'x;rm -rf', '', 'a/b'])('refuses the account name %j', (name) => {
    expect(() => checkAccountName(name)).toThrow(/invalid account name/);
  });

  it('refreshes 5 minutes early for an hour-long token, a fifth of the lifetime for a short one', () => {
    expect(refreshMargin({ obtainedAt: 0, expiresAt: 3_600_000 })).toBe(300_000);
    expect(refreshMargin({ obtainedAt: 0, expiresAt: 10_000 })).toBe(2000);
    expect(isFresh({ obtainedAt: 0, expiresAt: 10_000 }, 7999)).toBe(true);
    expect(isFresh({ obtainedAt: 0, expiresAt: 10_000 }, 8000)).toBe(false);
  });

  it('lets one holder in at a time and breaks a lock whose holder is gone', async () => {
    const path = join(scratch(), 'locks', 'work.lock');
    let inside = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 5 }, () =>
        withLock(path, async () => {
          inside++;
          most = Math.max(most, inside);
          await new Promise((resolve) => setTimeout(resolve, 20));
          inside--;
        }, { pollMs: 5 }),
      ),
    );
    expect(most).toBe(1);
    // A lock left by a process that no longer runs (PID 2^22 + 1 is above Linux's pid_max).
    writeFileSync(path, `${2 ** 22 + 1} ${Date.now()}\n`);
    await expect(withLock(path, async () => 'taken', { timeoutMs: 2000 })).resolves.toBe('taken');
    // A live holder past the timeout: a clear error, not a hang.
    writeFileSync(path, `${process.pid} ${Date.now()}\n`);
    await expect(withLock(path, async () => 'no', { timeoutMs: 200 })).rejects.toThrow(/another smtpkit process has held .*work\.lock/);
  });
});
