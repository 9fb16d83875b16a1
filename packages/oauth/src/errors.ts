/**
 * What went wrong, for callers that map errors to exit codes:
 * - `usage`: a flag combination that cannot work (device flow for Google)
 * - `config`: the app registration or the local setup is wrong (client id, redirect URI, tenant, unsafe token file)
 * - `auth`: the user or the provider said no, or the grant is gone: sign in again
 * - `protocol`: the provider answered something that is not OAuth (an HTML page, a missing field, a wrong `state`)
 * - `unavailable`: network trouble, a 5xx, `temporarily_unavailable`, a timeout: try again later
 */
export type OAuthErrorKind = 'usage' | 'config' | 'auth' | 'protocol' | 'unavailable';

/** Fields of {@link OAuthError} besides the message. */
export interface OAuthErrorInit {
  kind: OAuthErrorKind;
  /** Stable machine-readable code, `ERR_OAUTH_*`. */
  code: string;
  /** The RFC 6749 §5.2 `error` the provider sent (`invalid_grant`), when it sent one. */
  oauthError?: string;
  /** The provider's `error_description`, cut to one line; never holds a token (providers do not echo them). */
  description?: string;
  /** HTTP status of the provider's answer. */
  status?: number;
  /** What the user can do about it. */
  hint?: string;
  /** True when only a new `smtpkit login` helps (the refresh token is gone or revoked). */
  reloginNeeded?: boolean;
  cause?: unknown;
}

const BRAND = Symbol.for('smtpkit.OAuthError');

/**
 * The one error class of `@smtpkit/oauth`. Its message names the problem and the fix; it never carries a
 * token, an authorization code, a PKCE verifier or a client secret.
 */
export class OAuthError extends Error {
  override readonly name = 'OAuthError';
  readonly kind: OAuthErrorKind;
  readonly code: string;
  readonly oauthError?: string;
  readonly description?: string;
  readonly status?: number;
  readonly hint?: string;
  readonly reloginNeeded: boolean;
  readonly [BRAND] = true;

  constructor(message: string, init: OAuthErrorInit) {
    super(message, { cause: init.cause });
    this.kind = init.kind;
    this.code = init.code;
    if (init.oauthError !== undefined) this.oauthError = init.oauthError;
    if (init.description !== undefined) this.description = init.description;
    if (init.status !== undefined) this.status = init.status;
    if (init.hint !== undefined) this.hint = init.hint;
    this.reloginNeeded = init.reloginNeeded === true;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return isOAuthError(value);
  }
}

/** True for an {@link OAuthError}, even one from another copy of this package. */
export function isOAuthError(value: unknown): value is OAuthError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}

/** Known provider failures and what to do about them (the text after "hint:"). */
interface KnownFailure {
  match: RegExp;
  kind: OAuthErrorKind;
  hint: string;
}

// Microsoft Entra ID puts an AADSTS number in error_description; Google uses plain OAuth codes.
const KNOWN: readonly KnownFailure[] = [
  { match: /AADSTS53003/, kind: 'auth', hint: 'Conditional Access blocks this sign-in flow for your account: try `--flow browser` (or ask IT to allow device code flow)' },
  { match: /AADSTS50011/, kind: 'config', hint: 'the redirect URI is not registered: add the platform "Mobile and desktop applications" with redirect URI http://localhost to the app registration' },
  { match: /AADSTS7000112/, kind: 'config', hint: 'the application is disabled in the tenant: ask IT to enable it, or use your own app registration (--client-id)' },
  { match: /AADSTS700016/, kind: 'config', hint: 'no application with this client id in this tenant: check --client-id and --tenant (use `organizations` or your tenant id)' },
  { match: /AADSTS65001/, kind: 'auth', hint: 'consent is needed: ask IT to grant admin consent for SMTP.Send, offline_access, openid and email to this app' },
  { match: /AADSTS7000218/, kind: 'config', hint: 'the app is not a public client: enable "Allow public client flows" in the app registration' },
  { match: /AADSTS900144/, kind: 'protocol', hint: 'the request lacked a required parameter (Microsoft wants `scope` on refresh)' },
  { match: /AADSTS700082|AADSTS70008/, kind: 'auth', hint: 'the refresh token expired after a long time unused' },
  { match: /AADSTS50173|AADSTS50078|AADSTS50076|AADSTS50079/, kind: 'auth', hint: 'your password or MFA settings changed since the last sign-in' },
];

/**
 * Turns a provider's `{ error, error_description }` into an {@link OAuthError} with the fix attached.
 * `what` says which step failed ("token refresh for account work").
 */
export function providerError(
  what: string,
  body: { error?: unknown; error_description?: unknown },
  context: { status?: number; provider?: string; account?: string } = {},
): OAuthError {
  const error = typeof body.error === 'string' ? body.error : 'unknown_error';
  const description = typeof body.error_description === 'string' ? oneLine(body.error_description).slice(0, 300) : undefined;
  const known = KNOWN.find((k) => k.match.test(description ?? ''));
  let kind: OAuthErrorKind = known?.kind ?? kindOf(error, context.status);
  let hint = known?.hint;
  const reloginNeeded = error === 'invalid_grant';
  if (reloginNeeded) {
    kind = 'auth';
    const again = `run \`smtpkit login ${context.account ?? 'NAME'}\` again`;
    const why =
      context.provider === 'google'
        ? 'Google: refresh tokens of an OAuth app left in "Testing" die after 7 days; publish the app (In production) to keep them'
        : hint;
    hint = why ? `${again} (${why})` : again;
  } else if (!hint && error === 'invalid_client') {
    hint = 'the client id or secret is wrong, or the app is not a public client';
  } else if (!hint && error === 'invalid_scope') {
    hint = context.provider === 'google' ? "Google's device flow refuses the https://mail.google.com/ scope: use --flow browser or paste" : 'the provider does not grant this scope to this app';
  }
  // The way out belongs in the message itself: it reaches the user even when wrapped by the SMTP client.
  const message = `${what} failed: ${error}${description ? ` (${description})` : ''}${reloginNeeded ? `: ${hint}` : ''}`;
  return new OAuthError(message, {
    kind,
    code: reloginNeeded ? 'ERR_OAUTH_RELOGIN' : `ERR_OAUTH_${error.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}`,
    oauthError: error,
    ...(description !== undefined ? { description } : {}),
    ...(context.status !== undefined ? { status: context.status } : {}),
    ...(hint !== undefined ? { hint } : {}),
    reloginNeeded,
  });
}

function kindOf(error: string, status: number | undefined): OAuthErrorKind {
  switch (error) {
    case 'invalid_grant':
    case 'access_denied':
    case 'authorization_declined':
    case 'expired_token':
    case 'consent_required':
    case 'interaction_required':
    case 'login_required':
      return 'auth';
    case 'invalid_client':
    case 'unauthorized_client':
    case 'unsupported_grant_type':
    case 'invalid_scope':
    case 'unsupported_response_type':
      return 'config';
    case 'temporarily_unavailable':
    case 'server_error':
      return 'unavailable';
    default:
      return status !== undefined && status >= 500 ? 'unavailable' : 'protocol';
  }
}

/** Collapses control characters so a provider's text cannot forge output lines. */
export function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x1f\x7f]+/g, ' ').trim();
}
