export { OAuthError, isOAuthError, providerError } from './errors.js';
export type { OAuthErrorInit, OAuthErrorKind } from './errors.js';
export { createPkce, randomState } from './pkce.js';
export type { Pkce } from './pkce.js';
export { tokenSetFrom, isFresh, refreshMargin, idTokenClaims, idTokenEmail, REFRESH_MARGIN_MS } from './token-set.js';
export type { TokenSet } from './token-set.js';
export {
  microsoftProvider, googleProvider, readGoogleClientFile, discoverProvider, MICROSOFT_SCOPES, GOOGLE_SCOPES,
} from './providers.js';
export type { DiscoverOptions, GoogleClient, MicrosoftOptions, ProviderConfig, ProviderName } from './providers.js';
export { codeFromCallback, startLoopbackReceiver } from './loopback.js';
export type { CallbackExpectations, LoopbackOptions, LoopbackReceiver } from './loopback.js';
export { authorizationUrl, browserFlow, deviceFlow, exchangeCode, pasteFlow } from './flows.js';
export type { FlowIO, FlowOptions, LoginEvent } from './flows.js';
export { FileSecretStore, KeyringSecretStore, defaultKeyringBackend } from './secret-store.js';
export type { KeyringBackend, KeyringOptions, SecretStore } from './secret-store.js';
export { withLock } from './lock.js';
export type { LockOptions } from './lock.js';
export { AccountStore, checkAccountName } from './account-store.js';
export type { AccountRecord, AccountStoreOptions } from './account-store.js';
export { accountTokenProvider, getAccessToken, refreshTokens } from './refresh.js';
export type { AccessTokenResult, GetAccessTokenOptions } from './refresh.js';
export { login, pickFlow } from './login.js';
export type { FlowName, LoginOptions, LoginResult } from './login.js';
export { logout } from './revoke.js';
export type { LogoutResult } from './revoke.js';
