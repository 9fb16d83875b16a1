import { readFile } from 'node:fs/promises';
import { OAuthError } from './errors.js';
import { getJson } from './http.js';

/** The provider kinds `smtpkit login` knows. */
export type ProviderName = 'microsoft' | 'google' | 'oidc';

/** Everything a flow and a refresh need to talk to one provider with one app registration. */
export interface ProviderConfig {
  provider: ProviderName;
  clientId: string;
  /** Google's "Desktop app" secret (required by its token endpoint, not confidential). */
  clientSecret?: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  /** RFC 8628 §3.1; absent where the provider has none or refuses mail scopes in it. */
  deviceAuthorizationEndpoint?: string;
  /** Why the device flow cannot be used, when it cannot. */
  deviceRefusal?: string;
  /** RFC 7009 revocation endpoint. */
  revocationEndpoint?: string;
  /** The issuer the authorization response's `iss` must equal (RFC 9207 §2.4), when one is fixed. */
  issuer?: string;
  /** For multi-tenant issuers: the prefix every legitimate `iss` starts with. */
  issuerPrefix?: string;
  scopes: string[];
  /** Extra authorization-request parameters (Google: access_type=offline, prompt=consent). */
  authorizationParams?: Record<string, string>;
  /** Microsoft wants `scope` again on every refresh (AADSTS900144 otherwise). */
  scopeOnRefresh: boolean;
  /** Loopback host in the redirect URI: what the registration allows (`localhost` for Entra ID). */
  redirectHost: 'localhost' | '127.0.0.1';
  /** What follows host:port in the redirect URI: '' for Entra ID (registered as `http://localhost`), '/' elsewhere. */
  redirectPath: '' | '/';
  /** The provider's submission server. */
  smtp?: { host: string; port: number };
}

/** The scopes of an Entra ID sign-in for SMTP (delegated SMTP.Send). */
export const MICROSOFT_SCOPES = ['https://outlook.office.com/SMTP.Send', 'offline_access', 'openid', 'email'];
/** Gmail's only SMTP scope, plus the identity of the account. */
export const GOOGLE_SCOPES = ['https://mail.google.com/', 'openid', 'email'];

/** Options for {@link microsoftProvider}. */
export interface MicrosoftOptions {
  clientId: string;
  /** `common` (default), `organizations`, `consumers`, a domain or the tenant id. */
  tenant?: string;
  scopes?: string[];
}

/**
 * Microsoft Entra ID (Office 365 and Outlook.com). No client id ships with smtpkit: the app registration is
 * yours (docs/OAUTH.md says how).
 */
export function microsoftProvider(options: MicrosoftOptions): ProviderConfig {
  const tenant = options.tenant ?? 'common';
  if (!/^[A-Za-z0-9.-]+$/.test(tenant)) {
    throw new OAuthError(`invalid tenant ${JSON.stringify(tenant)}: use common, organizations, consumers, a domain or the tenant id`, { kind: 'usage', code: 'ERR_OAUTH_TENANT' });
  }
  const base = `https://login.microsoftonline.com/${tenant}/oauth2/v2.0`;
  return {
    provider: 'microsoft',
    clientId: options.clientId,
    authorizationEndpoint: `${base}/authorize`,
    tokenEndpoint: `${base}/token`,
    deviceAuthorizationEndpoint: `${base}/devicecode`,
    issuerPrefix: 'https://login.microsoftonline.com/',
    scopes: options.scopes ?? MICROSOFT_SCOPES,
    scopeOnRefresh: true,
    redirectHost: 'localhost',
    redirectPath: '',
    smtp: { host: 'smtp.office365.com', port: 587 },
  };
}

/** Google's "Desktop app" OAuth client, as downloaded from the Cloud console (`client_secret_*.json`). */
export interface GoogleClient {
  clientId: string;
  clientSecret: string;
}

/** Reads a Google client file: `{ "installed": { "client_id": …, "client_secret": … } }`. */
export async function readGoogleClientFile(path: string): Promise<GoogleClient> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new OAuthError(`cannot read the Google client file ${path}: ${(error as Error).message}`, { kind: 'config', code: 'ERR_OAUTH_CLIENT_FILE', cause: error });
  }
  const section = (parsed as { installed?: Record<string, unknown>; web?: unknown }).installed;
  if (!section || typeof section.client_id !== 'string' || typeof section.client_secret !== 'string') {
    const web = (parsed as { web?: unknown }).web !== undefined;
    throw new OAuthError(
      `${path} is not a Google "Desktop app" client file${web ? ' (it is a "Web application" client)' : ''}: create an OAuth client of type "Desktop app" and download its JSON`,
      { kind: 'config', code: 'ERR_OAUTH_CLIENT_FILE' },
    );
  }
  return { clientId: section.client_id, clientSecret: section.client_secret };
}

/** Google (Gmail). Its device flow refuses the mail scope, so only browser and paste work. */
export function googleProvider(client: GoogleClient, scopes: string[] = GOOGLE_SCOPES): ProviderConfig {
  return {
    provider: 'google',
    clientId: client.clientId,
    clientSecret: client.clientSecret,
    authorizationEndpoint: 'https://accounts.google.com/o/oauth2/v2/auth',
    tokenEndpoint: 'https://oauth2.googleapis.com/token',
    deviceRefusal: "Google's device flow refuses the https://mail.google.com/ scope (invalid_scope): use --flow browser, or --flow paste on a machine without a browser",
    revocationEndpoint: 'https://oauth2.googleapis.com/revoke',
    issuer: 'https://accounts.google.com',
    scopes,
    // Without these Google issues no refresh token on a second sign-in.
    authorizationParams: { access_type: 'offline', prompt: 'consent' },
    scopeOnRefresh: false,
    redirectHost: '127.0.0.1',
    redirectPath: '/',
    smtp: { host: 'smtp.gmail.com', port: 587 },
  };
}

/** Options for {@link discoverProvider}. */
export interface DiscoverOptions {
  clientId: string;
  clientSecret?: string;
  scopes?: string[];
  signal?: AbortSignal;
}

/**
 * Any OpenID provider: endpoints from `${issuer}/.well-known/openid-configuration` (OpenID Connect Discovery
 * 1.0 §4), whose `issuer` must equal the one asked for (§4.3).
 */
export async function discoverProvider(issuer: string, options: DiscoverOptions): Promise<ProviderConfig> {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new OAuthError(`invalid --issuer ${JSON.stringify(issuer)}: an https URL is expected`, { kind: 'usage', code: 'ERR_OAUTH_ISSUER' });
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new OAuthError(`--issuer must be https (plain http only on this machine): ${url.origin}`, { kind: 'usage', code: 'ERR_OAUTH_ISSUER' });
  }
  const trimmed = issuer.replace(/\/+$/, '');
  const meta = await getJson(`${trimmed}/.well-known/openid-configuration`, { what: 'OpenID discovery', provider: 'oidc', ...(options.signal ? { signal: options.signal } : {}) });
  if (meta.issuer !== trimmed && meta.issuer !== issuer) {
    throw new OAuthError(`OpenID discovery: the document names issuer ${JSON.stringify(meta.issuer)}, not ${JSON.stringify(issuer)}`, { kind: 'protocol', code: 'ERR_OAUTH_ISSUER_MISMATCH' });
  }
  const endpoint = (name: string, required: boolean): string | undefined => {
    const value = meta[name];
    if (typeof value === 'string' && /^https?:\/\//.test(value)) return value;
    if (required) throw new OAuthError(`OpenID discovery: the document has no ${name}`, { kind: 'protocol', code: 'ERR_OAUTH_DISCOVERY' });
    return undefined;
  };
  const methods = meta.code_challenge_methods_supported;
  if (Array.isArray(methods) && !methods.includes('S256')) {
    throw new OAuthError('OpenID discovery: the provider does not support PKCE with S256 (RFC 7636)', { kind: 'config', code: 'ERR_OAUTH_PKCE' });
  }
  const device = endpoint('device_authorization_endpoint', false);
  const revocation = endpoint('revocation_endpoint', false);
  return {
    provider: 'oidc',
    clientId: options.clientId,
    ...(options.clientSecret ? { clientSecret: options.clientSecret } : {}),
    authorizationEndpoint: endpoint('authorization_endpoint', true)!,
    tokenEndpoint: endpoint('token_endpoint', true)!,
    ...(device ? { deviceAuthorizationEndpoint: device } : { deviceRefusal: 'the provider has no device_authorization_endpoint' }),
    ...(revocation ? { revocationEndpoint: revocation } : {}),
    issuer: String(meta.issuer),
    scopes: options.scopes ?? ['openid', 'email', 'offline_access'],
    scopeOnRefresh: false,
    redirectHost: '127.0.0.1',
    redirectPath: '/',
  };
}
