import { AccountStore, type AccountStoreOptions } from './account-store.js';
import type { OAuthError } from './errors.js';
import { postForm } from './http.js';

/** What {@link logout} did. */
export interface LogoutResult {
  removed: boolean;
  /** True when the provider confirmed the revocation (RFC 7009 §2.2). */
  revoked: boolean;
  /** True when `revoke` was asked for but the provider has no revocation endpoint. */
  revocationUnavailable?: boolean;
}

/**
 * Forgets an account: its tokens and its metadata. With `revoke`, the refresh token is first revoked at
 * the provider's revocation endpoint (RFC 7009; Google has one, Entra ID has none for this), so the grant
 * ends there too; where there is no endpoint this is said, and the account is still removed here.
 */
export async function logout(name: string, options: AccountStoreOptions & { revoke?: boolean; signal?: AbortSignal } = {}): Promise<LogoutResult> {
  const store = new AccountStore(options);
  const account = await store.get(name);
  let revoked = false;
  if (options.revoke) {
    if (!account.revocationEndpoint) {
      // Entra ID has no RFC 7009 endpoint: forget the account here; the user removes the app's access in
      // their account settings (or the tokens simply expire).
      await store.secrets(account).delete(name);
      return { removed: await store.remove(name), revoked: false, revocationUnavailable: true };
    }
    const tokens = await store.readTokens(account).catch(() => undefined);
    const token = tokens?.refreshToken ?? tokens?.accessToken;
    if (token) {
      await postForm(
        account.revocationEndpoint,
        { token, token_type_hint: tokens?.refreshToken ? 'refresh_token' : 'access_token', client_id: account.clientId, ...(tokens?.clientSecret ? { client_secret: tokens.clientSecret } : {}) },
        { what: 'revoking the grant', provider: account.provider, account: name, ...(options.signal ? { signal: options.signal } : {}) },
      ).catch((error: unknown) => {
        // RFC 7009 §2.2: the endpoint answers 200 with an empty body; postForm wants JSON.
        if ((error as OAuthError).code === 'ERR_OAUTH_NOT_JSON' && (error as OAuthError).status === 200) return {};
        throw error;
      });
      revoked = true;
    }
  }
  await store.secrets(account).delete(name);
  const removed = await store.remove(name);
  return { removed, revoked };
}
