import { AccountStore, type AccountRecord, type AccountStoreOptions } from './account-store.js';
import { OAuthError } from './errors.js';
import { postForm } from './http.js';
import { withLock } from './lock.js';
import { isFresh, tokenSetFrom, type TokenSet } from './token-set.js';

/** Options for {@link getAccessToken}. */
export interface GetAccessTokenOptions extends AccountStoreOptions {
  /** Refresh even if the token looks valid (the server refused it). */
  forceRefresh?: boolean;
  /**
   * The token the server refused. If the store holds another, fresh one (a concurrent process refreshed
   * in between), that one is used and no refresh happens.
   */
  rejectedToken?: string;
  signal?: AbortSignal;
  /** Use this store instead of one built from the environment. */
  store?: AccountStore;
}

/** A usable access token and where it came from. */
export interface AccessTokenResult {
  accessToken: string;
  /** The mailbox, for XOAUTH2 `user=` / OAUTHBEARER `a=`. */
  user: string;
  /** True when this call asked the provider for it. */
  refreshed: boolean;
  expiresAt: number;
  account: AccountRecord;
}

function usable(tokens: TokenSet, options: GetAccessTokenOptions): boolean {
  if (!isFresh(tokens)) return false;
  if (!options.forceRefresh) return true;
  return options.rejectedToken !== undefined && tokens.accessToken !== options.rejectedToken;
}

/**
 * A fresh access token for a stored account. The stored one is used while more than the refresh margin
 * is left (5 minutes, at most a fifth of its lifetime). Otherwise, under the account's lock file, the store
 * is read again (another process may just have refreshed) and only then is the provider asked. The new
 * token set, with the rotated refresh token, is written to the store before the access token is returned.
 *
 * @example
 * const { accessToken, user } = await getAccessToken('work');
 */
export async function getAccessToken(name: string, options: GetAccessTokenOptions = {}): Promise<AccessTokenResult> {
  const store = options.store ?? new AccountStore(options);
  const account = await store.get(name);
  const tokens = await store.readTokens(account);
  if (usable(tokens, options)) return { accessToken: tokens.accessToken, user: account.user, refreshed: false, expiresAt: tokens.expiresAt, account };

  return withLock(store.lockFile(name), async () => {
    const current = await store.get(name);
    const latest = await store.readTokens(current);
    if (usable(latest, options)) return { accessToken: latest.accessToken, user: current.user, refreshed: false, expiresAt: latest.expiresAt, account: current };
    const next = await refreshTokens(current, latest, options.signal);
    // Persist first: the provider has already retired the old refresh token (rotation).
    await store.writeTokens(current, next);
    const updated: AccountRecord = { ...current, accessTokenExpiresAt: new Date(next.expiresAt).toISOString(), lastRefreshAt: new Date(next.obtainedAt).toISOString() };
    await store.patch(name, { accessTokenExpiresAt: updated.accessTokenExpiresAt, lastRefreshAt: updated.lastRefreshAt! });
    return { accessToken: next.accessToken, user: current.user, refreshed: true, expiresAt: next.expiresAt, account: updated };
  });
}

/** One refresh_token grant (RFC 6749 §6). */
export async function refreshTokens(account: AccountRecord, tokens: TokenSet, signal?: AbortSignal): Promise<TokenSet> {
  if (!tokens.refreshToken) {
    throw new OAuthError(`account "${account.name}" has no refresh token (offline_access was not granted): run \`smtpkit login ${account.name}\` again`, {
      kind: 'auth',
      code: 'ERR_OAUTH_RELOGIN',
      reloginNeeded: true,
    });
  }
  const json = await postForm(
    account.tokenEndpoint,
    {
      grant_type: 'refresh_token',
      refresh_token: tokens.refreshToken,
      client_id: account.clientId,
      ...(tokens.clientSecret ? { client_secret: tokens.clientSecret } : {}),
      // Microsoft requires the scope again (AADSTS900144); others keep the granted one.
      ...(account.scopeOnRefresh ? { scope: account.scopes.join(' ') } : {}),
    },
    { what: `token refresh for account "${account.name}"`, provider: account.provider, account: account.name, ...(signal ? { signal } : {}) },
  );
  return tokenSetFrom(json, Date.now(), tokens);
}

/**
 * An `auth.accessToken` provider for `@smtpkit/client` backed by a stored account: the first call gives the
 * stored (or proactively refreshed) token; a call with `refresh: true` (the server refused the token) refreshes
 * once, unless another process already did.
 *
 * @example
 * const session = await connect({ host: 'smtp.office365.com', port: 587, tls: 'starttls',
 *   auth: { user: 'me@example.edu', method: 'XOAUTH2', accessToken: accountTokenProvider('work') } });
 */
export function accountTokenProvider(name: string, options: Omit<GetAccessTokenOptions, 'forceRefresh' | 'rejectedToken'> = {}): (ctx: { user: string; refresh: boolean }) => Promise<string> {
  let last: string | undefined;
  return async ({ refresh }) => {
    const result = await getAccessToken(name, { ...options, ...(refresh ? { forceRefresh: true, ...(last ? { rejectedToken: last } : {}) } : {}) });
    last = result.accessToken;
    return result.accessToken;
  };
}
