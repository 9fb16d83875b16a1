import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  generateCertificates, runScriptedBrowser, SCRIPTED_BROWSER, startAiosmtpd, startDovecot, startOidcProvider,
  type AiosmtpdServer, type DovecotServer, type OidcProviderServer, type TestCertificates,
} from '@smtpkit/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, runCli, scratch, type CliRun } from './helpers.js';

// End to end against real components on 127.0.0.1: panva's oidc-provider (PKCE required, device flow,
// rotating refresh tokens, introspection, revocation, 5-second access tokens) and Dovecot's submission
// service whose oauth2 passdb introspects every token at that provider, relaying to aiosmtpd.

const TTL_S = 5;
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Harness {
  op: OidcProviderServer;
  dovecot: DovecotServer;
  relay: AiosmtpdServer;
  certs: TestCertificates;
  caFile: string;
}

let h: Harness;
/** Every output of every CLI run here, except `smtpkit token`'s stdout, which is meant to hold a token. */
const outputs: string[] = [];
/** Every token the store ever held. */
const seenTokens = new Set<string>();

function homeDirs(): { env: Record<string, string>; dir: string } {
  const dir = scratch();
  return { dir, env: { XDG_CONFIG_HOME: join(dir, 'config'), XDG_STATE_HOME: join(dir, 'state') } };
}

function storedTokens(dir: string, account: string): { accessToken: string; refreshToken: string } {
  const tokens = JSON.parse(readFileSync(join(dir, 'state', 'smtpkit', 'tokens', `${account}.json`), 'utf8')) as { accessToken: string; refreshToken: string };
  seenTokens.add(tokens.accessToken);
  seenTokens.add(tokens.refreshToken);
  return tokens;
}

async function cli(args: string[], env: Record<string, string>, input?: string): Promise<CliRun> {
  const result = await runCli(args, { env, ...(input !== undefined ? { input } : {}), timeoutMs: 60_000 });
  outputs.push(result.stderr, args[0] === 'token' ? '' : result.stdout);
  return result;
}

function loginArgs(account: string, flow: string, extra: string[] = []): string[] {
  return ['login', 'oidc', '--issuer', h.op.issuer, '--client-id', h.op.clientId, '--flow', flow, '--account', account, '--store', 'file', ...extra];
}

async function send(account: string, env: Record<string, string>, subject: string): Promise<CliRun> {
  return cli(
    ['send', '--account', account, '-s', '127.0.0.1', '-p', String(h.dovecot.submissionPort), '--tls', 'starttls', '--ca', h.caFile,
      '-f', 'alice@example.com', '-t', 'bob@example.org', '--subject', subject, '--body', 'sent with a stored OAuth account'],
    env,
  );
}

/** Runs the CLI and hands each stdout JSON line to `onEvent` while it runs (device and paste flows). */
function runInteractive(args: string[], env: Record<string, string>, onEvent: (event: Record<string, unknown>, stdin: NodeJS.WritableStream) => void): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, SMTPKIT_CONFIG: '/nonexistent/smtpkit.json', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let pending = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      pending += c.toString();
      for (let nl = pending.indexOf('\n'); nl !== -1; nl = pending.indexOf('\n')) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (line.startsWith('{')) onEvent(JSON.parse(line) as Record<string, unknown>, child.stdin);
      }
    });
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      outputs.push(stdout, stderr);
      resolve({ code, stdout, stderr });
    });
  });
}

/** After login: deliver through Dovecot, wait past the token lifetime, deliver again with exactly one refresh. */
async function sendRefreshSend(account: string, home: { env: Record<string, string>; dir: string }): Promise<void> {
  const before = storedTokens(home.dir, account);
  const first = await send(account, home.env, `${account} first`);
  expect(first.stderr).toBe('');
  expect(first.code).toBe(0);
  const refreshes = h.op.refreshCount();
  await wait(TTL_S * 1000 + 300);
  const second = await send(account, home.env, `${account} second`);
  expect(second.code, second.stderr).toBe(0);
  expect(h.op.refreshCount()).toBe(refreshes + 1);
  const after = storedTokens(home.dir, account);
  expect(after.refreshToken).not.toBe(before.refreshToken);
  expect(after.accessToken).not.toBe(before.accessToken);
  const subjects = (await h.relay.messages()).map((m) => /^Subject: (.*)$/m.exec(m.raw.toString())?.[1]);
  expect(subjects).toEqual(expect.arrayContaining([`${account} first`, `${account} second`]));
}

beforeAll(async () => {
  const certs = await generateCertificates();
  const op = await startOidcProvider({ accessTokenTtl: TTL_S, slowDownOnce: true });
  const relay = await startAiosmtpd();
  const dovecot = await startDovecot({
    submission: { relayPort: relay.port },
    certs,
    oauth2: { introspectionUrl: op.introspection.url, clientId: op.introspection.clientId, clientSecret: op.introspection.clientSecret },
  });
  const caFile = join(scratch({ 'ca.pem': certs.caCert }), 'ca.pem');
  h = { op, dovecot, relay, certs, caFile };
});

afterAll(async () => {
  await h?.dovecot.stop();
  await h?.relay.stop();
  await h?.op.stop();
});

describe('smtpkit login oidc against oidc-provider, sending through Dovecot', () => {
  const web = homeDirs();

  it('browser flow (the contract line) → send → refresh → send', async () => {
    const login = await cli(loginArgs('web', 'browser', ['--browser-command', `${process.execPath} ${SCRIPTED_BROWSER} --login alice@example.com`, '--no-probe']), web.env);
    expect(login.code, login.stderr).toBe(0);
    expect(login.stdout).toMatch(/Signed in to oidc as alice@example\.com \(account "web", browser flow, tokens in a 0600 file\)/);
    expect(login.stderr).toContain(`${h.op.issuer}/auth?`);
    const file = join(web.dir, 'state', 'smtpkit', 'tokens', 'web.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(web.dir, 'state', 'smtpkit', 'tokens')).mode & 0o777).toBe(0o700);
    await sendRefreshSend('web', web);
    const probe = await cli(['probe', '--account', 'web', '-s', '127.0.0.1', '-p', String(h.dovecot.submissionPort), '--tls', 'starttls', '--ca', h.caFile, '-v'], web.env);
    expect(probe.code, probe.stderr).toBe(0);
    expect(probe.stderr).toMatch(/C: AUTH XOAUTH2 \S+/);
    expect(probe.stderr).toMatch(/S: 235 /);
  });

  it('five concurrent `smtpkit token` calls past expiry cause exactly one refresh', async () => {
    await wait(TTL_S * 1000 + 300);
    const before = h.op.refreshCount();
    const runs = await Promise.all(Array.from({ length: 5 }, () => cli(['token', 'web'], web.env)));
    for (const r of runs) {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toBe('');
      expect(r.stdout).toMatch(/^[A-Za-z0-9_-]+\n$/);
    }
    expect(new Set(runs.map((r) => r.stdout)).size).toBe(1);
    expect(h.op.refreshCount()).toBe(before + 1);
    expect(runs[0]!.stdout.trim()).toBe(storedTokens(web.dir, 'web').accessToken);
  });

  it('`smtpkit accounts` lists the account without a secret', async () => {
    const table = await cli(['accounts'], web.env);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^ACCOUNT\s+PROVIDER\s+USER\s+STORE\s+ACCESS TOKEN EXPIRES\s+LAST REFRESH\n/);
    expect(table.stdout).toMatch(/web\s+oidc\s+alice@example\.com\s+file\s+/);
    const json = await cli(['accounts', '--json'], web.env);
    expect(JSON.parse(json.stdout)).toEqual([expect.objectContaining({ account: 'web', provider: 'oidc', user: 'alice@example.com', store: 'file', lastRefreshAt: expect.any(String) })]);
  });

  it('a grant revoked at the provider ends in exit 77 and the re-login message', async () => {
    await h.op.revoke(storedTokens(web.dir, 'web').refreshToken);
    await wait(TTL_S * 1000 + 300);
    const sent = await send('web', web.env, 'after revocation');
    expect(sent.code).toBe(77);
    expect(sent.stderr).toMatch(/invalid_grant.*run `smtpkit login web` again/);
    const token = await cli(['token', 'web'], web.env);
    expect(token.code).toBe(77);
    expect(token.stdout).toBe('');
    expect(token.stderr).toMatch(/run `smtpkit login web` again/);
  });

  it('auto picks the device flow without a browser (RFC 8628, one slow_down) → SMTP check at Dovecot → send → refresh → send', async () => {
    const home = homeDirs();
    const events: Array<Record<string, unknown>> = [];
    const login = await runInteractive(
      [...loginArgs('dev', 'auto', ['--json', '--server', `127.0.0.1:${h.dovecot.submissionPort}`, '--ca', h.caFile])],
      home.env,
      (event) => {
        events.push(event);
        // The user approves only after the provider has told the client to slow down once.
        if (event.event === 'slow_down') {
          const device = events.find((e) => e.event === 'device')!;
          void runScriptedBrowser(String(device.verificationUri), { userCode: String(device.userCode), login: 'alice@example.com' });
        }
      },
    );
    expect(login.code, login.stderr).toBe(0);
    expect(events.map((e) => e.event)).toEqual(['device', 'slow_down', undefined]);
    expect(events[2]).toMatchObject({ ok: true, account: 'dev', flow: 'device', user: 'alice@example.com', smtpChecked: `127.0.0.1:${h.dovecot.submissionPort}` });
    expect(login.stderr).toMatch(/To sign in, visit .*\/device and enter the code [A-Z-]+/);
    // RFC 8628 §3.5: after slow_down the interval grew by 5 s.
    const polls = h.op.tokenCalls().filter((c) => c.grantType === 'urn:ietf:params:oauth:grant-type:device_code');
    const slowIndex = polls.findIndex((c) => c.error === 'slow_down');
    expect(polls[slowIndex + 1]!.at - polls[slowIndex]!.at).toBeGreaterThanOrEqual(5900);
    await sendRefreshSend('dev', home);
  });

  it('paste flow → send → refresh → send', async () => {
    const home = homeDirs();
    const login = await runInteractive(loginArgs('pasted', 'paste', ['--json', '--no-probe']), home.env, (event, stdin) => {
      if (event.event !== 'paste') return;
      void runScriptedBrowser(String(event.url), { stopAt: String(event.redirectUri), login: 'alice@example.com' }).then((r) => stdin.end(`${r.finalUrl}\n`));
    });
    expect(login.code, login.stderr).toBe(0);
    expect(login.stderr).toContain('paste it here');
    await sendRefreshSend('pasted', home);
  });

  it('no token ever appears in any output but `smtpkit token`', () => {
    expect(seenTokens.size).toBeGreaterThan(6);
    const all = outputs.join('\n');
    for (const token of seenTokens) expect(all.includes(token), 'a token leaked into output').toBe(false);
  });
});

describe('the token store', () => {
  it('refuses a token file that others may read (exit 78)', async () => {
    const home = homeDirs();
    const login = await cli(loginArgs('loose', 'browser', ['--browser-command', `${process.execPath} ${SCRIPTED_BROWSER}`, '--no-probe']), home.env);
    expect(login.code, login.stderr).toBe(0);
    const file = join(home.dir, 'state', 'smtpkit', 'tokens', 'loose.json');
    chmodSync(file, 0o644);
    const token = await cli(['token', 'loose'], home.env);
    expect(token.code).toBe(78);
    expect(token.stderr).toMatch(/refusing the token file .*loose\.json: mode 0644 lets other users read it/);
  });

  it('uses the keyring through secret-tool with the secret on stdin only', async () => {
    const home = homeDirs();
    const bin = join(home.dir, 'bin');
    const log = join(home.dir, 'secret-tool.log');
    const vault = join(home.dir, 'vault');
    scratchFile(join(bin, 'secret-tool'), fakeSecretTool(log, vault));
    const env = { ...home.env, PATH: `${bin}:${process.env.PATH}` };
    const login = await cli(
      ['login', 'oidc', '--issuer', h.op.issuer, '--client-id', h.op.clientId, '--flow', 'browser', '--account', 'kr', '--store', 'auto',
        '--browser-command', `${process.execPath} ${SCRIPTED_BROWSER}`, '--no-probe'],
      env,
    );
    expect(login.code, login.stderr).toBe(0);
    expect(login.stdout).toContain('tokens in the keyring (secret-tool)');
    const token = await runCli(['token', 'kr', '--format', 'json'], { env });
    expect(token.code, token.stderr).toBe(0);
    const { accessToken } = JSON.parse(token.stdout) as { accessToken: string };
    const calls = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { argv: string[]; stdin: string });
    const stores = calls.filter((c) => c.argv[0] === 'store');
    // One probe round trip, then the account's token set.
    expect(stores.length).toBe(2);
    expect(stores[1]!.argv).toEqual(['store', '--label=smtpkit: kr', 'service', 'smtpkit', 'account', 'kr']);
    expect(stores[1]!.stdin).toContain(accessToken);
    for (const c of calls) expect(c.argv.join(' ')).not.toContain(accessToken);
    expect(() => statSync(join(home.dir, 'state', 'smtpkit', 'tokens', 'kr.json'))).toThrow();
    // Past the lifetime: the refresh writes the rotated set back through secret-tool's stdin.
    await wait(TTL_S * 1000 + 300);
    const refreshed = await runCli(['token', 'kr'], { env });
    expect(refreshed.code, refreshed.stderr).toBe(0);
    expect(refreshed.stdout.trim()).not.toBe(accessToken);
    const last = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { argv: string[]; stdin: string }).filter((c) => c.argv[0] === 'store').at(-1)!;
    expect(last.stdin).toContain(refreshed.stdout.trim());
    expect(last.argv.join(' ')).not.toContain(refreshed.stdout.trim());
    const out = await cli(['logout', 'kr'], env);
    expect(out.code).toBe(0);
    expect(readFileSync(log, 'utf8')).toContain('"clear"');
  });

  it('falls back to the file when the keyring does not work (--store auto), and refuses --store keyring', async () => {
    const home = homeDirs();
    const bin = join(home.dir, 'bin');
    scratchFile(join(bin, 'secret-tool'), '#!/bin/sh\necho "no keyring daemon" >&2\nexit 1\n');
    const env = { ...home.env, PATH: `${bin}:${process.env.PATH}` };
    const browser = ['--browser-command', `${process.execPath} ${SCRIPTED_BROWSER}`, '--no-probe'];
    const forced = await cli(loginArgs('fb', 'browser', browser).map((a) => (a === 'file' ? 'keyring' : a)), env);
    expect(forced.code).toBe(78);
    expect(forced.stderr).toMatch(/--store keyring: the keyring \(secret-tool\) does not work here/);
    const auto = await cli(loginArgs('fb', 'browser', browser).map((a) => (a === 'file' ? 'auto' : a)), env);
    expect(auto.code, auto.stderr).toBe(0);
    expect(auto.stdout).toContain('tokens in a 0600 file');
  });
});

function scratchFile(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text, { mode: 0o755 });
}

/** A stand-in for libsecret's secret-tool: keeps items as files, and logs each call's argv and stdin as a JSON line. */
function fakeSecretTool(log: string, vault: string): string {
  return `#!/usr/bin/env node
const fs = require('node:fs');
const path = require('node:path');
const argv = process.argv.slice(2);
const stdin = argv[0] === 'store' ? fs.readFileSync(0, 'utf8') : '';
fs.appendFileSync(${JSON.stringify(log)}, JSON.stringify({ argv, stdin }) + '\\n');
fs.mkdirSync(${JSON.stringify(vault)}, { recursive: true });
const attrs = argv.filter((a) => !a.startsWith('--')).slice(1);
const key = path.join(${JSON.stringify(vault)}, Buffer.from(attrs.join('|')).toString('hex'));
if (argv[0] === 'store') fs.writeFileSync(key, stdin);
else if (argv[0] === 'lookup') { if (!fs.existsSync(key)) process.exit(1); process.stdout.write(fs.readFileSync(key, 'utf8')); }
else if (argv[0] === 'clear') fs.rmSync(key, { force: true });
else process.exit(2);
`;
}

describe('smtpkit login: what is refused before anything is contacted', () => {
  it('microsoft without --client-id: exit 64, no borrowed id, pointing at the registration help', async () => {
    const r = await cli(['login', 'microsoft', '--no-probe'], homeDirs().env);
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/needs --client-id \(your Entra app registration; smtpkit ships no borrowed id\).*docs\/OAUTH\.md/);
  });

  it('`smtpkit login --help` explains the Entra registration and the Google client', async () => {
    const r = await cli(['login', 'microsoft', '--help'], homeDirs().env);
    expect(r.code).toBe(0);
    for (const words of ['Mobile and desktop applications', 'http://localhost', 'Allow public client flows', 'SMTP.Send, offline_access, openid, email', 'Desktop app', '7 days']) {
      expect(r.stdout).toContain(words);
    }
  });

  it('google with --flow device: exit 64 with the reason', async () => {
    const dir = scratch({ 'client.json': JSON.stringify({ installed: { client_id: 'id.apps.googleusercontent.com', client_secret: 'GOCSPX-not-confidential' } }) });
    const r = await cli(['login', 'google', '--client-file', join(dir, 'client.json'), '--flow', 'device', '--no-probe'], homeDirs().env);
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/Google's device flow refuses the https:\/\/mail\.google\.com\/ scope/);
  });

  it('google with a "Web application" client file: exit 78, naming the right client type', async () => {
    const dir = scratch({ 'web.json': JSON.stringify({ web: { client_id: 'x', client_secret: 'y' } }) });
    const r = await cli(['login', 'google', '--client-file', join(dir, 'web.json'), '--no-probe'], homeDirs().env);
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/not a Google "Desktop app" client file \(it is a "Web application" client\)/);
  });

  it('oidc with a plain-http issuer elsewhere than this machine: exit 64', async () => {
    const r = await cli(['login', 'oidc', '--issuer', 'http://id.example.org', '--client-id', 'x', '--no-probe'], homeDirs().env);
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/--issuer must be https/);
  });

  it('a profile names the account; SMTPKIT_OAUTH_TOKEN with --user takes precedence over it (CI)', async () => {
    const dir = scratch({ 'config.json': JSON.stringify({ profiles: { campus: { account: 'not-here', server: '127.0.0.1', port: h.dovecot.submissionPort, tls: 'starttls' } } }) });
    const env = { ...homeDirs().env, SMTPKIT_CONFIG: join(dir, 'config.json') };
    const msg = ['-f', 'alice@example.com', '-t', 'bob@example.org', '--body', 'x', '--ca', h.caFile];
    const fromProfile = await cli(['send', '--profile', 'campus', ...msg], env);
    expect(fromProfile.code).toBe(78);
    expect(fromProfile.stderr).toMatch(/no account "not-here"/);
    // A token from elsewhere wins: Dovecot asks the provider, which does not know it (535, exit 77), but no store is read.
    const ci = await cli(['send', '--profile', 'campus', '--user', 'alice@example.com', ...msg], { ...env, SMTPKIT_OAUTH_TOKEN: 'not-a-token-the-provider-issued' });
    expect(ci.code).toBe(77);
    expect(ci.stderr).not.toMatch(/no account/);
    expect(ci.stderr).toMatch(/535/);
  });

  it('token, send and logout for an unknown account: exit 78 naming `smtpkit login`', async () => {
    const env = homeDirs().env;
    for (const args of [['token', 'nobody'], ['logout', 'nobody'], ['send', '--account', 'nobody', '-f', 'a@example.com', '-t', 'b@example.com', '--body', 'x']]) {
      const r = await cli(args, env);
      expect(r.code, args.join(' ')).toBe(78);
      expect(r.stderr).toMatch(/no account "nobody": sign in first with `smtpkit login/);
    }
  });
});
