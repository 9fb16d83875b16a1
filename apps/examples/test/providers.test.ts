import { spawn } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateCertificates, type TestCertificates } from '@smtpkit/testkit';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Local servers speaking the providers' dialects; these tests never contact Gmail, AOL or Office 365.
const PASSWORD = 'app-password-Qx81-secret';
const TOKEN = 'ya29.example-token-Vb22-secret';
const USER = 'student@campus.example.edu';

interface Local {
  port: number;
  auths: Array<{ method: string; username?: string }>;
  messages: Array<{ from: string; to: string[]; raw: string }>;
  close(): Promise<void>;
}

function provider(options: SMTPServerOptions): Promise<Local> {
  const auths: Local['auths'] = [];
  const messages: Local['messages'] = [];
  const server = new SMTPServer({
    logger: false,
    authMethods: ['LOGIN', 'PLAIN', 'XOAUTH2'],
    onAuth(auth, _s, cb) {
      auths.push({ method: auth.method, username: auth.username });
      const ok = auth.username === USER && (auth.method === 'XOAUTH2' ? auth.accessToken === TOKEN : auth.password === PASSWORD);
      if (ok) cb(null, { user: USER });
      else cb(Object.assign(new Error('5.7.3 Authentication unsuccessful'), { responseCode: 535 }));
    },
    onMailFrom(address, session, cb) {
      // Office 365 and Gmail: From must be the authenticated mailbox.
      if (address.address !== session.user) cb(Object.assign(new Error('5.7.60 SendAsDenied'), { responseCode: 550 }));
      else cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        messages.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString() });
        cb(null, '2.0.0 OK queued');
      });
    },
    ...options,
  });
  server.on('error', () => {});
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ port: (server.server.address() as AddressInfo).port, auths, messages, close: () => new Promise((r) => server.close(() => r())) }),
    ),
  );
}

const dist = (name: string) => fileURLToPath(new URL(`../dist/${name}`, import.meta.url));

function run(script: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [dist(script), ...args], { env: { PATH: process.env.PATH, ...env } });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c));
    child.stderr.on('data', (c: Buffer) => (out += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      outputs.push(out);
      resolve({ code, out });
    });
  });
}

const outputs: string[] = [];
let certs: TestCertificates;
let caFile: string;
let office365: Local; // STARTTLS required, AUTH LOGIN / XOAUTH2
let gmail: Local; // STARTTLS
let aol: Local; // implicit TLS

beforeAll(async () => {
  certs = await generateCertificates();
  caFile = join(mkdtempSync(join(tmpdir(), 'smtpkit-examples-')), 'ca.pem');
  writeFileSync(caFile, certs.caCert);
  const tls = { key: certs.key, cert: certs.cert };
  office365 = await provider({ ...tls, authMethods: ['LOGIN', 'XOAUTH2'] });
  gmail = await provider({ ...tls });
  aol = await provider({ ...tls, secure: true });
});
afterAll(async () => {
  await Promise.all([office365.close(), gmail.close(), aol.close()]);
  const all = outputs.join('\n');
  expect(all).not.toContain(PASSWORD);
  expect(all).not.toContain(TOKEN);
});

const env = (server: Local, extra: Record<string, string>) => ({
  SMTPKIT_HOST: '127.0.0.1',
  SMTPKIT_PORT: String(server.port),
  SMTPKIT_CA: caFile,
  SMTPKIT_USER: USER,
  SMTPKIT_TO: 'friend@example.org',
  ...extra,
});

describe('campus (Office 365 dialect)', () => {
  it('STARTTLS, AUTH LOGIN with the password, From = the mailbox; -v prints the transcript', async () => {
    const r = await run('campus.js', ['-v'], env(office365, { SMTPKIT_PASSWORD: PASSWORD }));
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('C: STARTTLS');
    expect(r.out).toMatch(/C: AUTH LOGIN/);
    expect(office365.auths.at(-1)).toEqual({ method: 'LOGIN', username: USER });
    expect(office365.messages.at(-1)).toMatchObject({ from: USER, to: ['friend@example.org'] });
    expect(office365.messages.at(-1)?.raw).toMatch(new RegExp(`^From: ${USER}\\r$`, 'm'));
  });

  it('XOAUTH2 with SMTPKIT_OAUTH_TOKEN', async () => {
    const r = await run('campus.js', [], env(office365, { SMTPKIT_OAUTH_TOKEN: TOKEN }));
    expect(r.code, r.out).toBe(0);
    expect(office365.auths.at(-1)).toEqual({ method: 'XOAUTH2', username: USER });
    expect(r.out).toMatch(/^office365: 250 /);
  });

  it('a wrong password fails with the server reply, exit 1', async () => {
    const r = await run('campus.js', [], env(office365, { SMTPKIT_PASSWORD: 'nope' }));
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/AUTH LOGIN failed: 535/);
  });

  it('missing settings are named, exit 64', async () => {
    const r = await run('campus.js', [], { SMTPKIT_HOST: '127.0.0.1', SMTPKIT_PORT: String(office365.port) });
    expect(r.code).toBe(64);
    expect(r.out).toMatch(/SMTPKIT_USER/);
  });
});

describe('external (Gmail and AOL dialects)', () => {
  it('gmail: STARTTLS on the submission port with an app password', async () => {
    const r = await run('external.js', ['gmail', '-v'], env(gmail, { SMTPKIT_PASSWORD: PASSWORD }));
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('C: STARTTLS');
    expect(gmail.messages.at(-1)).toMatchObject({ from: USER });
  });

  it('gmail: XOAUTH2', async () => {
    const r = await run('external.js', ['gmail'], env(gmail, { SMTPKIT_OAUTH_TOKEN: TOKEN }));
    expect(r.code, r.out).toBe(0);
    expect(gmail.auths.at(-1)?.method).toBe('XOAUTH2');
  });

  it('aol: TLS from the first byte (implicit), app password', async () => {
    const r = await run('external.js', ['aol', '-v'], env(aol, { SMTPKIT_PASSWORD: PASSWORD }));
    expect(r.code, r.out).toBe(0);
    expect(r.out).not.toContain('C: STARTTLS');
    expect(r.out).toMatch(/TLS/);
    expect(aol.messages.at(-1)).toMatchObject({ from: USER, to: ['friend@example.org'] });
  });

  it('an untrusted certificate is refused (no CA override)', async () => {
    const e = env(aol, { SMTPKIT_PASSWORD: PASSWORD }) as Record<string, string>;
    delete e.SMTPKIT_CA;
    const before = aol.auths.length;
    const r = await run('external.js', ['aol'], e);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/certificate|verify|self[- ]signed|issuer/i);
    expect(aol.auths.length).toBe(before);
  });

  it('an unknown provider prints usage, exit 64', async () => {
    const r = await run('external.js', ['yahoo'], {});
    expect(r.code).toBe(64);
    expect(r.out).toMatch(/usage: .*gmail\|aol/);
  });
});
