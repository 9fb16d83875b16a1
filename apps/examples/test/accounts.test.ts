import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { discoverProvider, login } from '@smtpkit/oauth';
import {
  generateCertificates, runScriptedBrowser, startAiosmtpd, startDovecot, startOidcProvider,
  type AiosmtpdServer, type DovecotServer, type OidcProviderServer,
} from '@smtpkit/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The campus and external clients with an account stored by `smtpkit login` (here: the same login code,
// called directly), sending through Dovecot's submission service, which checks every token at the provider.

const TTL_S = 3;
const dist = (name: string) => fileURLToPath(new URL(`../dist/${name}`, import.meta.url));
let op: OidcProviderServer;
let relay: AiosmtpdServer;
let dovecot: DovecotServer;
let env: Record<string, string>;

function run(script: string, args: string[], extra: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [dist(script), ...args], { env: { PATH: process.env.PATH, ...env, ...extra } });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c));
    child.stderr.on('data', (c: Buffer) => (out += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

beforeAll(async () => {
  const certs = await generateCertificates();
  op = await startOidcProvider({ accessTokenTtl: TTL_S });
  relay = await startAiosmtpd();
  dovecot = await startDovecot({
    submission: { relayPort: relay.port },
    certs,
    oauth2: { introspectionUrl: op.introspection.url, clientId: op.introspection.clientId, clientSecret: op.introspection.clientSecret },
  });
  const dir = mkdtempSync(join(tmpdir(), 'smtpkit-examples-oauth-'));
  writeFileSync(join(dir, 'ca.pem'), certs.caCert);
  env = {
    XDG_CONFIG_HOME: join(dir, 'config'),
    XDG_STATE_HOME: join(dir, 'state'),
    SMTPKIT_HOST: '127.0.0.1',
    SMTPKIT_PORT: String(dovecot.submissionPort),
    SMTPKIT_CA: join(dir, 'ca.pem'),
    SMTPKIT_TO: 'friend@example.org',
  };
  await login({
    env,
    provider: await discoverProvider(op.issuer, { clientId: op.clientId }),
    flow: 'browser',
    store: 'file',
    account: 'campus',
    canOpenBrowser: true,
    io: {
      notify: () => undefined,
      openBrowser: async (url) => {
        void runScriptedBrowser(url, { login: 'student@campus.example.edu' });
        return true;
      },
    },
  });
});

afterAll(async () => {
  await dovecot?.stop();
  await relay?.stop();
  await op?.stop();
});

describe('examples with SMTPKIT_ACCOUNT', () => {
  it('campus sends as the account\'s mailbox; after the token expires, external refreshes once and sends', async () => {
    const campus = await run('campus.js', ['-v'], { SMTPKIT_ACCOUNT: 'campus' });
    expect(campus.code, campus.out).toBe(0);
    expect(campus.out).toMatch(/C: AUTH XOAUTH2/);
    expect(campus.out).toMatch(/^office365: 250 /m);
    const [first] = await relay.waitForMessages(1);
    expect(first!.from).toBe('student@campus.example.edu');

    await new Promise((resolve) => setTimeout(resolve, TTL_S * 1000 + 300));
    const before = op.refreshCount();
    const external = await run('external.js', ['gmail'], { SMTPKIT_ACCOUNT: 'campus' });
    expect(external.code, external.out).toBe(0);
    expect(op.refreshCount()).toBe(before + 1);
    expect((await relay.waitForMessages(2))[1]!.raw.toString()).toMatch(/^Subject: Hello from smtpkit via gmail/m);
  });

  it('an unknown account names `smtpkit login`, exit 64', async () => {
    const r = await run('campus.js', [], { SMTPKIT_ACCOUNT: 'nobody' });
    expect(r.code).toBe(64);
    expect(r.out).toMatch(/no account "nobody": sign in first with `smtpkit login/);
  });
});
