import { fileURLToPath } from 'node:url';

/** Options for {@link runScriptedBrowser}. */
export interface ScriptedBrowserOptions {
  /** The login name typed into the provider's login form (default `alice@example.com`). */
  login?: string;
  /** The device flow user code, when the page asks for one (RFC 8628 §3.3). */
  userCode?: string;
  /** Press "abort"/"cancel" instead of continuing (the user declines: `access_denied`). */
  decline?: boolean;
  /** Bound on the number of requests (default 30). */
  maxSteps?: number;
  /** Stop before requesting a URL that starts with this (the paste flow: the redirect nobody listens to). */
  stopAt?: string;
}

/** What the scripted browser did. */
export interface ScriptedBrowserResult {
  /** Every URL requested, in order. */
  visited: string[];
  /** The status and body of the last page (0 and '' when stopped by `stopAt`). */
  status: number;
  body: string;
  /** The URL it stopped at (`stopAt`), else the last one requested. */
  finalUrl: string;
}

interface Form {
  action: string;
  method: string;
  fields: Array<[string, string]>;
  buttons: Array<[string, string]>;
}

/**
 * A browser without a browser: an HTTP client with a cookie jar that follows redirects and submits the
 * forms of oidc-provider's development login, consent and device pages, the way a user would click through
 * them. It ends on the first page without a form, which is the loopback callback for the code flow or the
 * provider's success page for the device flow.
 */
export async function runScriptedBrowser(startUrl: string, options: ScriptedBrowserOptions = {}): Promise<ScriptedBrowserResult> {
  const jar = new Map<string, string>();
  const visited: string[] = [];
  let request: { url: string; method: string; body?: URLSearchParams } = { url: startUrl, method: 'GET' };
  for (let step = 0; step < (options.maxSteps ?? 30); step++) {
    if (options.stopAt && request.url.startsWith(options.stopAt)) return { visited, status: 0, body: '', finalUrl: request.url };
    visited.push(request.url);
    const response = await fetch(request.url, {
      method: request.method,
      redirect: 'manual',
      headers: {
        ...(jar.size ? { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') } : {}),
        ...(request.body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      ...(request.body ? { body: request.body } : {}),
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (/expires=Thu, 01 Jan 1970/i.test(line) || value === '') jar.delete(name);
      else jar.set(name, value);
    }
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      await response.arrayBuffer();
      request = { url: new URL(location, request.url).href, method: 'GET' };
      continue;
    }
    const body = await response.text();
    const form = pickForm(body, options.decline === true);
    if (!form) return { visited, status: response.status, body, finalUrl: request.url };
    const fields = new URLSearchParams();
    for (const [name, value] of form.fields) {
      if (name === 'login') fields.set(name, options.login ?? 'alice@example.com');
      else if (name === 'password') fields.set(name, 'any password');
      else if (name === 'user_code') fields.set(name, options.userCode ?? value);
      else fields.append(name, value);
    }
    const button = form.buttons.find(([name]) => (options.decline ? name === 'abort' : name !== 'abort'));
    if (button) fields.set(button[0], button[1]);
    request = { url: new URL(form.action || request.url, request.url).href, method: form.method, body: fields };
  }
  throw new Error(`scripted browser: no end after ${options.maxSteps ?? 30} requests: ${visited.join(' -> ')}`);
}

function attribute(tag: string, name: string): string | undefined {
  const m = new RegExp(`\\s${name}\\s*=\\s*("([^"]*)"|'([^']*)'|([^\\s>]+))`, 'i').exec(tag);
  return m ? decodeEntities(m[2] ?? m[3] ?? m[4] ?? '') : undefined;
}

function decodeEntities(s: string): string {
  return s.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>');
}

/** The form a user would submit: the first one with a POST method (oidc-provider's pages have one or two). */
function pickForm(html: string, decline: boolean): Form | undefined {
  const forms: Form[] = [];
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const open = m[1]!;
    const inner = m[2]!;
    const fields: Array<[string, string]> = [];
    const buttons: Array<[string, string]> = [];
    for (const input of inner.matchAll(/<input\b[^>]*>/gi)) {
      const name = attribute(input[0], 'name');
      if (name) fields.push([name, attribute(input[0], 'value') ?? '']);
    }
    for (const b of inner.matchAll(/<button\b[^>]*>/gi)) {
      const name = attribute(b[0], 'name');
      if (name) buttons.push([name, attribute(b[0], 'value') ?? '']);
    }
    forms.push({ action: attribute(open, 'action') ?? '', method: (attribute(open, 'method') ?? 'GET').toUpperCase(), fields, buttons });
  }
  const posts = forms.filter((f) => f.method === 'POST');
  if (decline) return posts.find((f) => f.buttons.some(([n]) => n === 'abort') || /abort/.test(f.action)) ?? posts[0];
  return posts.find((f) => !/abort/.test(f.action)) ?? posts[0];
}

/**
 * The built command-line form (`node SCRIPTED_BROWSER [--login NAME] [--user-code CODE] [--decline] URL`),
 * for `smtpkit login --browser-command`. It exists after `pnpm build` of this package.
 */
export const SCRIPTED_BROWSER = fileURLToPath(new URL('./browser-cli.js', import.meta.url));
