import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import Provider from 'oidc-provider';

/** Options for {@link startOidcProvider}. */
export interface OidcProviderOptions {
  /** Access-token lifetime in seconds (default 4, so tests can wait past it). */
  accessTokenTtl?: number;
  /** The `interval` the device authorization response carries (RFC 8628 §3.2; default 1 s; oidc-provider sends none). */
  deviceInterval?: number;
  /** Answer the first device-code poll that would be `authorization_pending` with `slow_down` (RFC 8628 §3.5). */
  slowDownOnce?: boolean;
}

/** A grant-type call at the token endpoint, as the provider saw it. */
export interface TokenCall {
  grantType: string;
  /** The OAuth error code, when the call failed. */
  error?: string;
  at: number;
}

/** A running oidc-provider 8.x on 127.0.0.1, port 0. */
export interface OidcProviderServer {
  /** `http://127.0.0.1:PORT`: discovery at `${issuer}/.well-known/openid-configuration`. */
  issuer: string;
  port: number;
  /** The public native client (PKCE S256 required, no secret, loopback redirect on any port). */
  clientId: string;
  /** A confidential client that may introspect (for Dovecot's oauth2 passdb: client_secret_post). */
  introspection: { url: string; clientId: string; clientSecret: string };
  /** Every token-endpoint call so far. */
  tokenCalls(): TokenCall[];
  /** Successful `refresh_token` grants so far. */
  refreshCount(): number;
  /**
   * Revokes a token at the revocation endpoint (RFC 7009). A refresh token takes its whole grant with it (as when
   * the user removes the app); an access token only itself (introspection then says inactive).
   */
  revoke(token: string, hint?: 'refresh_token' | 'access_token'): Promise<void>;
  /** Closes the listener and every open connection. */
  stop(): Promise<void>;
}

const NATIVE_CLIENT = 'smtpkit-cli';
const INTROSPECTOR = { clientId: 'dovecot', clientSecret: 'dovecot-introspection-secret' };

/**
 * Starts panva's oidc-provider (8.x, the line for Node 20) in this process with what a mail client meets at
 * Microsoft or Google: authorization code with PKCE required, device flow (RFC 8628), rotating refresh tokens
 * with reuse detection, introspection (RFC 7662), revocation (RFC 7009), short-lived opaque access tokens.
 * Its built-in development login and consent pages accept any login name (it becomes `sub` and `email`);
 * drive them with {@link runScriptedBrowser}.
 *
 * @example
 * const op = await startOidcProvider({ accessTokenTtl: 3 });
 * // smtpkit login oidc --issuer op.issuer --client-id op.clientId ...
 * await op.stop();
 */
export async function startOidcProvider(options: OidcProviderOptions = {}): Promise<OidcProviderServer> {
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.writeHead(503).end();
  const server = createServer((req, res) => handler(req, res));
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: NATIVE_CLIENT,
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        // RFC 8252 §7.3: for loopback redirects the port is ignored, host and path are compared.
        redirect_uris: ['http://127.0.0.1/', 'http://localhost/'],
        grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
        response_types: ['code'],
      },
      {
        client_id: INTROSPECTOR.clientId,
        client_secret: INTROSPECTOR.clientSecret,
        token_endpoint_auth_method: 'client_secret_post',
        grant_types: [],
        response_types: [],
        redirect_uris: [],
      },
    ],
    features: {
      devInteractions: { enabled: true },
      deviceFlow: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
    },
    pkce: { required: () => true, methods: ['S256'] },
    rotateRefreshToken: true,
    // Microsoft issues a refresh token for offline_access alone; oidc-provider would also want prompt=consent.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    scopes: ['openid', 'offline_access', 'email', 'mail'],
    claims: { openid: ['sub'], email: ['email', 'email_verified'] },
    conformIdTokenClaims: false,
    findAccount: async (_ctx, id) => ({
      accountId: id,
      claims: async () => ({ sub: id, email: id, email_verified: true }),
    }),
    ttl: {
      AccessToken: options.accessTokenTtl ?? 4,
      AuthorizationCode: 60,
      DeviceCode: 120,
      RefreshToken: 3600,
      Grant: 3600,
      Interaction: 600,
      Session: 600,
      IdToken: 3600,
    },
    cookies: { keys: ['smtpkit-test-cookie-key'] },
  });

  const calls: TokenCall[] = [];
  let slowedDown = false;
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path === '/device/auth' && ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
      ctx.body = { ...(ctx.body as object), interval: options.deviceInterval ?? 1 };
    }
    if (ctx.path === '/token') {
      const grantType = String((ctx.oidc?.params?.grant_type as string | undefined) ?? '');
      let error = ctx.status >= 400 ? String((ctx.body as { error?: string } | undefined)?.error ?? ctx.status) : undefined;
      if (options.slowDownOnce && !slowedDown && error === 'authorization_pending') {
        slowedDown = true;
        error = 'slow_down';
        ctx.body = { error, error_description: 'polling too fast' };
      }
      calls.push({ grantType, ...(error ? { error } : {}), at: Date.now() });
    }
  });
  handler = provider.callback();

  return {
    issuer,
    port,
    clientId: NATIVE_CLIENT,
    introspection: { url: `${issuer}/token/introspection`, ...INTROSPECTOR },
    tokenCalls: () => [...calls],
    refreshCount: () => calls.filter((c) => c.grantType === 'refresh_token' && !c.error).length,
    revoke: async (token, hint = 'refresh_token') => {
      const response = await fetch(`${issuer}/token/revocation`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token, token_type_hint: hint, client_id: NATIVE_CLIENT }),
      });
      if (!response.ok) throw new Error(`revocation failed: ${response.status} ${await response.text()}`);
    },
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
