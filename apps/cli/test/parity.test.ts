import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  dovecotClientCertificateConf, generateCertificates, generateClientCertificate, startDante, startDovecot, startPostfix, startSmtpSink,
  type ClientCertificate, type DovecotServer, type SmtpSink, type TestCertificates, type TestProxy,
} from '@smtpkit/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, scratch, startServer, type TestServer } from './helpers.js';

// The send flags for SCRAM, client certificates and EXTERNAL (a private Dovecot), proxies (Dante), --rate
// across runs, DSN, -4, list and calendar mail (smtp-server recording what arrives).

const PROXY_USER = { user: 'smtpkit-proxy', pass: 'pr0xy-pass' };
const INVITE = 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//smtpkit//cli test//EN\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:cli-1@example.com\r\nDTSTAMP:20261201T090000Z\r\nDTSTART:20261207T100000Z\r\nSUMMARY:Review\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n';

let certs: TestCertificates;
let alice: ClientCertificate;
let sink: SmtpSink;
let dovecot: DovecotServer;
let dante: TestProxy;
let server: TestServer;
let files: string;
let stateDir: string;

beforeAll(async () => {
  certs = await generateCertificates();
  alice = await generateClientCertificate(certs, { commonName: 'alice@example.com' });
  files = scratch({
    'ca.crt': certs.caCert, 'alice.crt': alice.cert, 'alice.key': alice.key, 'alice.enc.key': alice.encryptedKey, 'invite.ics': INVITE,
  });
  stateDir = mkdtempSync(join(tmpdir(), 'smtpkit-cli-state-'));
  sink = await startSmtpSink();
  [dovecot, dante, server] = await Promise.all([
    startDovecot({
      submission: { relayPort: sink.port },
      certs,
      mechanisms: ['plain', 'scram-sha-1', 'scram-sha-256', 'external'],
      extraConf: dovecotClientCertificateConf(join(files, 'ca.crt')),
    }),
    startDante({ auth: PROXY_USER }),
    startServer(),
  ]);
});

afterAll(async () => {
  await Promise.all([dovecot?.stop(), dante?.stop(), server?.close(), sink?.stop()]);
  if (files) rmSync(files, { recursive: true, force: true });
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

const base = () => ['send', '-s', '127.0.0.1', '-f', 'alice@example.com', '-t', 'bob@example.com', '--subject', 'parity', '--body', 'hello'];
const dovecotArgs = () => [...base(), '-p', String(dovecot.submissionPort), '--tls', 'starttls', '--ca', join(files, 'ca.crt'), '--helo', 'client.example'];
const local = () => [...base(), '-p', String(server.port), '--tls', 'none'];

describe('AUTH and client certificates against Dovecot', () => {
  it.each(['scram-sha-256', 'scram-sha-1'])('--auth %s', async (mech) => {
    const r = await runCli([...dovecotArgs(), '--user', 'alice@example.com', '--auth', mech, '-v'], { env: { SMTPKIT_PASSWORD: 'alice-password' } });
    expect(r.stderr).toContain(`* authenticated as alice@example.com with ${mech.toUpperCase()}`);
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain('alice-password');
  });

  it('--cert --key --auth external: the certificate is the credential, no --user, no password', async () => {
    const r = await runCli([...dovecotArgs(), '--cert', join(files, 'alice.crt'), '--key', join(files, 'alice.key'), '--auth', 'external', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, accepted: ['bob@example.com'] });
    expect(await dovecot.log()).toMatch(/user=<alice@example\.com>, method=EXTERNAL/);
  });

  it('an encrypted key: the passphrase from SMTPKIT_KEY_PASSPHRASE or --key-passphrase-command, never printed', async () => {
    const args = [...dovecotArgs(), '--cert', join(files, 'alice.crt'), '--key', join(files, 'alice.enc.key'), '--auth', 'external', '-v'];
    const fromEnv = await runCli(args, { env: { SMTPKIT_KEY_PASSPHRASE: alice.passphrase } });
    expect(fromEnv.code).toBe(0);
    const fromCommand = await runCli([...args, '--key-passphrase-command', `printf %s '${alice.passphrase}'`]);
    expect(fromCommand.code).toBe(0);
    for (const r of [fromEnv, fromCommand]) expect(r.stderr + r.stdout).not.toContain(alice.passphrase);
    const wrong = await runCli(args, { env: { SMTPKIT_KEY_PASSPHRASE: 'wrong' } });
    expect(wrong.code).toBe(65);
    expect(wrong.stderr).toMatch(/could not be decrypted with the given passphrase/);
  });
});

describe('--proxy through Dante', () => {
  it('socks5h:// with credentials: sent, the password never printed', async () => {
    const before = server.messages.length;
    const url = `socks5h://${PROXY_USER.user}:${PROXY_USER.pass}@127.0.0.1:${dante.port}`;
    const r = await runCli([...local(), '--proxy', url, '-v']);
    expect(r.code).toBe(0);
    expect(server.messages.length).toBe(before + 1);
    expect(r.stderr).toContain(`through the proxy socks5h://127.0.0.1:${dante.port} (with credentials)`);
    expect(r.stderr).not.toContain(PROXY_USER.pass);
  });

  it('--proxy env reads ALL_PROXY; unset, it is a usage error', async () => {
    const url = `socks5://${PROXY_USER.user}:${PROXY_USER.pass}@127.0.0.1:${dante.port}`;
    expect((await runCli([...local(), '--proxy', 'env'], { env: { ALL_PROXY: url } })).code).toBe(0);
    const unset = await runCli([...local(), '--proxy', 'env']);
    expect(unset.code).toBe(64);
    expect(unset.stderr).toMatch(/ALL_PROXY is not set/);
  });

  it('a refused proxy login is reported as such', async () => {
    const r = await runCli([...local(), '--proxy', `socks5://${PROXY_USER.user}:nope@127.0.0.1:${dante.port}`]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/user name or password refused/);
  });
});

describe('envelope and message flags against smtp-server', () => {
  it('--dsn-notify, --dsn-ret, --envid reach MAIL FROM and RCPT TO at Postfix, which offers DSN (RFC 3461)', async () => {
    const postfix = await startPostfix();
    try {
      const args = [...base(), '-p', String(postfix.port), '--tls', 'none'];
      const r = await runCli([...args, '--dsn-notify', 'success,failure', '--dsn-ret', 'hdrs', '--envid', 'QQ314159', '-v']);
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/C: MAIL FROM:<alice@example\.com> .*RET=HDRS ENVID=QQ314159/);
      expect(r.stderr).toMatch(/C: RCPT TO:<bob@example\.com> NOTIFY=SUCCESS,FAILURE/);
      expect((await runCli([...args, '--dsn-notify', 'never', '-v'])).stderr).toMatch(/C: RCPT TO:<bob@example\.com> NOTIFY=NEVER/);
      await postfix.waitForMessages(2);
    } finally {
      await postfix.stop();
    }
  });

  it('without DSN on offer the parameters are left out, and said so', async () => {
    const r = await runCli([...local(), '--dsn-notify', 'success', '-v']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('* DSN parameters left out: the server does not offer DSN (RFC 3461)');
  });

  it('-4 connects over IPv4 to a name; -4 with -6 is a usage error', async () => {
    const r = await runCli([...local().map((a) => (a === '127.0.0.1' ? 'localhost' : a)), '-4', '-v']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`* connected to 127.0.0.1:${server.port}`);
    expect((await runCli([...local(), '-4', '-6'])).code).toBe(64);
  });

  it('--list-id, --list-unsubscribe (one-click for https) and --ics end up in the message', async () => {
    const before = server.messages.length;
    const r = await runCli([
      ...local(), '--list-id', 'Weekly news <news.example.com>', '--list-unsubscribe', 'https://example.com/u/42',
      '--list-unsubscribe', 'unsubscribe@example.com', '--ics', join(files, 'invite.ics'),
    ]);
    expect(r.code).toBe(0);
    const raw = server.messages[before]?.raw ?? '';
    expect(raw).toContain('\r\nList-Id: Weekly news <news.example.com>\r\n');
    expect(raw).toContain('\r\nList-Unsubscribe: <https://example.com/u/42>, <mailto:unsubscribe@example.com>\r\n');
    expect(raw).toContain('\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n');
    expect(raw).toMatch(/Content-Type: text\/calendar; charset=utf-8; method=REQUEST\r\n/);
    expect(raw).toMatch(/Content-Type: application\/ics; name=invite\.ics\r\n/);
  });

  it('--rate 2/s across runs: of three started together, one waits for a slot to leave the one-second window', async () => {
    const env = { SMTPKIT_STATE_DIR: stateDir };
    const before = server.messages.length;
    const started = Date.now();
    const runs = await Promise.all([0, 1, 2].map(() => runCli([...local(), '--rate', '2/s'], { env })));
    const elapsed = Date.now() - started;
    expect(runs.map((r) => r.code)).toEqual([0, 0, 0]);
    expect(server.messages.length).toBe(before + 3);
    expect(elapsed).toBeGreaterThanOrEqual(1000);
    expect(runs.filter((r) => /--rate 2\/s: waiting \d+ ms/.test(r.stdout))).toHaveLength(1);
  });

  it.each([
    [['--cert', 'x.crt'], /--cert and --key go together/],
    [['--auth', 'external'], /--auth external needs --cert and --key/],
    [['--rate', '5/x'], /invalid --rate/],
    [['--dsn-notify', 'sometimes'], /invalid --dsn-notify/],
    [['--dsn-ret', 'body'], /invalid --dsn-ret/],
  ])('%j is a usage error', async (extra, message) => {
    const r = await runCli([...local(), ...extra]);
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(message);
  });

  it('--ics with --eml is a usage error (the file is sent as-is)', async () => {
    writeFileSync(join(files, 'm.eml'), 'From: a@example.com\r\nTo: b@example.com\r\n\r\nx\r\n');
    const r = await runCli(['send', '-p', String(server.port), '--tls', 'none', '-f', 'a@example.com', '-t', 'b@example.com', '--eml', join(files, 'm.eml'), '--ics', join(files, 'invite.ics')]);
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/cannot be combined with --ics/);
  });
});

describe('smtpkit send --help', () => {
  it('lists every flag of this set', async () => {
    const r = await runCli(['send', '--help']);
    for (const flag of ['--auth <mech>', 'scram-sha-256 | scram-sha-1 | external', '--cert <file>', '--key <file>', '--key-passphrase-command', '--proxy <url>', '--rate <n/unit>', '--dsn-notify', '--dsn-ret', '--envid', '-4, --ipv4', '-6, --ipv6', '--list-unsubscribe', '--list-id', '--ics <file>']) {
      expect(r.stdout.replace(/\s+/g, ' ')).toContain(flag);
    }
  });
});
