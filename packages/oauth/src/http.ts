import { OAuthError, oneLine, providerError } from './errors.js';

/** Bound on one HTTP exchange with the provider. */
export const HTTP_TIMEOUT_MS = 30_000;
/** Bound on a provider's answer; a token response is a few kilobytes. */
const MAX_BODY = 1 << 20;

/** Context for error messages: which step, which provider, which account. */
export interface CallContext {
  what: string;
  provider?: string;
  account?: string;
  signal?: AbortSignal;
}

/**
 * POSTs an `application/x-www-form-urlencoded` body (RFC 6749 §4.1.3, §6; RFC 8628 §3.1, §3.4) and returns
 * the JSON object. An OAuth error body becomes an {@link OAuthError} with the hint for it; an answer that
 * is not JSON (a proxy's or a provider's HTML error page) becomes a clear `protocol` error, not a crash.
 */
export async function postForm(url: string, params: Record<string, string>, ctx: CallContext): Promise<Record<string, unknown>> {
  return request(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body: new URLSearchParams(params).toString() }, ctx);
}

/** GETs a JSON document (OpenID Connect Discovery 1.0 §4). */
export async function getJson(url: string, ctx: CallContext): Promise<Record<string, unknown>> {
  return request(url, { method: 'GET', headers: { accept: 'application/json' } }, ctx);
}

async function request(url: string, init: RequestInit, ctx: CallContext): Promise<Record<string, unknown>> {
  const signal = ctx.signal ? AbortSignal.any([ctx.signal, AbortSignal.timeout(HTTP_TIMEOUT_MS)]) : AbortSignal.timeout(HTTP_TIMEOUT_MS);
  let response: Response;
  try {
    response = await fetch(url, { ...init, signal, redirect: 'error' });
  } catch (error) {
    const reason = (error as Error).name === 'TimeoutError' ? `no answer within ${HTTP_TIMEOUT_MS / 1000} s` : causeText(error);
    throw new OAuthError(`${ctx.what} failed: cannot reach ${origin(url)}: ${reason}`, {
      kind: 'unavailable',
      code: 'ERR_OAUTH_NETWORK',
      cause: error,
    });
  }
  const text = await readBounded(response, ctx);
  const type = response.headers.get('content-type') ?? '';
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    const kind = response.status >= 500 ? 'unavailable' : 'protocol';
    const snippet = oneLine(text.replace(/<[^>]*>/g, ' ')).slice(0, 120);
    throw new OAuthError(
      `${ctx.what} failed: ${origin(url)} answered HTTP ${response.status} with ${type.split(';')[0] || 'no content type'}, not JSON${snippet ? `: "${snippet}"` : ''}`,
      { kind, code: 'ERR_OAUTH_NOT_JSON', status: response.status, hint: 'check the issuer or endpoint URL; a proxy or captive portal may be answering instead of the provider' },
    );
  }
  const json = body as Record<string, unknown>;
  if (!response.ok || typeof json.error === 'string') {
    throw providerError(ctx.what, json, { status: response.status, provider: ctx.provider, account: ctx.account });
  }
  return json;
}

async function readBounded(response: Response, ctx: CallContext): Promise<string> {
  const reader = response.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY) {
      await reader.cancel();
      throw new OAuthError(`${ctx.what} failed: the answer is larger than ${MAX_BODY} bytes`, { kind: 'protocol', code: 'ERR_OAUTH_TOO_LARGE' });
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function origin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'the provider';
  }
}

function causeText(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}
