import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { startPostfix, type PostfixServer } from '@smtpkit/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, runCli, scratch } from './helpers.js';

// smtpkit send --dkim and smtpkit dkim keygen|record|verify, against a real Postfix, with dkimpy
// (Debian python3-dkim) as the independent verifier of what Postfix stored.

const PYTHON = '/usr/bin/python3';

/** dkimpy's verdict for every signature of a message, with the key records handed over (no DNS). */
function dkimpy(message: Buffer, records: Record<string, string>): boolean[] {
  const script = String.raw`
import dkim, json, os, sys
records = json.loads(os.environ['DKIM_RECORDS'])
def dnsfunc(name, timeout=5):
    return records[name.decode('ascii').rstrip('.')].encode('ascii')
msg = sys.stdin.buffer.read()
n = sum(1 for (k, v) in dkim.DKIM(msg).headers if k.lower() == b'dkim-signature')
print(json.dumps([bool(dkim.DKIM(msg).verify(idx=i, dnsfunc=dnsfunc)) for i in range(n)]))
`;
  const r = spawnSync(PYTHON, ['-c', script], { input: message, env: { ...process.env, DKIM_RECORDS: JSON.stringify(records) }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`dkimpy failed (is python3-dkim installed?): ${r.stderr}`);
  return JSON.parse(r.stdout) as boolean[];
}

/** The record a keygen wrote, as a verifier would read it from DNS. */
function recordOf(dir: string, selector: string): string {
  const text = readFileSync(join(dir, `${selector}.txt`), 'utf8');
  return (text.match(/"[^"]*"/g) ?? []).map((q) => q.slice(1, -1)).join('');
}

let postfix: PostfixServer;
let dir: string;
let records: Record<string, string>;

beforeAll(async () => {
  postfix = await startPostfix({ chunking: true });
  dir = scratch({ 'data.bin': Buffer.alloc(300_000, 0x5a), 'note.txt': 'attached\n' });
  for (const [type, selector] of [['rsa', 'r1'], ['ed25519', 'e1']]) {
    const r = await runCli(['dkim', 'keygen', '--type', type as string, '--domain', 'example.com', '--selector', selector as string, '--out', join(dir, 'keys')]);
    expect(r.code, r.stderr).toBe(0);
  }
  records = { 'r1._domainkey.example.com': recordOf(join(dir, 'keys'), 'r1'), 'e1._domainkey.example.com': recordOf(join(dir, 'keys'), 'e1') };
}, 60_000);
afterAll(async () => {
  await postfix?.stop();
});

const DUAL = (d: string): string[] => ['--dkim', `example.com:r1:${join(d, 'keys', 'r1.private')}`, '--dkim', `example.com:e1:${join(d, 'keys', 'e1.private')}`];

describe('smtpkit dkim keygen / record', () => {
  it('writes the private key 0600 and prints the record to publish', async () => {
    const keys = join(dir, 'keys');
    expect(statSync(join(keys, 'r1.private')).mode & 0o777).toBe(0o600);
    expect(statSync(join(keys, 'e1.private')).mode & 0o777).toBe(0o600);
    expect(records['e1._domainkey.example.com']).toMatch(/^v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=$/);
    const json = await runCli(['dkim', 'keygen', '--type', 'rsa', '--bits', '3072', '--domain', 'example.com', '--selector', 'big', '--out', keys, '--json']);
    expect(json.code, json.stderr).toBe(0);
    const j = JSON.parse(json.stdout);
    expect(j.name).toBe('big._domainkey.example.com');
    for (const s of j.strings) expect(s.length).toBeLessThanOrEqual(255);
  });

  it('record prints the same record from the private key file', async () => {
    const r = await runCli(['dkim', 'record', join(dir, 'keys', 'e1.private'), '--domain', 'example.com', '--selector', 'e1', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).value).toBe(records['e1._domainkey.example.com']);
  });

  it.each([
    ['an unknown type', ['--type', 'dsa'], 64],
    ['a too small RSA key', ['--type', 'rsa', '--bits', '512'], 65],
    ['a missing --selector', ['--type', 'rsa', '--domain', 'example.com'], 64],
  ])('refuses %s', async (_name, args, code) => {
    const full = [...args, ...(args.includes('--domain') ? [] : ['--domain', 'example.com']), ...(args.includes('--type') && !args.includes('--domain') ? ['--selector', 'x'] : []), '--out', join(dir, 'keys2')];
    const r = await runCli(['dkim', 'keygen', ...full]);
    expect(r.code, r.stderr).toBe(code);
  });

  it('never overwrites an existing key', async () => {
    const r = await runCli(['dkim', 'keygen', '--type', 'ed25519', '--domain', 'example.com', '--selector', 'e1', '--out', join(dir, 'keys')]);
    expect(r.code).toBe(64);
    expect(r.stderr).toContain('exists');
  });
});

describe('smtpkit send --dkim through Postfix', () => {
  it('a built message with an attachment, signed RSA + Ed25519, verifies as Postfix stored it (dkimpy and dkim verify)', async () => {
    const before = (await postfix.messages()).length;
    const r = await runCli([
      'send', '-p', String(postfix.port), '-f', 'Alice <alice@example.com>', '-t', 'bob@example.com', '--subject', 'Grüße signed',
      '--body', 'Hello\n.\n..dots\nGrüße', '-a', join(dir, 'data.bin'), '-v', ...DUAL(dir),
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/C: BDAT \d+ LAST/);
    const messages = await postfix.waitForMessages(before + 1, 15_000);
    const raw = (messages[before] as { raw: Buffer }).raw;
    expect(dkimpy(raw, records)).toEqual([true, true]);
    const file = join(dir, 'stored.eml');
    writeFileSync(file, raw);
    const v = await runCli(['dkim', 'verify', file, '--key', `example.com:r1:${join(dir, 'keys', 'r1.txt')}`, '--key', `example.com:e1:${join(dir, 'keys', 'e1.private')}`, '--json']);
    expect(v.code, v.stderr).toBe(0);
    expect(JSON.parse(v.stdout).results.map((x: { status: string }) => x.status)).toEqual(['pass', 'pass']);
  });

  it('--dry-run prints the signed message; dkim verify fails it once edited (exit 65)', async () => {
    const r = await runCli(['send', '-f', 'alice@example.com', '-t', 'bob@example.com', '--subject', 'dry', '--body', 'x', '--dry-run', ...DUAL(dir)]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/relaxed; d=example.com; s=r1;/);
    expect(r.stdout).toMatch(/\r\nDKIM-Signature: v=1; a=ed25519-sha256;/);
    expect(dkimpy(Buffer.from(r.stdout), records)).toEqual([true, true]);
    const file = join(dir, 'edited.eml');
    writeFileSync(file, r.stdout.replace('Subject: dry', 'Subject: wet'));
    const v = await runCli(['dkim', 'verify', file, '--key', `example.com:r1:${join(dir, 'keys', 'r1.txt')}`]);
    expect(v.code).toBe(65);
    expect(v.stdout).toContain('dkim=fail d=example.com s=r1');
  });

  it('--eml - (stdin, 3 MiB: spooled to a file) is signed, sent, and the spool file is gone', async () => {
    const tmp = scratch({});
    const body = `${'x'.repeat(76)}\r\n`.repeat(40_000);
    const eml = Buffer.from(`From: alice@example.com\r\nTo: bob@example.com\r\nSubject: spooled\r\n\r\n${body}`);
    const before = (await postfix.messages()).length;
    const r = await runCli(['send', '-p', String(postfix.port), '-f', 'alice@example.com', '--eml', '-', '--read-recipients', ...DUAL(dir)], { input: eml, env: { TMPDIR: tmp } });
    expect(r.code, r.stderr).toBe(0);
    const messages = await postfix.waitForMessages(before + 1, 15_000);
    expect(dkimpy((messages[before] as { raw: Buffer }).raw, records)).toEqual([true, true]);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('the spool file is removed after an error (nothing listening) too', async () => {
    const tmp = scratch({});
    const eml = Buffer.from(`From: alice@example.com\r\nTo: bob@example.com\r\nSubject: err\r\n\r\n${`${'y'.repeat(70)}\r\n`.repeat(30_000)}`);
    const closed = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const port = (s.address() as { port: number }).port;
        s.close(() => resolve(port));
      });
    });
    const r = await runCli(['send', '-p', String(closed), '-f', 'alice@example.com', '--eml', '-', '--read-recipients', ...DUAL(dir)], { input: eml, env: { TMPDIR: tmp } });
    expect(r.code).toBe(75);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('the spool file is 0600 while it exists and removed when the send is interrupted (SIGTERM)', async () => {
    const tmp = scratch({});
    // A server that greets and then never answers: the CLI waits in EHLO, the spool file in place.
    const stalled: Server = createServer((socket) => socket.write('220 stalled ESMTP\r\n'));
    await new Promise<void>((resolve) => stalled.listen(0, '127.0.0.1', resolve));
    const port = (stalled.address() as { port: number }).port;
    const child = spawn(process.execPath, [CLI, 'send', '-p', String(port), '-f', 'alice@example.com', '--eml', '-', '--read-recipients', ...DUAL(dir)], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: tmp, SMTPKIT_CONFIG: '/nonexistent/smtpkit.json' },
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    try {
      child.stdin.on('error', () => undefined); // the CLI may be gone before stdin is drained
      child.stdin.end(Buffer.from(`From: alice@example.com\r\nTo: bob@example.com\r\nSubject: abort\r\n\r\n${`${'a'.repeat(78)}\r\n`.repeat(40_000)}`));
      let spooled: string | undefined;
      for (let i = 0; i < 200 && !spooled; i++) {
        await new Promise((r) => setTimeout(r, 50));
        const d = readdirSync(tmp)[0];
        if (d && existsSync(join(tmp, d, 'message.eml'))) spooled = join(tmp, d, 'message.eml');
      }
      expect(spooled, 'the spool file never appeared').toBeDefined();
      expect(statSync(spooled as string).mode & 0o777).toBe(0o600);
      expect(statSync(join(spooled as string, '..')).mode & 0o777).toBe(0o700);
      child.kill('SIGTERM');
      const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_c, s) => resolve(s)));
      expect(signal).toBe('SIGTERM');
      expect(readdirSync(tmp)).toEqual([]);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await new Promise<void>((resolve) => stalled.close(() => resolve()));
    }
  });

  it.each([
    ['a malformed --dkim', ['--dkim', 'example.com:r1'], 64],
    ['a missing key file', ['--dkim', 'example.com:r1:/nonexistent/key.pem'], 66],
    ['a bad selector', ['--dkim', 'example.com:bad_sel!:KEY'], 65],
  ])('refuses %s before connecting', async (_name, args, code) => {
    const fixed = args.map((a) => a.replace('KEY', join(dir, 'keys', 'r1.private')));
    const r = await runCli(['send', '-p', String(postfix.port), '-f', 'alice@example.com', '-t', 'bob@example.com', '--body', 'x', ...fixed]);
    expect(r.code, r.stderr).toBe(code);
  });

  it('an 8-bit .eml body is refused (a relay would break the signature): exit 65, nothing sent', async () => {
    const before = (await postfix.messages()).length;
    const eml = Buffer.from('From: alice@example.com\r\nTo: bob@example.com\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGrüße\r\n');
    const r = await runCli(['send', '-p', String(postfix.port), '-f', 'alice@example.com', '--eml', '-', '--read-recipients', ...DUAL(dir)], { input: eml });
    expect(r.code).toBe(65);
    expect(r.stderr).toMatch(/8bit|8-bit/);
    await new Promise((r2) => setTimeout(r2, 500));
    expect((await postfix.messages()).length).toBe(before);
  });
});
