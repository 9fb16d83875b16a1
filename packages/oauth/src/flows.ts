import { randomInt } from 'node:crypto';
import { isOAuthError, OAuthError } from './errors.js';
import { postForm } from './http.js';
import { codeFromCallback, startLoopbackReceiver, type CallbackExpectations } from './loopback.js';
import { createPkce, randomState, type Pkce } from './pkce.js';
import type { ProviderConfig } from './providers.js';
import { tokenSetFrom, type TokenSet } from './token-set.js';

/** What a flow tells the user (the CLI prints a line, or a JSON event with --json). None holds a secret. */
export type LoginEvent =
  | { type: 'browser'; url: string; opened: boolean; redirectUri: string }
  | { type: 'device'; userCode: string; verificationUri: string; verificationUriComplete?: string; expiresIn: number; interval: number }
  | { type: 'paste'; url: string; redirectUri: string }
  | { type: 'slow_down'; interval: number };

/** The user-facing side of a flow. */
export interface FlowIO {
  notify(event: LoginEvent): void;
  /** Start a browser on the URL; resolve false when none could be started. */
  openBrowser?(url: string): Promise<boolean>;
  /** One line from the user (the paste flow). */
  readLine?(): Promise<string>;
  signal?: AbortSignal;
}

/** Options shared by the flows. */
export interface FlowOptions {
  /** `login_hint`: the mailbox, so the provider preselects it. */
  loginHint?: string;
  /** Loopback port (browser flow; default: a free one). */
  port?: number;
  /** Bound on the whole sign-in (default 5 minutes; the device flow also stops at the code's expiry). */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 5 * 60_000;
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
/** RFC 8628 §3.5: without `interval`, poll every 5 seconds; `slow_down` adds 5. */
const DEFAULT_INTERVAL_S = 5;

/** The authorization request URL (RFC 6749 §4.1.1 with RFC 7636 §4.3). */
export function authorizationUrl(provider: ProviderConfig, request: { redirectUri: string; state: string; pkce: Pkce; loginHint?: string }): string {
  const url = new URL(provider.authorizationEndpoint);
  const params: Record<string, string> = {
    client_id: provider.clientId,
    response_type: 'code',
    redirect_uri: request.redirectUri,
    scope: provider.scopes.join(' '),
    state: request.state,
    code_challenge: request.pkce.challenge,
    code_challenge_method: request.pkce.method,
    ...(request.loginHint ? { login_hint: request.loginHint } : {}),
    ...provider.authorizationParams,
  };
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.href;
}

function expectations(provider: ProviderConfig, state: string): CallbackExpectations {
  return {
    state,
    ...(provider.issuer ? { issuer: provider.issuer } : {}),
    ...(provider.issuerPrefix ? { issuerPrefix: provider.issuerPrefix } : {}),
  };
}

/** Redeems an authorization code (RFC 6749 §4.1.3) with the PKCE verifier. */
export async function exchangeCode(provider: ProviderConfig, code: string, redirectUri: string, pkce: Pkce, signal?: AbortSignal): Promise<TokenSet> {
  const json = await postForm(
    provider.tokenEndpoint,
    {
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      client_id: provider.clientId,
      code_verifier: pkce.verifier,
      ...(provider.clientSecret ? { client_secret: provider.clientSecret } : {}),
    },
    { what: 'redeeming the authorization code', provider: provider.provider, ...(signal ? { signal } : {}) },
  );
  return tokenSetFrom(json, Date.now(), provider.clientSecret ? { clientSecret: provider.clientSecret } : undefined);
}

function deadline(io: FlowIO, options: FlowOptions): AbortSignal {
  const timeout = AbortSignal.timeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  return io.signal ? AbortSignal.any([io.signal, timeout]) : timeout;
}

/**
 * Authorization code + PKCE (S256) with a loopback redirect on 127.0.0.1 (RFC 8252 §7.3). The URL is
 * always reported, whether or not a browser could be opened.
 */
export async function browserFlow(provider: ProviderConfig, io: FlowIO, options: FlowOptions = {}): Promise<TokenSet> {
  const pkce = createPkce();
  const state = randomState();
  const receiver = await startLoopbackReceiver({
    ...expectations(provider, state),
    ...(options.port !== undefined ? { port: options.port } : {}),
    redirectHost: provider.redirectHost,
    redirectPath: provider.redirectPath,
  });
  try {
    const url = authorizationUrl(provider, { redirectUri: receiver.redirectUri, state, pkce, ...(options.loginHint ? { loginHint: options.loginHint } : {}) });
    const signal = deadline(io, options);
    const waiting = receiver.waitForCode(signal);
    const opened = io.openBrowser ? await io.openBrowser(url) : false;
    io.notify({ type: 'browser', url, opened, redirectUri: receiver.redirectUri });
    const code = await waiting;
    return await exchangeCode(provider, code, receiver.redirectUri, pkce, io.signal);
  } finally {
    await receiver.close();
  }
}

/**
 * For a machine without a browser and without a tunnel: print the URL, let the user sign in anywhere, and
 * read back the address the browser ended on (it fails to load; its query holds the code).
 */
export async function pasteFlow(provider: ProviderConfig, io: FlowIO, options: FlowOptions = {}): Promise<TokenSet> {
  if (!io.readLine) throw new OAuthError('--flow paste needs a way to read the pasted address (stdin)', { kind: 'usage', code: 'ERR_OAUTH_NO_INPUT' });
  const pkce = createPkce();
  const state = randomState();
  // Nothing listens here: the browser shows an error page whose address the user copies.
  const port = options.port ?? randomInt(49152, 65536);
  const redirectUri = `http://${provider.redirectHost}:${port}${provider.redirectPath}`;
  const url = authorizationUrl(provider, { redirectUri, state, pkce, ...(options.loginHint ? { loginHint: options.loginHint } : {}) });
  io.notify({ type: 'paste', url, redirectUri });
  const signal = deadline(io, options);
  const line = await Promise.race([
    io.readLine(),
    new Promise<never>((_, reject) =>
      signal.addEventListener('abort', () => reject(new OAuthError('sign-in timed out waiting for the pasted address', { kind: 'auth', code: 'ERR_OAUTH_TIMEOUT' })), { once: true }),
    ),
  ]);
  const text = line.trim();
  let pasted: URL;
  try {
    pasted = new URL(text.startsWith('http') ? text : `${redirectUri}${text.startsWith('?') ? '' : '?'}${text}`);
  } catch {
    throw new OAuthError('the pasted text is not the address the browser ended on (http://…?code=…&state=…)', { kind: 'usage', code: 'ERR_OAUTH_PASTE' });
  }
  const code = codeFromCallback(pasted, expectations(provider, state));
  return exchangeCode(provider, code, redirectUri, pkce, io.signal);
}

/**
 * The device authorization grant (RFC 8628): show a code and a URL, poll the token endpoint at the
 * provider's interval, slow down when told (§3.5), stop at `authorization_declined`, `access_denied` or
 * `expired_token`, and at the code's expiry.
 */
export async function deviceFlow(provider: ProviderConfig, io: FlowIO, options: FlowOptions = {}): Promise<TokenSet> {
  if (!provider.deviceAuthorizationEndpoint) {
    throw new OAuthError(`--flow device is not available for ${provider.provider}: ${provider.deviceRefusal ?? 'no device endpoint'}`, { kind: 'usage', code: 'ERR_OAUTH_NO_DEVICE_FLOW' });
  }
  const ctx = { provider: provider.provider, ...(io.signal ? { signal: io.signal } : {}) };
  const started = await postForm(
    provider.deviceAuthorizationEndpoint,
    { client_id: provider.clientId, scope: provider.scopes.join(' '), ...(provider.clientSecret ? { client_secret: provider.clientSecret } : {}) },
    { what: 'starting the device sign-in', ...ctx },
  );
  const deviceCode = started.device_code;
  const userCode = started.user_code;
  const verificationUri = started.verification_uri ?? started.verification_url;
  if (typeof deviceCode !== 'string' || typeof userCode !== 'string' || typeof verificationUri !== 'string') {
    throw new OAuthError('the device authorization answer lacks device_code, user_code or verification_uri (RFC 8628 §3.2)', { kind: 'protocol', code: 'ERR_OAUTH_DEVICE_RESPONSE' });
  }
  const expiresIn = Number(started.expires_in) > 0 ? Number(started.expires_in) : 900;
  let interval = Number(started.interval) > 0 ? Number(started.interval) : DEFAULT_INTERVAL_S;
  io.notify({
    type: 'device',
    userCode,
    verificationUri,
    ...(typeof started.verification_uri_complete === 'string' ? { verificationUriComplete: started.verification_uri_complete } : {}),
    expiresIn,
    interval,
  });
  const until = Date.now() + Math.min(expiresIn * 1000, options.timeoutMs ?? Number.POSITIVE_INFINITY);
  const signal = io.signal;
  while (Date.now() + interval * 1000 <= until + 1000) {
    await sleep(interval * 1000, signal);
    try {
      const json = await postForm(
        provider.tokenEndpoint,
        { grant_type: DEVICE_GRANT, device_code: deviceCode, client_id: provider.clientId, ...(provider.clientSecret ? { client_secret: provider.clientSecret } : {}) },
        { what: 'device sign-in', ...ctx },
      );
      return tokenSetFrom(json, Date.now(), provider.clientSecret ? { clientSecret: provider.clientSecret } : undefined);
    } catch (error) {
      if (!isOAuthError(error)) throw error;
      if (error.oauthError === 'authorization_pending') continue;
      if (error.oauthError === 'slow_down') {
        interval += 5;
        io.notify({ type: 'slow_down', interval });
        continue;
      }
      if (error.oauthError === 'authorization_declined' || error.oauthError === 'access_denied') {
        throw new OAuthError('sign-in declined: the user refused the request on the verification page', { kind: 'auth', code: 'ERR_OAUTH_DECLINED', oauthError: error.oauthError, cause: error });
      }
      if (error.oauthError === 'expired_token') {
        throw new OAuthError('the device code expired before the sign-in was completed: run the login again', { kind: 'auth', code: 'ERR_OAUTH_DEVICE_EXPIRED', oauthError: 'expired_token', cause: error });
      }
      throw error;
    }
  }
  throw new OAuthError(`the device code expired after ${expiresIn} s without a sign-in: run the login again`, { kind: 'auth', code: 'ERR_OAUTH_DEVICE_EXPIRED' });
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new OAuthError('sign-in aborted', { kind: 'auth', code: 'ERR_OAUTH_ABORTED' }));
      return;
    }
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(new OAuthError('sign-in aborted', { kind: 'auth', code: 'ERR_OAUTH_ABORTED' }));
      },
      { once: true },
    );
  });
}
