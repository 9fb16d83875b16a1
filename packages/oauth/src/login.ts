import { AccountStore, checkAccountName, type AccountRecord, type AccountStoreOptions } from './account-store.js';
import { OAuthError } from './errors.js';
import { browserFlow, deviceFlow, pasteFlow, type FlowIO } from './flows.js';
import type { ProviderConfig } from './providers.js';
import { idTokenClaims, idTokenEmail, type TokenSet } from './token-set.js';

/** The sign-in flows; `auto` picks one. */
export type FlowName = 'auto' | 'browser' | 'device' | 'paste';

/** Options for {@link login}. */
export interface LoginOptions extends AccountStoreOptions {
  provider: ProviderConfig;
  flow: FlowName;
  io: FlowIO;
  /** Account name (default: the mailbox). */
  account?: string;
  /** The mailbox; default: the ID token's `email`. Also sent as `login_hint`. */
  user?: string;
  store?: 'auto' | 'keyring' | 'file';
  /** Loopback port for the browser flow. */
  port?: number;
  tenant?: string;
  /** Whether a browser can be opened here (for `auto`). */
  canOpenBrowser: boolean;
  timeoutMs?: number;
}

/** What {@link login} did. */
export interface LoginResult {
  account: AccountRecord;
  flow: Exclude<FlowName, 'auto'>;
  /** The mailbox the ID token names, if it names one. */
  idTokenUser?: string;
  /** Display claims of the ID token (name, email, tid…). */
  claims: Record<string, unknown>;
}

/** `auto`: a browser when one can be opened, else the device flow where the provider allows it, else paste. */
export function pickFlow(flow: FlowName, provider: ProviderConfig, canOpenBrowser: boolean): Exclude<FlowName, 'auto'> {
  if (flow !== 'auto') return flow;
  if (canOpenBrowser) return 'browser';
  return provider.deviceAuthorizationEndpoint ? 'device' : 'paste';
}

/**
 * Signs in with the chosen flow and stores the result: the token set in the keyring or a 0600 file, the
 * metadata in accounts.json. Replacing an account removes its tokens from the store it used before.
 */
export async function login(options: LoginOptions): Promise<LoginResult> {
  const provider = options.provider;
  const flow = pickFlow(options.flow, provider, options.canOpenBrowser);
  if (flow === 'device' && !provider.deviceAuthorizationEndpoint) {
    throw new OAuthError(`--flow device is not available for ${provider.provider}: ${provider.deviceRefusal ?? 'no device endpoint'}`, { kind: 'usage', code: 'ERR_OAUTH_NO_DEVICE_FLOW' });
  }
  if (options.account !== undefined) checkAccountName(options.account);
  const store = new AccountStore(options);
  // Choose the store before the user signs in, so a broken keyring fails before the browser opens.
  const where = await store.chooseStore(options.store ?? 'auto');
  const flowOptions = {
    ...(options.user ? { loginHint: options.user } : {}),
    ...(options.port !== undefined ? { port: options.port } : {}),
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
  };
  const tokens: TokenSet =
    flow === 'browser' ? await browserFlow(provider, options.io, flowOptions)
    : flow === 'device' ? await deviceFlow(provider, options.io, flowOptions)
    : await pasteFlow(provider, options.io, flowOptions);

  const idTokenUser = idTokenEmail(tokens.idToken);
  const user = options.user ?? idTokenUser;
  if (!user) {
    throw new OAuthError('the sign-in did not say which mailbox it is for (no email in the ID token): pass --user EMAIL', { kind: 'usage', code: 'ERR_OAUTH_NO_USER' });
  }
  const name = checkAccountName(options.account ?? user);
  const previous = await store.get(name).catch(() => undefined);
  const now = new Date().toISOString();
  const account: AccountRecord = {
    name,
    provider: provider.provider,
    user,
    ...where,
    clientId: provider.clientId,
    ...(options.tenant ? { tenant: options.tenant } : {}),
    ...(provider.issuer ? { issuer: provider.issuer } : {}),
    tokenEndpoint: provider.tokenEndpoint,
    ...(provider.revocationEndpoint ? { revocationEndpoint: provider.revocationEndpoint } : {}),
    scopes: provider.scopes,
    scopeOnRefresh: provider.scopeOnRefresh,
    ...(provider.smtp ? { smtp: provider.smtp } : {}),
    createdAt: now,
    accessTokenExpiresAt: new Date(tokens.expiresAt).toISOString(),
  };
  await store.writeTokens(account, tokens);
  if (previous && (previous.store !== account.store || previous.keyring !== account.keyring)) {
    await store.secrets(previous).delete(name).catch(() => undefined);
  }
  await store.put(account);
  return { account, flow, ...(idTokenUser ? { idTokenUser } : {}), claims: displayClaims(idTokenClaims(tokens.idToken)) };
}

function displayClaims(claims: Record<string, unknown>): Record<string, unknown> {
  const keep = ['iss', 'sub', 'email', 'name', 'preferred_username', 'tid'];
  return Object.fromEntries(Object.entries(claims).filter(([k]) => keep.includes(k)));
}
