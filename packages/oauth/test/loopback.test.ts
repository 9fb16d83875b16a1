import { request } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScriptedBrowser, startOidcProvider, type OidcProviderServer } from '@smtpkit/testkit';
import { browserFlow, codeFromCallback, createPkce, discoverProvider, exchangeCode, isOAuthError, startLoopbackReceiver, type ProviderConfig } from '../src/index.js';

/** One GET with a chosen Host header; resolves with the status, or the socket error code. */
function get(port: number, path: string, host = `127.0.0.1:${port}`): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    req.end();
  });
}

function refused(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

describe('the loopback redirect receiver', () => {
  it('binds 127.0.0.1 only, serves one callback and closes', async () => {
    const receiver = await startLoopbackReceiver({ state: 's1' });
    expect(receiver.redirectUri).toBe(`http://127.0.0.1:${receiver.port}/`);
    // Not on another local address of this machine.
    expect(await refused(receiver.port, '127.0.0.2')).toBe(true);
    const code = receiver.waitForCode();
    expect(await get(receiver.port, '/favicon.ico')).toBe(404);
    expect(await get(receiver.port, '/?code=abc&state=s1', `evil.example:${receiver.port}`)).toBe(400);
    expect(await get(receiver.port, '/?code=abc&state=s1')).toBe(200);
    await expect(code).resolves.toBe('abc');
    // A replayed callback finds nothing listening.
    expect(await get(receiver.port, '/?code=abc&state=s1')).toBe('ECONNREFUSED');
  });

  it.each([
    ['a wrong state', '/?code=abc&state=forged', /wrong state/, 'ERR_OAUTH_STATE'],
    ['no state', '/?code=abc', /wrong state/, 'ERR_OAUTH_STATE'],
    ['a wrong iss (RFC 9207 mix-up)', '/?code=abc&state=s1&iss=https%3A%2F%2Fattacker.example', /issuer "https:\/\/attacker\.example", not the one asked/, 'ERR_OAUTH_ISSUER_MISMATCH'],
    ['access_denied', '/?error=access_denied&error_description=user+said+no&state=s1', /access_denied \(user said no\)/, 'ERR_OAUTH_ACCESS_DENIED'],
  ])('refuses %s and closes', async (_name, path, message, code) => {
    const receiver = await startLoopbackReceiver({ state: 's1', issuer: 'https://op.example' });
    const waiting = receiver.waitForCode().catch((e: unknown) => e);
    expect(await get(receiver.port, path)).toBe(400);
    const error = await waiting;
    expect(isOAuthError(error)).toBe(true);
    expect((error as Error).message).toMatch(message);
    expect((error as { code: string }).code).toBe(code);
    expect(await get(receiver.port, '/?code=abc&state=s1')).toBe('ECONNREFUSED');
  });

  it('accepts a tenant-specific iss under a multi-tenant prefix and refuses others', () => {
    const expect_ = { state: 's', issuerPrefix: 'https://login.microsoftonline.com/' };
    expect(codeFromCallback(new URL('http://localhost/?code=c&state=s&iss=https%3A%2F%2Flogin.microsoftonline.com%2Ftid%2Fv2.0'), expect_)).toBe('c');
    expect(() => codeFromCallback(new URL('http://localhost/?code=c&state=s&iss=https%3A%2F%2Fevil.example'), expect_)).toThrow(/not the one asked/);
  });

  it('Entra ID style: redirect http://localhost:PORT (registered as http://localhost), still bound to 127.0.0.1, on the port asked', async () => {
    const { freePort } = await import('@smtpkit/testkit');
    const port = await freePort();
    const receiver = await startLoopbackReceiver({ state: 'm', redirectHost: 'localhost', redirectPath: '', port });
    expect(receiver.redirectUri).toBe(`http://localhost:${port}`);
    const code = receiver.waitForCode();
    expect(await get(port, '/?code=k&state=m', `localhost:${port}`)).toBe(200);
    await expect(code).resolves.toBe('k');
  });

  it('names the port when it is taken', async () => {
    const first = await startLoopbackReceiver({ state: 'x' });
    try {
      await expect(startLoopbackReceiver({ state: 'x', port: first.port })).rejects.toThrow(/cannot listen on 127\.0\.0\.1:\d+ .*EADDRINUSE \(choose another --port\)/);
    } finally {
      await first.close();
    }
  });
});

describe('browser flow against oidc-provider', () => {
  let op: OidcProviderServer;
  let provider: ProviderConfig;

  beforeAll(async () => {
    op = await startOidcProvider({ accessTokenTtl: 60 });
    provider = await discoverProvider(op.issuer, { clientId: op.clientId });
  });
  afterAll(async () => {
    await op?.stop();
  });

  it('signs in with PKCE and checks the iss the provider sends', async () => {
    const events: string[] = [];
    const tokens = await browserFlow(provider, {
      notify: (e) => events.push(e.type),
      openBrowser: async (url) => {
        expect(new URL(url).searchParams.get('code_challenge_method')).toBe('S256');
        void runScriptedBrowser(url, { login: 'erin@example.com' });
        return true;
      },
    });
    expect(events).toEqual(['browser']);
    expect(tokens.refreshToken).toBeTruthy();
    expect(tokens.expiresAt - tokens.obtainedAt).toBe(60_000);
  });

  it('a replayed authorization code is refused by the provider (invalid_grant)', async () => {
    const pkce = createPkce();
    const receiver = await startLoopbackReceiver({ state: 'st', issuer: provider.issuer! });
    const url = new URL(provider.authorizationEndpoint);
    for (const [k, v] of Object.entries({ client_id: provider.clientId, response_type: 'code', redirect_uri: receiver.redirectUri, scope: 'openid email offline_access', state: 'st', code_challenge: pkce.challenge, code_challenge_method: 'S256' })) url.searchParams.set(k, v);
    const waiting = receiver.waitForCode();
    await runScriptedBrowser(url.href);
    const code = await waiting;
    await exchangeCode(provider, code, receiver.redirectUri, pkce);
    const replay = await exchangeCode(provider, code, receiver.redirectUri, pkce).catch((e: unknown) => e);
    expect(replay).toMatchObject({ name: 'OAuthError', oauthError: 'invalid_grant', kind: 'auth' });
  });

  it('a code redeemed without the right PKCE verifier is refused', async () => {
    const pkce = createPkce();
    const receiver = await startLoopbackReceiver({ state: 'st2' });
    const url = new URL(provider.authorizationEndpoint);
    for (const [k, v] of Object.entries({ client_id: provider.clientId, response_type: 'code', redirect_uri: receiver.redirectUri, scope: 'openid', state: 'st2', code_challenge: pkce.challenge, code_challenge_method: 'S256' })) url.searchParams.set(k, v);
    const waiting = receiver.waitForCode();
    await runScriptedBrowser(url.href);
    const error = await exchangeCode(provider, await waiting, receiver.redirectUri, createPkce()).catch((e: unknown) => e);
    expect(error).toMatchObject({ oauthError: 'invalid_grant' });
  });
});
