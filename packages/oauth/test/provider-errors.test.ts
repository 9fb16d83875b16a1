import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { freePort } from '@smtpkit/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceFlow, googleProvider, refreshTokens, type AccountRecord, type OAuthErrorKind } from '../src/index.js';

// Each row: what a provider's token endpoint answers to a refresh → the error kind (the CLI maps it to an
// exit code), whether only a new login helps, and the words of the fix the user is shown.
const rows: Array<[string, 'microsoft' | 'google' | 'oidc', number, string, string, OAuthErrorKind, boolean, RegExp]> = [
  ['Microsoft: refresh token expired (AADSTS700082)', 'microsoft', 400, 'application/json',
    JSON.stringify({ error: 'invalid_grant', error_description: 'AADSTS700082: The refresh token has expired due to inactivity.' }),
    'auth', true, /invalid_grant \(AADSTS700082.*\): run `smtpkit login work` again \(the refresh token expired after a long time unused\)/],
  ['Google: "Testing" project, token dead after 7 days', 'google', 400, 'application/json',
    JSON.stringify({ error: 'invalid_grant', error_description: 'Token has been expired or revoked.' }),
    'auth', true, /run `smtpkit login work` again \(Google: refresh tokens of an OAuth app left in "Testing" die after 7 days/],
  ['Conditional Access blocks the flow (AADSTS53003)', 'microsoft', 400, 'application/json',
    JSON.stringify({ error: 'invalid_grant', error_description: 'AADSTS53003: Access has been blocked by Conditional Access policies.' }),
    'auth', true, /try `--flow browser`/],
  ['redirect URI not registered (AADSTS50011)', 'microsoft', 400, 'application/json',
    JSON.stringify({ error: 'invalid_request', error_description: 'AADSTS50011: The redirect URI specified in the request does not match.' }),
    'config', false, /redirect URI http:\/\/localhost/],
  ['app disabled (AADSTS7000112)', 'microsoft', 400, 'application/json',
    JSON.stringify({ error: 'unauthorized_client', error_description: 'AADSTS7000112: Application is disabled.' }),
    'config', false, /application is disabled in the tenant/],
  ['wrong tenant or client id (AADSTS700016)', 'microsoft', 400, 'application/json',
    JSON.stringify({ error: 'unauthorized_client', error_description: "AADSTS700016: Application with identifier 'x' was not found in the directory." }),
    'config', false, /check --client-id and --tenant/],
  ['consent needed (AADSTS65001)', 'microsoft', 400, 'application/json',
    JSON.stringify({ error: 'invalid_grant', error_description: 'AADSTS65001: The user or administrator has not consented to use the application.' }),
    'auth', true, /ask IT to grant admin consent/],
  ['scope missing on refresh (AADSTS900144)', 'microsoft', 400, 'application/json',
    JSON.stringify({ error: 'invalid_request', error_description: "AADSTS900144: The request body must contain the following parameter: 'scope'." }),
    'protocol', false, /Microsoft wants `scope` on refresh/],
  ['invalid_client', 'oidc', 401, 'application/json', JSON.stringify({ error: 'invalid_client' }), 'config', false, /client id or secret is wrong/],
  ['temporarily_unavailable', 'oidc', 503, 'application/json', JSON.stringify({ error: 'temporarily_unavailable' }), 'unavailable', false, /temporarily_unavailable/],
  ['an HTML error page instead of JSON', 'microsoft', 500, 'text/html', '<html><body><h1>Sorry, something went wrong</h1></body></html>',
    'unavailable', false, /answered HTTP 500 with text\/html, not JSON: "Sorry, something went wrong"/],
  ['a captive portal answering 200 with HTML', 'oidc', 200, 'text/html; charset=utf-8', '<!doctype html><title>Login to Wi-Fi</title>',
    'protocol', false, /answered HTTP 200 with text\/html, not JSON/],
  ['a 200 without access_token', 'oidc', 200, 'application/json', JSON.stringify({ token_type: 'Bearer' }), 'protocol', false, /without an access_token/],
];

describe('provider failures → error kind and fix', () => {
  let server: Server;
  let base: string;
  let next: { status: number; type: string; body: string } = { status: 200, type: 'application/json', body: '{}' };
  const forms: URLSearchParams[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString()));
      req.on('end', () => {
        forms.push(new URLSearchParams(text));
        res.writeHead(next.status, { 'content-type': next.type }).end(next.body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  const account = (provider: 'microsoft' | 'google' | 'oidc'): AccountRecord => ({
    name: 'work', provider, user: 'me@example.edu', store: 'file', clientId: 'client-1', tokenEndpoint: `${base}/token`,
    scopes: ['https://outlook.office.com/SMTP.Send', 'offline_access'], scopeOnRefresh: provider === 'microsoft',
    createdAt: '', accessTokenExpiresAt: '',
  });
  const tokens = { accessToken: 'at-secret-1', refreshToken: 'rt-secret-1', expiresAt: 0, obtainedAt: 0 };

  it.each(rows)('%s', async (_name, provider, status, type, body, kind, relogin, hint) => {
    next = { status, type, body };
    const error = (await refreshTokens(account(provider), tokens).catch((e: unknown) => e)) as Error & { kind: string; reloginNeeded: boolean; hint?: string };
    expect(error.name).toBe('OAuthError');
    expect(error.kind).toBe(kind);
    expect(error.reloginNeeded).toBe(relogin);
    expect(`${error.message} ${error.hint ?? ''}`).toMatch(hint);
    expect(error.message).not.toContain('rt-secret-1');
    expect(error.message).not.toContain('at-secret-1');
  });

  it('sends scope again on a Microsoft refresh, and not elsewhere', async () => {
    next = { status: 200, type: 'application/json', body: JSON.stringify({ access_token: 'a2', token_type: 'Bearer', expires_in: 3600 }) };
    forms.length = 0;
    const refreshed = await refreshTokens(account('microsoft'), tokens);
    await refreshTokens(account('oidc'), tokens);
    expect(forms[0]!.get('scope')).toBe('https://outlook.office.com/SMTP.Send offline_access');
    expect(forms[1]!.has('scope')).toBe(false);
    // No refresh_token in the answer: the old one stays (RFC 6749 §6).
    expect(refreshed.refreshToken).toBe('rt-secret-1');
  });

  it('a provider that is not there is "unavailable", naming the origin', async () => {
    const port = await freePort();
    const gone = { ...account('oidc'), tokenEndpoint: `http://127.0.0.1:${port}/token` };
    await expect(refreshTokens(gone, tokens)).rejects.toMatchObject({ kind: 'unavailable', message: expect.stringContaining(`cannot reach http://127.0.0.1:${port}: ECONNREFUSED`) });
  });

  it('refuses the device flow for Google up front, with the reason', async () => {
    const google = googleProvider({ clientId: 'id', clientSecret: 'not-confidential' });
    await expect(deviceFlow(google, { notify: () => undefined })).rejects.toMatchObject({
      kind: 'usage',
      message: expect.stringMatching(/--flow device is not available for google: Google's device flow refuses the https:\/\/mail\.google\.com\/ scope/),
    });
  });
});
