import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { OAuthError, oneLine, providerError } from './errors.js';

/** What the authorization response must carry to be accepted. */
export interface CallbackExpectations {
  /** The `state` sent in the request (RFC 6749 §10.12). */
  state: string;
  /** RFC 9207 §2.4: when the response has `iss`, it must equal this… */
  issuer?: string;
  /** …or, for multi-tenant providers, start with this. */
  issuerPrefix?: string;
  /** Set when the provider's metadata says it always sends `iss` (then a missing one is refused). */
  issuerRequired?: boolean;
}

/**
 * Checks an authorization response (RFC 6749 §4.1.2, §4.1.2.1) and returns the code. Refuses a wrong or
 * missing `state` and a wrong `iss` (mix-up attack, RFC 9207) before the code is used.
 */
export function codeFromCallback(url: URL, expect: CallbackExpectations): string {
  const params = url.searchParams;
  const state = params.get('state');
  if (state !== expect.state) {
    throw new OAuthError('sign-in refused: the response carries the wrong state (not the answer to this request)', { kind: 'auth', code: 'ERR_OAUTH_STATE' });
  }
  const iss = params.get('iss');
  if (iss !== null) {
    const ok = expect.issuer !== undefined ? iss === expect.issuer : expect.issuerPrefix !== undefined ? iss.startsWith(expect.issuerPrefix) : true;
    if (!ok) {
      throw new OAuthError(`sign-in refused: the response comes from issuer ${JSON.stringify(oneLine(iss).slice(0, 100))}, not the one asked (RFC 9207)`, { kind: 'auth', code: 'ERR_OAUTH_ISSUER_MISMATCH' });
    }
  } else if (expect.issuerRequired) {
    throw new OAuthError('sign-in refused: the response lacks the iss parameter the provider promises (RFC 9207)', { kind: 'auth', code: 'ERR_OAUTH_ISSUER_MISSING' });
  }
  const error = params.get('error');
  if (error !== null) throw providerError('sign-in', { error, error_description: params.get('error_description') ?? undefined });
  const code = params.get('code');
  if (!code) throw new OAuthError('sign-in failed: the response has neither a code nor an error', { kind: 'protocol', code: 'ERR_OAUTH_NO_CODE' });
  return code;
}

/** Options for {@link startLoopbackReceiver}. */
export interface LoopbackOptions extends CallbackExpectations {
  /** Port on 127.0.0.1 (default 0: any free one; set it to match an `ssh -L` tunnel). */
  port?: number;
  /** Host name in the redirect URI; the listener binds 127.0.0.1 whatever it is (RFC 8252 §7.3, §8.3). */
  redirectHost?: 'localhost' | '127.0.0.1';
  /** Path after host:port in the redirect URI ('' or '/'). */
  redirectPath?: '' | '/';
}

/** A one-shot loopback redirect receiver. */
export interface LoopbackReceiver {
  redirectUri: string;
  port: number;
  /** Resolves with the code of the one callback; rejects on a refused callback, abort or timeout. */
  waitForCode(signal?: AbortSignal): Promise<string>;
  /** Closes the listener (idempotent). */
  close(): Promise<void>;
}

const PAGE = (title: string, text: string): string =>
  `<!doctype html><meta charset="utf-8"><title>${title}</title><body style="font-family:sans-serif;margin:3em"><h1>${title}</h1><p>${text}</p></body>`;

/**
 * Listens on 127.0.0.1 only for the authorization response (RFC 8252 §7.3). It serves exactly one callback
 * (a request for the redirect path with `state`, `code` or `error`), answers it with a small page and
 * closes, so a replayed callback finds nothing listening. Requests for other paths get 404 and are
 * otherwise ignored; a request naming another Host is refused (DNS rebinding).
 */
export async function startLoopbackReceiver(options: LoopbackOptions): Promise<LoopbackReceiver> {
  const host = options.redirectHost ?? '127.0.0.1';
  const sockets = new Set<Socket>();
  let settle: { resolve: (code: string) => void; reject: (error: Error) => void } | undefined;
  let outcome: { code?: string; error?: Error } | undefined;
  let closed = false;
  const finish = (result: { code?: string; error?: Error }): void => {
    if (outcome) return;
    outcome = result;
    if (settle) {
      if (result.error) settle.reject(result.error);
      else settle.resolve(result.code!);
    }
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    res.setHeader('cache-control', 'no-store');
    res.setHeader('connection', 'close');
    const port = (server.address() as AddressInfo).port;
    const hostHeader = (req.headers.host ?? '').toLowerCase();
    if (outcome || req.method !== 'GET' || (hostHeader !== `127.0.0.1:${port}` && hostHeader !== `localhost:${port}`)) {
      res.writeHead(outcome ? 410 : 400, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE('Not accepted', 'This request is not part of a sign-in.'));
      return;
    }
    const url = new URL(req.url ?? '/', `http://${host}:${port}`);
    if (url.pathname !== '/' || !(url.searchParams.has('state') || url.searchParams.has('code') || url.searchParams.has('error'))) {
      res.writeHead(404, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE('Not found', 'Nothing here.'));
      return;
    }
    try {
      const code = codeFromCallback(url, options);
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE('Signed in', 'smtpkit has the sign-in. You can close this tab and return to the terminal.'));
      finish({ code });
    } catch (error) {
      res.writeHead(400, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE('Sign-in not completed', 'smtpkit refused this answer; the terminal says why.'));
      finish({ error: error as Error });
    }
    void close();
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      // Let the answer page leave before the sockets go.
      setImmediate(() => {
        for (const socket of sockets) socket.end();
      });
    });
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new OAuthError(
          `cannot listen on 127.0.0.1:${options.port ?? 0} for the sign-in redirect: ${error.code ?? error.message}${error.code === 'EADDRINUSE' ? ' (choose another --port)' : ''}`,
          { kind: 'usage', code: 'ERR_OAUTH_LISTEN', cause: error },
        ),
      ),
    );
    server.listen({ host: '127.0.0.1', port: options.port ?? 0, exclusive: true }, resolve);
  });
  const port = (server.address() as AddressInfo).port;

  return {
    redirectUri: `http://${host}:${port}${options.redirectPath ?? '/'}`,
    port,
    waitForCode: (signal) =>
      new Promise<string>((resolve, reject) => {
        if (outcome) {
          if (outcome.error) reject(outcome.error);
          else resolve(outcome.code!);
          return;
        }
        settle = { resolve, reject };
        signal?.addEventListener(
          'abort',
          () => {
            const reason = signal.reason as Error | undefined;
            const timedOut = reason?.name === 'TimeoutError';
            finish({
              error: new OAuthError(timedOut ? 'sign-in timed out: no answer reached the loopback redirect' : 'sign-in aborted', {
                kind: 'auth',
                code: timedOut ? 'ERR_OAUTH_TIMEOUT' : 'ERR_OAUTH_ABORTED',
              }),
            });
            void close();
          },
          { once: true },
        );
      }),
    close,
  };
}
