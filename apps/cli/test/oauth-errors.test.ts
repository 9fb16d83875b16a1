import { SmtpError } from '@smtpkit/client';
import { OAuthError, providerError } from '@smtpkit/oauth';
import { describe, expect, it } from 'vitest';
import { describeOAuthError } from '../src/commands/oauth-errors.js';
import { EXIT, exitCodeFor } from '../src/exit-codes.js';

// Provider answers (RFC 6749 §5.2 bodies as Entra ID and Google send them) → the line the user reads and the
// exit code: 77 when signing in again (or differently) is the fix, 78 when the app registration is.
const rows: Array<[string, { provider: string; body: { error: string; error_description?: string }; status: number }, RegExp, number]> = [
  ['grant revoked or expired', { provider: 'oidc', body: { error: 'invalid_grant', error_description: 'grant request is invalid' }, status: 400 },
    /token refresh for account "work" failed: invalid_grant \(grant request is invalid\): run `smtpkit login work` again/, EXIT.NOPERM],
  ['Gmail refresh token dead after 7 days', { provider: 'google', body: { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' }, status: 400 },
    /run `smtpkit login work` again \(Google: .*"Testing" die after 7 days/, EXIT.NOPERM],
  ['AADSTS53003 Conditional Access', { provider: 'microsoft', body: { error: 'access_denied', error_description: 'AADSTS53003: Access has been blocked by Conditional Access policies.' }, status: 400 },
    /\(hint: Conditional Access blocks this sign-in flow .*try `--flow browser`/, EXIT.NOPERM],
  ['AADSTS65001 consent', { provider: 'microsoft', body: { error: 'consent_required', error_description: 'AADSTS65001: The user or administrator has not consented.' }, status: 400 },
    /\(hint: consent is needed: ask IT to grant admin consent/, EXIT.NOPERM],
  ['AADSTS50011 redirect URI', { provider: 'microsoft', body: { error: 'invalid_request', error_description: 'AADSTS50011: The redirect URI does not match.' }, status: 400 },
    /\(hint: the redirect URI is not registered/, EXIT.CONFIG],
  ['AADSTS7000112 app disabled', { provider: 'microsoft', body: { error: 'unauthorized_client', error_description: 'AADSTS7000112: Application is disabled.' }, status: 400 },
    /\(hint: the application is disabled in the tenant/, EXIT.CONFIG],
  ['AADSTS700016 wrong tenant or client id', { provider: 'microsoft', body: { error: 'unauthorized_client', error_description: 'AADSTS700016: Application not found in the directory.' }, status: 400 },
    /\(hint: no application with this client id in this tenant/, EXIT.CONFIG],
  ['invalid_client', { provider: 'oidc', body: { error: 'invalid_client' }, status: 401 }, /\(hint: the client id or secret is wrong/, EXIT.CONFIG],
  ['Google device flow and the mail scope', { provider: 'google', body: { error: 'invalid_scope' }, status: 400 }, /device flow refuses the https:\/\/mail\.google\.com\/ scope/, EXIT.CONFIG],
  ['server_error', { provider: 'oidc', body: { error: 'server_error' }, status: 500 }, /server_error/, EXIT.TEMPFAIL],
  ['a non-standard error', { provider: 'oidc', body: { error: 'weird_thing' }, status: 400 }, /weird_thing/, EXIT.PROTOCOL],
];

describe('provider failures → message and exit code', () => {
  it.each(rows)('%s', (_name, { provider, body, status }, line, exit) => {
    const error = providerError('token refresh for account "work"', body, { status, provider, account: 'work' });
    expect(exitCodeFor(error)).toBe(exit);
    expect(describeOAuthError(error)).toMatch(line);
    // Inside AUTH the client wraps the provider's failure; the exit code stays the same.
    const wrapped = new SmtpError(`getting an OAuth 2.0 access token failed: ${error.message}`, { kind: 'auth', code: 'ERR_SMTP_AUTH_TOKEN', cause: error });
    expect(exitCodeFor(wrapped)).toBe(exit);
  });

  it.each([
    ['usage', EXIT.USAGE], ['config', EXIT.CONFIG], ['auth', EXIT.NOPERM], ['protocol', EXIT.PROTOCOL], ['unavailable', EXIT.TEMPFAIL],
  ] as const)('OAuthError kind %s → exit %i', (kind, exit) => {
    expect(exitCodeFor(new OAuthError('x', { kind, code: 'ERR_OAUTH_TEST' }))).toBe(exit);
  });

  it('SMTP refusals after login keep their own hints (535 5.7.139, 535 5.7.3)', () => {
    const r = (text: string) => ({ code: 535, lines: [text], text });
    const disabled = new SmtpError('AUTH XOAUTH2 failed', { kind: 'auth', code: 'ERR_SMTP_AUTH_CREDENTIALS', replyCode: 535, reply: r('5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.') as never, hint: 'Office 365: SMTP AUTH is disabled for this tenant or mailbox' });
    expect(exitCodeFor(disabled)).toBe(EXIT.NOPERM);
    expect(describeOAuthError(disabled, 'signed in and stored account "work", but the SMTP check failed: ')).toMatch(/SMTP check failed: AUTH XOAUTH2 failed \(hint: Office 365: SMTP AUTH is disabled/);
  });
});
