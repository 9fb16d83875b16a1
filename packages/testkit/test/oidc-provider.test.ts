import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScriptedBrowser, startOidcProvider, type OidcProviderServer } from '../src/index.js';

const form = (params: Record<string, string>) => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(params),
});

describe('startOidcProvider + runScriptedBrowser', () => {
  let op: OidcProviderServer;
  let meta: Record<string, string>;

  beforeAll(async () => {
    op = await startOidcProvider({ accessTokenTtl: 60 });
    meta = (await (await fetch(`${op.issuer}/.well-known/openid-configuration`)).json()) as Record<string, string>;
  });
  afterAll(async () => {
    await op?.stop();
  });

  it('runs the code flow with PKCE, rotates the refresh token and introspects the access token', async () => {
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    let callback: URL | undefined;
    const listener = createServer((req, res) => {
      callback = new URL(req.url ?? '/', 'http://127.0.0.1');
      res.end('done');
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const redirectUri = `http://127.0.0.1:${(listener.address() as AddressInfo).port}/`;
    try {
      const auth = new URL(meta.authorization_endpoint!);
      auth.search = new URLSearchParams({
        client_id: op.clientId, response_type: 'code', redirect_uri: redirectUri, scope: 'openid email offline_access',
        state: 'st-1', code_challenge: challenge, code_challenge_method: 'S256',
      }).toString();
      await runScriptedBrowser(auth.href, { login: 'carol@example.com' });
    } finally {
      listener.close();
    }
    expect(callback?.searchParams.get('state')).toBe('st-1');
    expect(callback?.searchParams.get('iss')).toBe(op.issuer);
    const code = callback!.searchParams.get('code')!;
    const tokens = (await (await fetch(meta.token_endpoint!, form({
      grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: op.clientId, code_verifier: verifier,
    }))).json()) as Record<string, string>;
    expect(tokens).toMatchObject({ token_type: 'Bearer' });
    expect(tokens.refresh_token).toBeTruthy();

    const refreshed = (await (await fetch(meta.token_endpoint!, form({
      grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: op.clientId,
    }))).json()) as Record<string, string>;
    expect(refreshed.refresh_token).toBeTruthy();
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    expect(op.refreshCount()).toBe(1);

    const introspected = (await (await fetch(op.introspection.url, form({
      token: refreshed.access_token!, client_id: op.introspection.clientId, client_secret: op.introspection.clientSecret,
    }))).json()) as Record<string, unknown>;
    expect(introspected).toMatchObject({ active: true, sub: 'carol@example.com' });
  });

  it('runs the device flow with the interval it adds and the scripted user entering the code', async () => {
    const device = (await (await fetch(meta.device_authorization_endpoint!, form({
      client_id: op.clientId, scope: 'openid email offline_access',
    }))).json()) as Record<string, string | number>;
    expect(device.interval).toBe(1);
    await runScriptedBrowser(String(device.verification_uri), { userCode: String(device.user_code), login: 'dave@example.com' });
    const tokens = (await (await fetch(meta.token_endpoint!, form({
      grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: String(device.device_code), client_id: op.clientId,
    }))).json()) as Record<string, string>;
    expect(tokens.access_token).toBeTruthy();
    expect(tokens.refresh_token).toBeTruthy();
  });
});
