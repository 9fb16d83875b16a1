import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { join } from 'node:path';
import { generateCertificates, type TestCertificates } from '@smtpkit/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captured, CLI, PASSWORD, runCli, scratch, startServer, TOKEN, type TestServer } from './helpers.js';

let certs: TestCertificates;
let starttls: TestServer;
let implicit: TestServer;
let plain: TestServer;
let dir: string;
let ca: string;
let selfSignedCa: string;

const AUTH_METHODS = ['PLAIN', 'LOGIN', 'XOAUTH2', 'CRAM-MD5'];

beforeAll(async () => {
  certs = await generateCertificates();
  starttls = await startServer({ key: certs.key, cert: certs.cert, authMethods: AUTH_METHODS });
  implicit = await startServer({ secure: true, key: certs.key, cert: certs.cert, authMethods: AUTH_METHODS });
  plain = await startServer({ authMethods: AUTH_METHODS, allowInsecureAuth: true });
  dir = scratch({ 'ca.pem': certs.caCert, 'other-ca.pem': certs.selfSigned.cert });
  ca = join(dir, 'ca.pem');
  selfSignedCa = join(dir, 'other-ca.pem');
});
afterAll(async () => {
  await Promise.all([starttls.close(), implicit.close(), plain.close()]);
  const all = captured.join('\n');
  for (const c of captured) if (c.includes(PASSWORD)) console.log('LEAK', JSON.stringify(c.slice(Math.max(0, c.indexOf(PASSWORD) - 300), c.indexOf(PASSWORD) + 40)));
  expect(all).not.toContain(PASSWORD);
  expect(all).not.toContain(TOKEN);
  expect(all).not.toContain(Buffer.from(`\0alice@example.com\0${PASSWORD}`).toString('base64'));
  expect(all).not.toContain(Buffer.from(PASSWORD).toString('base64'));
});

const msg = ['-f', 'alice@example.com', '-t', 'bob@example.com', '--subject', 'tls', '--body', 'secret stuff'];
const on = (s: TestServer) => ['-p', String(s.port)];
const withPassword = { SMTPKIT_PASSWORD: PASSWORD };

describe('TLS', () => {
  it('--tls starttls with --ca: TLS up, verified by the CA (--json tls)', async () => {
    const r = await runCli(['send', ...on(starttls), '--tls', 'starttls', '--ca', ca, '--json', ...msg]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.ok).toBe(true);
    expect(j.tls).toMatchObject({ verified: 'ca', authorized: true });
    expect(j.tls.protocol).toMatch(/^TLSv1\.[23]$/);
    expect(starttls.messages.at(-1)?.raw).toContain('secret stuff');
  });

  it('--tls auto uses STARTTLS when offered', async () => {
    const r = await runCli(['send', ...on(starttls), '--ca', ca, '-v', ...msg]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('C: STARTTLS');
    expect(r.stderr.match(/C: EHLO/g)).toHaveLength(2);
  });

  it('--tls implicit on a TLS-from-the-first-byte port', async () => {
    const r = await runCli(['send', ...on(implicit), '--tls', 'implicit', '--ca', ca, '--json', ...msg]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).tls.verified).toBe('ca');
  });

  it('78: certificate not trusted (no --ca, or the wrong CA), with a hint', async () => {
    const r = await runCli(['send', ...on(starttls), '--tls', 'starttls', ...msg]);
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/certif/i);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect((await runCli(['send', ...on(implicit), '--tls', 'implicit', '--ca', selfSignedCa, ...msg])).code).toBe(78);
  });

  it('--pin trusts the pinned certificate without a CA; a wrong pin is 78', async () => {
    const ok = await runCli(['send', ...on(starttls), '--tls', 'starttls', '--pin', certs.fingerprint256, '--json', ...msg]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).tls.verified).toBe('pin');
    const bad = await runCli(['send', ...on(starttls), '--tls', 'starttls', '--pin', 'AB'.repeat(32), ...msg]);
    expect(bad.code).toBe(78);
  });

  it('--insecure sends without verification and warns loudly', async () => {
    const r = await runCli(['send', ...on(starttls), '--tls', 'starttls', '--insecure', '--json', ...msg]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/WARNING: --insecure/);
    expect(JSON.parse(r.stdout).tls.verified).toBe('none');
  });

  it('78: --require-tls against a server without STARTTLS; nothing sent', async () => {
    const before = plain.messages.length;
    const r = await runCli(['send', ...on(plain), '--require-tls', ...msg]);
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/STARTTLS|TLS/);
    expect(plain.messages.length).toBe(before);
  });

  it('78: a TLS/port mismatch (implicit TLS against a STARTTLS port) comes with a hint', async () => {
    const r = await runCli(['send', ...on(starttls), '--tls', 'implicit', '--timeout', '2', '--ca', ca, ...msg]);
    expect([75, 76, 78]).toContain(r.code);
    expect(r.stderr).toMatch(/^smtpkit: /);
  });
});

describe('AUTH', () => {
  it.each([
    ['auto', 'CRAM-MD5'], // the client picks the strongest mechanism offered
    ['plain', 'PLAIN'],
    ['login', 'LOGIN'],
    ['cram-md5', 'CRAM-MD5'],
  ])('--auth %s with SMTPKIT_PASSWORD authenticates with %s', async (flag, method) => {
    const r = await runCli(['send', ...on(starttls), '--ca', ca, '--user', 'alice@example.com', '--auth', flag, '-v', ...msg], { env: withPassword });
    expect(r.code).toBe(0);
    expect(starttls.auths.at(-1)).toEqual({ method, username: 'alice@example.com' });
    expect(r.stderr).toMatch(new RegExp(`C: AUTH ${method}`));
  });

  it('--password-command supplies the password', async () => {
    const r = await runCli(['send', ...on(starttls), '--ca', ca, '--user', 'alice@example.com', '--password-command', `printf '%s\\n' '${PASSWORD}'`, ...msg]);
    expect(r.code).toBe(0);
  });

  it('--auth xoauth2 with SMTPKIT_OAUTH_TOKEN, and with --token-command', async () => {
    let r = await runCli(['send', ...on(starttls), '--ca', ca, '--user', 'alice@example.com', '--auth', 'xoauth2', '-v', ...msg], { env: { SMTPKIT_OAUTH_TOKEN: TOKEN } });
    expect(r.code).toBe(0);
    expect(starttls.auths.at(-1)).toEqual({ method: 'XOAUTH2', username: 'alice@example.com' });
    r = await runCli(['send', ...on(starttls), '--ca', ca, '--user', 'alice@example.com', '--auth', 'xoauth2', '--token-command', `echo ${TOKEN}`, ...msg]);
    expect(r.code).toBe(0);
  });

  it('--auth xoauth2 without a token source is a usage error', async () => {
    const r = await runCli(['send', ...on(starttls), '--ca', ca, '--user', 'alice@example.com', '--auth', 'xoauth2', ...msg]);
    expect(r.code).toBe(64);
  });

  it('77: wrong password, wrong token; the error names AUTH and the reply', async () => {
    const r = await runCli(['send', ...on(starttls), '--ca', ca, '--user', 'alice@example.com', ...msg], { env: { SMTPKIT_PASSWORD: 'wrong-' + PASSWORD } });
    expect(r.code).toBe(77);
    expect(r.stderr).toMatch(/AUTH .*535/);
    const t = await runCli(['send', ...on(starttls), '--ca', ca, '--user', 'alice@example.com', '--auth', 'xoauth2', '--json', ...msg], { env: { SMTPKIT_OAUTH_TOKEN: 'bad-' + TOKEN } });
    expect(t.code).toBe(77);
    expect(JSON.parse(t.stdout)).toMatchObject({ ok: false, exitCode: 77, error: { kind: 'auth' } });
  });

  it('78: AUTH would send the password without TLS; nothing sent', async () => {
    const before = plain.messages.length;
    const r = await runCli(['send', ...on(plain), '--user', 'alice@example.com', ...msg], { env: withPassword });
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/without TLS/);
    expect(plain.auths).toHaveLength(0);
    expect(plain.messages.length).toBe(before);
  });

  it('-v and --transcript redact AUTH', async () => {
    const file = join(dir, 'auth.jsonl');
    const r = await runCli(['send', ...on(starttls), '--ca', ca, '--user', 'alice@example.com', '--auth', 'login', '-v', '--transcript', file, ...msg], { env: withPassword });
    expect(r.code).toBe(0);
    const t = readFileSync(file, 'utf8');
    captured.push(t);
    expect(t).toContain('AUTH LOGIN');
    expect(r.stderr).toContain('C: AUTH LOGIN');
    expect(r.stderr).not.toContain(Buffer.from('alice@example.com').toString('base64') + 'X'); // the user may show; the password never
  });

  it('prompts for the password on a TTY, without echo', async () => {
    const cmd = [process.execPath, CLI, 'send', ...on(starttls), '--ca', ca, '--user', 'alice@example.com', ...msg]
      .map((a) => `'${a.replace(/'/g, `'\\''`)}'`)
      .join(' ');
    const child = spawn('script', ['-qec', cmd, '/dev/null'], { env: { PATH: process.env.PATH, SMTPKIT_CONFIG: '/nonexistent' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let typed = false;
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (!typed && out.includes('Password for alice@example.com:')) {
        typed = true;
        child.stdin.write(`${PASSWORD}\r`);
      }
    });
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.on('close', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    captured.push(out);
    expect(out).toContain('Password for alice@example.com:');
    expect(code).toBe(0);
    expect(starttls.auths.at(-1)?.username).toBe('alice@example.com');
  });
});

describe('OAUTHBEARER (RFC 7628)', () => {
  /** smtp-server does not speak OAUTHBEARER: a minimal implicit-TLS server that does, and checks the token. */
  function oauthbearerServer(): Promise<{ port: number; seen: string[]; close(): Promise<void> }> {
    const seen: string[] = [];
    const server = createTlsServer({ key: certs.key, cert: certs.cert }, (socket) => {
      socket.on('error', () => {});
      socket.write('220 oauth.test ESMTP\r\n');
      let buffer = '';
      let inData = false;
      socket.on('data', (chunk: Buffer) => {
        buffer += chunk.toString('latin1');
        for (;;) {
          if (inData) {
            const end = buffer.indexOf('\r\n.\r\n');
            if (end < 0) return;
            buffer = buffer.slice(end + 5);
            inData = false;
            socket.write('250 2.0.0 queued\r\n');
            continue;
          }
          const eol = buffer.indexOf('\r\n');
          if (eol < 0) return;
          const line = buffer.slice(0, eol);
          buffer = buffer.slice(eol + 2);
          const [verb, , payload] = line.split(' ');
          if (verb === 'EHLO') socket.write('250-oauth.test\r\n250-PIPELINING\r\n250 AUTH OAUTHBEARER\r\n');
          else if (verb === 'AUTH') {
            const decoded = Buffer.from(payload ?? '', 'base64').toString();
            seen.push(decoded.replace(TOKEN, '<token>'));
            if (decoded.startsWith('n,a=alice@example.com,') && decoded.includes(`\x01auth=Bearer ${TOKEN}\x01\x01`)) socket.write('235 2.7.0 ok\r\n');
            else socket.write('535 5.7.8 bad token\r\n');
          } else if (verb === 'DATA') {
            inData = true;
            socket.write('354 go\r\n');
          } else if (verb === 'QUIT') socket.end('221 bye\r\n');
          else socket.write('250 ok\r\n');
        }
      });
    });
    return new Promise((resolve) =>
      server.listen(0, '127.0.0.1', () =>
        resolve({ port: (server.address() as AddressInfo).port, seen, close: () => new Promise((r) => server.close(() => r())) }),
      ),
    );
  }

  it('--auth oauthbearer sends the GS2 header and the bearer token over TLS', async () => {
    const srv = await oauthbearerServer();
    try {
      const r = await runCli(['send', '-p', String(srv.port), '--tls', 'implicit', '--ca', ca, '--user', 'alice@example.com', '--auth', 'oauthbearer', '-v', ...msg], { env: { SMTPKIT_OAUTH_TOKEN: TOKEN } });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain('C: AUTH OAUTHBEARER');
      // RFC 7628 §3.1: gs2-header, then key=value pairs separated by ^A, ending ^A^A.
      const fields = srv.seen[0]!.split('\x01');
      expect(fields[0]).toBe('n,a=alice@example.com,');
      expect(fields).toContain('auth=Bearer <token>');
      expect(fields.some((f) => f.startsWith('host='))).toBe(true);
      expect(fields.slice(-2)).toEqual(['', '']);
    } finally {
      await srv.close();
    }
  });
});

describe('--quit-after', () => {
  it.each(['connect', 'greeting', 'ehlo', 'tls', 'auth'])('stops after %s and sends nothing', async (step) => {
    const before = starttls.messages.length;
    const r = await runCli(['send', ...on(starttls), '--ca', ca, '--user', 'alice@example.com', '--quit-after', step, '-v', ...msg], { env: withPassword });
    expect(r.code).toBe(0);
    expect(starttls.messages.length).toBe(before);
    expect(r.stderr).not.toContain('C: MAIL FROM');
    if (step !== 'connect') expect(r.stderr).toContain('C: QUIT');
    if (step === 'connect') expect(r.stderr).not.toContain('C: EHLO');
    if (step === 'greeting') expect(r.stderr).not.toContain('C: EHLO');
    if (step === 'ehlo') expect(r.stderr).not.toContain('C: STARTTLS');
    if (step === 'tls') expect(r.stderr).not.toContain('C: AUTH');
    if (step === 'auth') expect(r.stderr).toContain('C: AUTH ');
  });

  it('stops after MAIL FROM: no RCPT, no DATA', async () => {
    const before = starttls.messages.length;
    const r = await runCli(['send', ...on(starttls), '--ca', ca, '--quit-after', 'mail', '-v', '--json', ...msg]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('C: MAIL FROM:<alice@example.com>');
    expect(r.stderr).not.toContain('C: RCPT');
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, quitAfter: 'mail', mail: { code: 250 } });
    expect(r.stderr).toContain('C: RSET');
    expect(r.stderr).toContain('C: QUIT');
    expect(starttls.messages.length).toBe(before);
  });

  it('stops after the RCPTs: no DATA', async () => {
    const before = starttls.messages.length;
    const r = await runCli(['send', ...on(starttls), '--ca', ca, '--quit-after', 'rcpt', '-v', '-t', 'carol@example.com', ...msg]);
    expect(r.code).toBe(0);
    expect(r.stderr.match(/C: RCPT TO/g)).toHaveLength(2);
    expect(r.stderr).not.toContain('C: DATA');
    expect(r.stderr).not.toContain('C: BDAT');
    expect(r.stderr).toContain('C: QUIT');
    expect(starttls.messages.length).toBe(before);
  });
});

describe('profiles', () => {
  it('--profile from the config file supplies server, port, TLS, user and From', async () => {
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ profiles: { lab: { server: '127.0.0.1', port: starttls.port, tls: 'starttls', ca, user: 'alice@example.com', from: 'alice@example.com' } } }));
    const r = await runCli(['send', '--profile', 'lab', '-t', 'bob@example.com', '--json'], { env: { SMTPKIT_CONFIG: file, ...withPassword } });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).tls.verified).toBe('ca');
    expect(starttls.auths.at(-1)?.username).toBe('alice@example.com');
  });
});

describe('smtpkit probe', () => {
  it('prints capabilities before and after STARTTLS and the certificate', async () => {
    const r = await runCli(['probe', ...on(starttls), '--ca', ca]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/before TLS/);
    expect(r.stdout).toMatch(/^ {2}STARTTLS$/m);
    expect(r.stdout).toMatch(/after TLS/);
    expect(r.stdout).toContain(certs.fingerprint256);
    expect(r.stdout).toMatch(/subject: .*localhost/);
  });

  it('--json: before/after capabilities, TLS and certificate', async () => {
    const r = await runCli(['probe', ...on(starttls), '--ca', ca, '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.ok).toBe(true);
    expect(j.before.keywords).toContain('STARTTLS');
    expect(j.after.keywords).not.toContain('STARTTLS');
    expect(j.after.keywords.some((k: string) => k.startsWith('AUTH'))).toBe(true);
    expect(j.certificate.fingerprint256).toBe(certs.fingerprint256);
    expect(j.tls.verified).toBe('ca');
  });

  it('without TLS on offer, says so; with implicit TLS, shows the one EHLO after TLS', async () => {
    const p = await runCli(['probe', ...on(plain), '--json']);
    expect(p.code).toBe(0);
    expect(JSON.parse(p.stdout)).toMatchObject({ tls: null, after: null });
    const i = await runCli(['probe', ...on(implicit), '--tls', 'implicit', '--ca', ca, '--json']);
    expect(i.code).toBe(0);
    expect(JSON.parse(i.stdout)).toMatchObject({ before: null, tls: { verified: 'ca' } });
  });

  it('78 on an untrusted certificate, -q silent', async () => {
    expect(await runCli(['probe', ...on(starttls), '--tls', 'starttls', '-q'])).toEqual({ code: 78, stdout: '', stderr: '' });
  });
});
