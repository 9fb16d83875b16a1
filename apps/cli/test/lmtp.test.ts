import { startDovecot, type DovecotServer } from '@smtpkit/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientTlsMode, connectOptions } from '../src/connection.js';
import { UsageError } from '../src/exit-codes.js';
import type { SendFlags } from '../src/program.js';
import { resolveConnection, resolveSend } from '../src/send-options.js';
import { runCli } from './helpers.js';

// `smtpkit send --lmtp` and `--socket` end to end against a private Dovecot LMTP (Maildirs in a temp dir):
// `bob` has no quota, `carol` 1K (refused after the data, RFC 2033 §4.2), `nobody` is unknown (refused at RCPT).

const BOB = 'bob@example.net';
const CAROL = 'carol@example.net';
const NOBODY = 'nobody@example.net';
const ENV = { SMTPKIT_CONFIG: '/nonexistent/config.json', HOME: '/nonexistent' };
const base: SendFlags = { from: 'a@example.org', to: [BOB] };
const NO_CONFIG_FILE = { HOME: '/nonexistent' };
const resolve = (flags: Partial<SendFlags>) => resolveSend({ ...base, ...flags } as SendFlags, NO_CONFIG_FILE);

describe('--lmtp and --socket: flags', () => {
  it('--socket connects by path with TLS off unless asked; --lmtp sets the protocol', () => {
    const c = resolve({ lmtp: true, socket: '/run/dovecot/lmtp' });
    expect(c).toMatchObject({ socket: '/run/dovecot/lmtp', protocol: 'lmtp', port: 0 });
    const o = connectOptions(c, {});
    expect(o).toMatchObject({ path: '/run/dovecot/lmtp', protocol: 'lmtp', tls: 'none' });
    expect(o.host).toBeUndefined();
    expect(o.port).toBeUndefined();
    expect(clientTlsMode({ tls: 'auto', port: 0, requireTls: true, socket: '/s' })).toBe('starttls');
    expect(clientTlsMode({ tls: 'implicit', port: 0, requireTls: false, socket: '/s' })).toBe('implicit');
    expect(connectOptions(resolve({ lmtp: true, port: '2424' }), {})).toMatchObject({ host: '127.0.0.1', port: 2424, protocol: 'lmtp' });
    expect(connectOptions(resolve({}), {}).protocol).toBeUndefined();
    expect(resolveConnection({ socket: '/s', lmtp: true }, NO_CONFIG_FILE).protocol).toBe('lmtp');
  });

  it.each<[string, Partial<SendFlags>, RegExp]>([
    ['--socket with --server', { socket: '/s', server: 'h' }, /--socket is the whole address: drop --server/],
    ['--socket with --port', { socket: '/s', port: '24' }, /drop --port/],
    ['--socket with --profile', { socket: '/s', profile: 'gmail' }, /drop --profile/],
    ['an empty --socket', { socket: '' }, /--socket needs a path/],
    ['--lmtp without --port or --socket', { lmtp: true }, /--lmtp needs --port or --socket/],
    ['--lmtp to port 25', { lmtp: true, port: '25' }, /cannot go to port 25/],
    ['--lmtp with --mx', { lmtp: true, mx: true }, /--mx relays by SMTP/],
    ['--socket with --mx', { socket: '/s', mx: true }, /--mx picks the server from DNS: drop --socket/],
    ['--lmtp with --helo-only', { lmtp: true, port: '24', heloOnly: true }, /LMTP has LHLO and no HELO/],
  ])('%s is a usage error', (_name, flags, message) => {
    expect(() => resolve(flags)).toThrow(UsageError);
    expect(() => resolve(flags)).toThrow(message);
  });

  it('send --help and probe --help list --lmtp and --socket', async () => {
    for (const command of ['send', 'probe']) {
      const r = await runCli([command, '--help']);
      expect(r.code).toBe(0);
      const text = r.stdout.replace(/\s+/g, ' ');
      expect(text).toContain('--lmtp');
      expect(text).toContain('--socket <path>');
    }
  });

  it('a usage error exits 64 before connecting', async () => {
    const r = await runCli(['send', '--lmtp', '-f', 'a@example.org', '-t', BOB, '--subject', 's', '--body', 'b']);
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/--lmtp needs --port or --socket/);
  });
});

describe('smtpkit send --lmtp against Dovecot', () => {
  let dovecot: DovecotServer;
  beforeAll(async () => {
    dovecot = await startDovecot({ lmtp: true, users: [{ user: BOB, password: 'b' }, { user: CAROL, password: 'c', quota: '1K' }] });
  }, 60_000);
  afterAll(async () => {
    await dovecot?.stop();
  });

  const subjectIn = async (user: string, subject: string) =>
    (await dovecot.messages(user)).filter((m) => m.raw.toString('latin1').includes(`Subject: ${subject}`));

  it('--socket: one recipient, --json, -v shows LHLO', async () => {
    const r = await runCli(['send', '--lmtp', '--socket', dovecot.lmtpSocket!, '-f', 'a@example.org', '-t', BOB, '--subject', 'cli lmtp socket', '--body', 'hello', '--json', '-v'], { env: ENV });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { ok: boolean; accepted: string[]; rejected: unknown[]; reply: { code: number } };
    expect(out).toMatchObject({ ok: true, accepted: [BOB], rejected: [], reply: { code: 250 } });
    expect(r.stderr).toMatch(/^C: LHLO /m);
    expect(r.stderr).not.toMatch(/^C: (EHLO|HELO) /m);
    expect(r.stderr).toContain(`connected to unix:${dovecot.lmtpSocket}`);
    expect(await subjectIn(BOB, 'cli lmtp socket')).toHaveLength(1);
  });

  it('--port over TCP: one recipient', async () => {
    const r = await runCli(['send', '--lmtp', '-p', String(dovecot.lmtpPort), '-f', 'a@example.org', '-t', BOB, '--subject', 'cli lmtp tcp', '--body', 'hello'], { env: ENV });
    expect(r.code, r.stderr).toBe(0);
    expect(await subjectIn(BOB, 'cli lmtp tcp')).toHaveLength(1);
  });

  it('probe --lmtp --socket prints what the LMTP server offers', async () => {
    const r = await runCli(['probe', '--lmtp', '--socket', dovecot.lmtpSocket!, '--json'], { env: ENV });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { server: string; port: number | null; protocol: string; before: { keywords: string[] } };
    expect(out).toMatchObject({ server: `unix:${dovecot.lmtpSocket}`, port: null, protocol: 'lmtp' });
    expect(out.before.keywords).toEqual(expect.arrayContaining(['PIPELINING', 'CHUNKING']));
  });

  it('a missing socket is a connection failure (75) naming the socket', async () => {
    const r = await runCli(['send', '--lmtp', '--socket', `${dovecot.dir}/no-such-socket`, '-f', 'a@example.org', '-t', BOB, '--subject', 's', '--body', 'b'], { env: ENV });
    expect(r.code).toBe(75);
    expect(r.stderr).toContain(`unix:${dovecot.dir}/no-such-socket`);
  });

  // Needs the send path that reads one reply per accepted recipient after the data (RFC 2033 §4.2).
  it('--socket, three recipients: --json has bob accepted, nobody refused at RCPT, carol over quota after the data (exit 67)', async () => {
    const body = `${'x'.repeat(70)}\n`.repeat(40);
    const r = await runCli(
      ['send', '--lmtp', '--socket', dovecot.lmtpSocket!, '-f', 'a@example.org', '-t', BOB, '-t', NOBODY, '-t', CAROL, '--subject', 'cli lmtp three', '--body', body, '--json'],
      { env: ENV },
    );
    expect(r.code, r.stderr).toBe(67);
    const out = JSON.parse(r.stdout) as { ok: boolean; accepted: string[]; rejected: Array<{ address: string; code: number; enhanced: string | null; text: string }> };
    expect(out.ok).toBe(false);
    expect(out.accepted).toEqual([BOB]);
    expect(out.rejected.map((x) => [x.address, x.code])).toEqual([
      [NOBODY, 550],
      [CAROL, 452],
    ]);
    expect(out.rejected[1]?.enhanced).toBe('4.2.2');
    expect(await subjectIn(BOB, 'cli lmtp three')).toHaveLength(1);
    expect(await dovecot.messages(CAROL)).toEqual([]);
  });
});
