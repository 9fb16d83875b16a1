import { OAuthError } from './errors.js';

/** What the store keeps secret for one account. */
export interface TokenSet {
  accessToken: string;
  refreshToken?: string;
  /** Milliseconds since the epoch when the access token expires. */
  expiresAt: number;
  /** When it was obtained, so the refresh margin can scale with the lifetime. */
  obtainedAt: number;
  idToken?: string;
  scope?: string;
  /** Google's "Desktop app" secret, needed by its token endpoint (not confidential, but kept out of sight). */
  clientSecret?: string;
}

/** Without `expires_in` (RFC 6749 §5.1 makes it optional) assume an hour, as the big providers issue. */
const DEFAULT_LIFETIME_S = 3600;

/**
 * The token set from a token endpoint's answer (RFC 6749 §5.1). A refresh answer without a
 * `refresh_token` keeps the previous one (§6: the provider MAY issue a new one).
 */
export function tokenSetFrom(json: Record<string, unknown>, now: number, previous?: Partial<TokenSet>): TokenSet {
  const accessToken = json.access_token;
  if (typeof accessToken !== 'string' || accessToken === '') {
    throw new OAuthError('the token endpoint answered without an access_token', { kind: 'protocol', code: 'ERR_OAUTH_NO_ACCESS_TOKEN' });
  }
  const tokenType = typeof json.token_type === 'string' ? json.token_type : 'Bearer';
  if (tokenType.toLowerCase() !== 'bearer') {
    throw new OAuthError(`the token endpoint issued a ${tokenType} token; SMTP needs a Bearer token (RFC 6750)`, { kind: 'protocol', code: 'ERR_OAUTH_TOKEN_TYPE' });
  }
  const expiresIn = Number(json.expires_in);
  const lifetime = Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : DEFAULT_LIFETIME_S;
  const refreshToken = typeof json.refresh_token === 'string' && json.refresh_token !== '' ? json.refresh_token : previous?.refreshToken;
  const idToken = typeof json.id_token === 'string' ? json.id_token : previous?.idToken;
  const scope = typeof json.scope === 'string' ? json.scope : previous?.scope;
  return {
    accessToken,
    ...(refreshToken ? { refreshToken } : {}),
    expiresAt: now + lifetime * 1000,
    obtainedAt: now,
    ...(idToken ? { idToken } : {}),
    ...(scope ? { scope } : {}),
    ...(previous?.clientSecret ? { clientSecret: previous.clientSecret } : {}),
  };
}

/** Refresh when less than this is left: 5 minutes, but at most a fifth of the token's lifetime. */
export const REFRESH_MARGIN_MS = 5 * 60_000;

/** How long before expiry a token is refreshed (proactive refresh). */
export function refreshMargin(tokens: Pick<TokenSet, 'expiresAt' | 'obtainedAt'>): number {
  return Math.min(REFRESH_MARGIN_MS, Math.max(0, tokens.expiresAt - tokens.obtainedAt) / 5);
}

/** True while the access token has more than the margin left. */
export function isFresh(tokens: Pick<TokenSet, 'expiresAt' | 'obtainedAt'>, now = Date.now()): boolean {
  return tokens.expiresAt - now > refreshMargin(tokens);
}

/**
 * The claims of an ID token, for showing which account signed in. The token came straight from the token
 * endpoint over the connection this client opened, so OpenID Connect Core §3.1.3.7 (6) lets the TLS server
 * check stand in for the signature check; nothing here grants access on the strength of these claims.
 */
export function idTokenClaims(idToken: string | undefined): Record<string, unknown> {
  if (!idToken) return {};
  const payload = idToken.split('.')[1];
  if (!payload) return {};
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    return typeof claims === 'object' && claims !== null ? (claims as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** The mailbox an ID token names: `email`, else Microsoft's `preferred_username` when it is an address. */
export function idTokenEmail(idToken: string | undefined): string | undefined {
  const claims = idTokenClaims(idToken);
  for (const key of ['email', 'preferred_username', 'upn']) {
    const value = claims[key];
    if (typeof value === 'string' && /^[^\s@]+@[^\s@]+$/.test(value)) return value;
  }
  return undefined;
}
