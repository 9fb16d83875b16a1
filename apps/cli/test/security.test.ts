import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { scenarios, startFaultServer, type FaultServer } from '@smtpkit/client/testing';
import { generateCertificates, type TestCertificates } from '@smtpkit/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, scratch, startServer, type CliRun, type TestServer } from './helpers.js';

// The CLI's share of the threat model: input carrying CR, LF or other controls is refused with exit
// 65 (EX_DATAERR) before any connection is opened, and no secret (SMTPKIT_PASSWORD,
// SMTPKIT_OAUTH_TOKEN) reaches -v, --json or a --transcript file, whatever the mechanism and whether
// AUTH succeeds or fails.

const USER = 'alice@example.com';
const PASSWORD = 'pw-Cl1-$ecret-5521';
const TOKEN = 'ya29.cli-tok-Omega-6630-secret';
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

/** The secret and every base64 form of it a client could print (alone, in PLAIN/XOAUTH2/OAUTHBEARER payloads). */
function forms(secret: string): string[] {
  const out = new Set<string>([secret, b64(secret), b64(`\0${USER}\0${secret}`), b64(`user=${USER}\x01auth=Bearer ${secret}\x01\x01`)]);
  for (const pad of ['', 'x', 'xx']) {
    const encoded = b64(pad + secret);
    out.add(encoded.slice(Math.ceil((pad.length * 4) / 3) + 1, encoded.length - 4));
  }
  return [...out];
}

function expectNoSecret(captured: string, secret: string): void {
  for (const form of forms(secret)) expect(captured.includes(form), `output contains ${JSON.stringify(form)}`).toBe(false);
}

/** A plain TCP listener that answers like a minimal SMTP server and keeps every connection and byte. */
async function startRecorder(): Promise<{ port: number; connections(): number; received(): string; close(): Promise<void> }> {
  let connections = 0;
  const bytes: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    let data = false;
    let pending = '';
    socket.on('data', (d: Buffer) => {
      bytes.push(d);
      pending += d.toString('latin1');
      for (;;) {
        if (data) {
          const end = pending.indexOf('\r\n.\r\n');
          if (end === -1) return;
          pending = pending.slice(end + 5);
          data = false;
          socket.write('250 queued\r\n');
          continue;
        }
        const eol = pending.indexOf('\r\n');
        if (eol === -1) return;
        const line = pending.slice(0, eol);
        pending = pending.slice(eol + 2);
        if (/^EHLO/i.test(line)) socket.write('250-recorder\r\n250 8BITMIME\r\n');
        else if (/^DATA/i.test(line)) {
          data = true;
          pending = `\r\n${pending}`;
          socket.write('354 go\r\n');
        } else if (/^QUIT/i.test(line)) socket.end('221 bye\r\n');
        else socket.write('250 ok\r\n');
      }
    });
    socket.write('220 recorder ESMTP\r\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    received: () => Buffer.concat(bytes).toString('latin1'),
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('smtpkit send: control characters in any input → exit 65, no connection', () => {
  let recorder: Awaited<ReturnType<typeof startRecorder>>;
  let dir: string;
  beforeAll(async () => {
    recorder = await startRecorder();
    dir = scratch({ 'ok.txt': 'attachment' });
    // A file name may hold LF on POSIX file systems: it must not become a header line.
    writeFileSync(join(dir, 'evil\nBcc: victim@example.net.txt'), 'x');
    writeFileSync(join(dir, 'evil\rname.txt'), 'x');
  });
  afterAll(async () => {
    await recorder.close();
  });

  const base = () => ['send', '-s', '127.0.0.1', '-p', String(recorder.port), '--tls', 'none', '--timeout', '5'];
  const msg = { from: 'alice@example.com', to: 'bob@example.net', subject: 'hi', body: 'hello' };
  const args = (o: Partial<typeof msg> = {}) => {
    const m = { ...msg, ...o };
    return ['-f', m.from, '-t', m.to, '--subject', m.subject, '--body', m.body];
  };

  const injections: Array<[string, string]> = [
    ['CRLF + RCPT', '\r\nRCPT TO:<victim@example.net>'],
    ['bare LF + header', '\nBcc: victim@example.net'],
    ['bare CR', '\rX-Evil: 1'],
    ['ESC', '\x1b[31m'],
    ['DEL', '\x7f'],
  ];
  const cases: Array<[string, (p: string) => string[]]> = [
    ['--from', (p) => [...base(), ...args({ from: `alice@example.com${p}` })]],
    ['--from display name', (p) => [...base(), ...args({ from: `Alice${p} <alice@example.com>` })]],
    ['--to', (p) => [...base(), ...args({ to: `bob@example.net${p}` })]],
    ['--cc', (p) => [...base(), ...args(), '--cc', `carol@example.net${p}`]],
    ['--bcc', (p) => [...base(), ...args(), '--bcc', `dave@example.net${p}`]],
    ['--subject', (p) => [...base(), ...args({ subject: `hi${p}` })]],
    ['--header value', (p) => [...base(), ...args(), '--header', `X-Tag: v${p}`]],
    ['--header name', (p) => [...base(), ...args(), '--header', `X-Tag${p}: v`]],
    ['--helo', (p) => [...base(), ...args(), '--helo', `client.example${p}`]],
  ];
  for (const [flag, build] of cases) {
    for (const [name, payload] of injections) {
      it(`${flag} with ${name}: exit 65, nothing sent`, async () => {
        const before = recorder.connections();
        const r = await runCli(build(payload));
        expect(r.code, r.stderr).toBe(65);
        expect(r.stderr).not.toBe('');
        expect(recorder.connections() - before, 'the CLI connected although the input was invalid').toBe(0);
        expect(recorder.received()).not.toMatch(/victim|X-Evil/);
      });
    }
  }

  it('--user with CRLF: exit 65, nothing sent', async () => {
    const before = recorder.connections();
    const r = await runCli([...base(), ...args(), '--user', 'alice\r\nRCPT TO:<victim@example.net>'], { env: { SMTPKIT_PASSWORD: PASSWORD } });
    expect(r.code, r.stderr).toBe(65);
    expect(recorder.connections() - before).toBe(0);
    expectNoSecret(r.stdout + r.stderr, PASSWORD);
  });

  it('an attachment whose file name holds LF or CR: exit 65, nothing sent', async () => {
    for (const file of ['evil\nBcc: victim@example.net.txt', 'evil\rname.txt']) {
      const before = recorder.connections();
      const r = await runCli([...base(), ...args(), '-a', join(dir, file)]);
      expect(r.code, r.stderr).toBe(65);
      expect(recorder.connections() - before).toBe(0);
    }
  });

  it('a raw --eml body with a 10,000-octet line: exit 65 and no message completed', async () => {
    const eml = join(dir, 'long.eml');
    writeFileSync(eml, `From: alice@example.com\r\nTo: bob@example.net\r\nSubject: long\r\n\r\n${'x'.repeat(10_000)}\r\n`);
    const r = await runCli([...base(), '-f', 'alice@example.com', '-t', 'bob@example.net', '--eml', eml]);
    expect(r.code, r.stderr).toBe(65);
    expect(recorder.received()).not.toMatch(/x{10000}\r\n\.\r\n/);
  });

  it('SMTP smuggling payloads in --body stay inside one message (the control: valid input is sent)', async () => {
    const before = recorder.connections();
    const offset = recorder.received().length;
    const r = await runCli([...base(), ...args({ body: 'a\r\n.\r\nMAIL FROM:<x@y>\r\nb\n.\nc\n.\r\nd\r\n.\ne\r.\rf' }), '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(recorder.connections() - before).toBe(1);
    const sent = recorder.received().slice(offset);
    // One envelope, and one end of data: the body's dots cannot end DATA early (RFC 5321 §4.5.2).
    expect(sent.match(/^MAIL FROM:<alice@example\.com>/gm)).toHaveLength(1);
    expect(sent.split('\r\n.\r\n')).toHaveLength(2);
    expect(sent.endsWith('\r\n.\r\nQUIT\r\n')).toBe(true);
  });
});

describe('smtpkit send: secrets never reach -v, --json or --transcript', () => {
  let certs: TestCertificates;
  let server: TestServer;
  let dir: string;
  let ca: string;
  beforeAll(async () => {
    certs = await generateCertificates();
    dir = scratch({ 'ca.pem': certs.caCert });
    ca = join(dir, 'ca.pem');
    server = await startServer({
      key: certs.key,
      cert: certs.cert,
      authMethods: ['PLAIN', 'LOGIN', 'CRAM-MD5', 'XOAUTH2'],
      onAuth(auth, _session, cb) {
        const ok =
          auth.username === USER &&
          (auth.method === 'XOAUTH2' ? auth.accessToken === TOKEN : auth.method === 'CRAM-MD5' ? auth.validatePassword(PASSWORD) : auth.password === PASSWORD);
        if (ok) cb(null, { user: USER });
        else if (auth.method === 'XOAUTH2') cb(null, { data: { status: '401', schemes: 'bearer' } });
        else cb(Object.assign(new Error('5.7.8 Authentication credentials invalid'), { responseCode: 535 }));
      },
    });
  });
  afterAll(async () => {
    await server.close();
  });

  const msg = ['-f', USER, '-t', 'bob@example.com', '--subject', 'secrets', '--body', 'hello'];
  /** Run with every output on: -v on stderr, --json on stdout, --transcript to a file; return all of it. */
  async function runAll(port: number, extra: string[], env: Record<string, string>, tag: string): Promise<{ r: CliRun; all: string }> {
    const transcript = join(dir, `${tag}.jsonl`);
    const r = await runCli(['send', '-p', String(port), '--tls', 'starttls', '--ca', ca, '--user', USER, '-v', '--transcript', transcript, ...extra, ...msg], { env });
    // -v and --json together: whichever wins, both streams are captured.
    const r2 = await runCli(['send', '-p', String(port), '--tls', 'starttls', '--ca', ca, '--user', USER, '--json', ...extra, ...msg], { env });
    const file = readFileSync(transcript, 'utf8');
    expect(file).toMatch(/AUTH/);
    return { r, all: [r.stdout, r.stderr, r2.stdout, r2.stderr, file].join('\n') };
  }

  for (const [mech, secret, envName] of [
    ['plain', PASSWORD, 'SMTPKIT_PASSWORD'],
    ['login', PASSWORD, 'SMTPKIT_PASSWORD'],
    ['cram-md5', PASSWORD, 'SMTPKIT_PASSWORD'],
    ['xoauth2', TOKEN, 'SMTPKIT_OAUTH_TOKEN'],
  ] as const) {
    it(`--auth ${mech}, success: exit 0, no secret in any output`, async () => {
      const { r, all } = await runAll(server.port, ['--auth', mech], { [envName]: secret }, `${mech}-ok`);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/C: AUTH/);
      expectNoSecret(all, secret);
    });
    it(`--auth ${mech}, failure (535): exit 77, no secret in any output`, async () => {
      const wrong = `wrong-${secret}`;
      const { r, all } = await runAll(server.port, ['--auth', mech], { [envName]: wrong }, `${mech}-bad`);
      expect(r.code, r.stderr).toBe(77);
      expectNoSecret(all, wrong);
    });
  }

  describe('--account (a stored OAuth account), including a refresh after the server refused the token', () => {
    const REFRESH = 'rt-stored-Kappa-8812-secret';
    const REFRESHED = 'ya29.refreshed-Lambda-2290-secret';
    let tokenEndpoint: HttpServer;
    function home(access: string): Record<string, string> {
      const root = scratch();
      mkdirSync(join(root, 'config', 'smtpkit'), { recursive: true });
      mkdirSync(join(root, 'state', 'smtpkit', 'tokens'), { recursive: true, mode: 0o700 });
      const port = (tokenEndpoint.address() as AddressInfo).port;
      const account = {
        name: 'stored', provider: 'oidc', user: USER, store: 'file', clientId: 'cli', tokenEndpoint: `http://127.0.0.1:${port}/token`,
        scopes: ['openid'], scopeOnRefresh: false, createdAt: new Date().toISOString(), accessTokenExpiresAt: new Date(Date.now() + 3_600_000).toISOString(),
      };
      writeFileSync(join(root, 'config', 'smtpkit', 'accounts.json'), JSON.stringify({ version: 1, accounts: { stored: account } }));
      writeFileSync(
        join(root, 'state', 'smtpkit', 'tokens', 'stored.json'),
        JSON.stringify({ accessToken: access, refreshToken: REFRESH, expiresAt: Date.now() + 3_600_000, obtainedAt: Date.now() }),
        { mode: 0o600 },
      );
      return { XDG_CONFIG_HOME: join(root, 'config'), XDG_STATE_HOME: join(root, 'state') };
    }
    beforeAll(async () => {
      tokenEndpoint = createHttpServer((_req, res) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ access_token: REFRESHED, refresh_token: `${REFRESH}-2`, token_type: 'Bearer', expires_in: 3600 }));
      });
      await new Promise<void>((resolve) => tokenEndpoint.listen(0, '127.0.0.1', resolve));
    });
    afterAll(async () => {
      await new Promise((resolve) => tokenEndpoint.close(resolve));
    });

    it('success: exit 0, no token in any output', async () => {
      const { r, all } = await runAll(server.port, ['--account', 'stored'], home(TOKEN), 'account-ok');
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/C: AUTH XOAUTH2/);
      expectNoSecret(all, TOKEN);
      expectNoSecret(all, REFRESH);
    });
    it('refused, refreshed, refused again: exit 77, neither the stored, the refresh nor the new token in any output', async () => {
      const { r, all } = await runAll(server.port, ['--account', 'stored'], home(`stale-${TOKEN}`), 'account-bad');
      expect(r.code, r.stderr).toBe(77);
      expect(r.stderr).toMatch(/asking for a fresh one/);
      for (const secret of [`stale-${TOKEN}`, REFRESH, REFRESHED, `${REFRESH}-2`]) expectNoSecret(all, secret);
    });
  });

  describe('--auth oauthbearer (RFC 7628) on a scripted STARTTLS server', () => {
    let ok: FaultServer;
    let refused: FaultServer;
    beforeAll(async () => {
      const tls = { key: certs.key, cert: certs.cert };
      const head = [...scenarios.plainGreeting(), ...scenarios.ehlo({ starttls: true }), ...scenarios.startTls({ ehloAfter: { auth: ['OAUTHBEARER'] } })];
      ok = await startFaultServer([...head, { expect: /^AUTH OAUTHBEARER / }, { send: '235 2.7.0 ok\r\n' }, ...scenarios.acceptMessage(), ...scenarios.quit()], { tls });
      refused = await startFaultServer(
        [...head, { expect: /^AUTH OAUTHBEARER / }, { send: `334 ${b64('{"status":"invalid_token"}')}\r\n` }, { expect: /^AQ==$/ }, { send: '535 5.7.8 invalid token\r\n' }, { answerRemaining: true }],
        { tls },
      );
    });
    afterAll(async () => {
      await ok.close();
      await refused.close();
    });

    async function run(port: number, token: string, tag: string) {
      const transcript = join(dir, `${tag}.jsonl`);
      const r = await runCli(['send', '-p', String(port), '--tls', 'starttls', '--ca', ca, '--user', USER, '--auth', 'oauthbearer', '-v', '--json', '--transcript', transcript, ...msg], {
        env: { SMTPKIT_OAUTH_TOKEN: token },
      });
      return { r, all: [r.stdout, r.stderr, readFileSync(transcript, 'utf8')].join('\n') };
    }

    it('success: exit 0, no token in any output', async () => {
      const { r, all } = await run(ok.port, TOKEN, 'oauthbearer-ok');
      expect(r.code, r.stderr).toBe(0);
      expectNoSecret(all, TOKEN);
    });
    it('failure (334 error challenge, 535): exit 77, no token in any output', async () => {
      const { r, all } = await run(refused.port, `bad-${TOKEN}`, 'oauthbearer-bad');
      expect(r.code, r.stderr).toBe(77);
      expectNoSecret(all, `bad-${TOKEN}`);
    });
  });
});
