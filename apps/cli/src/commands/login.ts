import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { connect } from '@smtpkit/client';
import {
  accountTokenProvider, discoverProvider, googleProvider, login, microsoftProvider, OAuthError, readGoogleClientFile,
  type AccountRecord, type FlowName, type LoginEvent, type ProviderConfig,
} from '@smtpkit/oauth';
import { EXIT, exitCodeFor, InputFileError, UsageError, type ExitCode } from '../exit-codes.js';
import { Output } from '../output.js';
import { configPath, parsePort } from '../profiles.js';
import { runSecretCommand } from '../secrets.js';
import { describeOAuthError } from './oauth-errors.js';
import type { LoginFlags } from './oauth.js';

const FLOWS: readonly FlowName[] = ['auto', 'browser', 'device', 'paste'];
const STORES = ['auto', 'keyring', 'file'] as const;

/** `oauth.<provider>` in the config file: defaults for the app registration. */
interface OAuthDefaults {
  clientId?: string;
  tenant?: string;
  clientFile?: string;
  issuer?: string;
}

function configDefaults(provider: string, env: NodeJS.ProcessEnv): OAuthDefaults {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(configPath(env), 'utf8'));
  } catch {
    return {};
  }
  const section = (parsed as { oauth?: Record<string, unknown> } | null)?.oauth?.[provider];
  if (typeof section !== 'object' || section === null) return {};
  const out: OAuthDefaults = {};
  for (const key of ['clientId', 'tenant', 'clientFile', 'issuer'] as const) {
    const value = (section as Record<string, unknown>)[key];
    if (typeof value === 'string') out[key] = value;
  }
  return out;
}

async function providerFor(name: string, flags: LoginFlags, env: NodeJS.ProcessEnv): Promise<ProviderConfig> {
  const defaults = configDefaults(name, env);
  const scopes = flags.scope?.split(/[\s,]+/).filter(Boolean);
  const clientId = flags.clientId ?? defaults.clientId;
  const secret = flags.clientSecretCommand ? await runSecretCommand(flags.clientSecretCommand, '--client-secret-command') : undefined;
  switch (name) {
    case 'microsoft':
      if (!clientId) {
        throw new UsageError('smtpkit login microsoft needs --client-id (your Entra app registration; smtpkit ships no borrowed id): see `smtpkit login --help` or docs/OAUTH.md');
      }
      return { ...microsoftProvider({ clientId, ...(flags.tenant ?? defaults.tenant ? { tenant: flags.tenant ?? defaults.tenant } : {}), ...(scopes ? { scopes } : {}) }), ...(secret ? { clientSecret: secret } : {}) };
    case 'google': {
      const file = flags.clientFile ?? defaults.clientFile;
      if (file) {
        await readFile(file).catch((e: unknown) => Promise.reject(new InputFileError(file, e)));
        return googleProvider(await readGoogleClientFile(file), scopes);
      }
      if (clientId && secret) return googleProvider({ clientId, clientSecret: secret }, scopes);
      throw new UsageError('smtpkit login google needs --client-file (a "Desktop app" OAuth client JSON), or --client-id with --client-secret-command');
    }
    case 'oidc': {
      const issuer = flags.issuer ?? defaults.issuer;
      if (!issuer || !clientId) throw new UsageError('smtpkit login oidc needs --issuer URL and --client-id ID');
      return discoverProvider(issuer, { clientId, ...(secret ? { clientSecret: secret } : {}), ...(scopes ? { scopes } : {}) });
    }
    default:
      throw new UsageError(`unknown provider "${name}" (microsoft, google or oidc)`);
  }
}

/** The platform's URL opener, when one can show a browser here. */
function platformOpener(env: NodeJS.ProcessEnv): string[] | undefined {
  if (process.platform === 'darwin') return ['open'];
  if (process.platform === 'win32') return ['cmd', '/c', 'start', '""'];
  if (!env.DISPLAY && !env.WAYLAND_DISPLAY) return undefined;
  return spawnSync('sh', ['-c', 'command -v xdg-open'], { stdio: 'ignore' }).status === 0 ? ['xdg-open'] : undefined;
}

/** Starts the browser with the URL as its last argument; the URL never passes through a shell's parser. */
function browserOpener(flags: LoginFlags, env: NodeJS.ProcessEnv): ((url: string) => Promise<boolean>) | undefined {
  const opener = flags.browserCommand ? ['/bin/sh', '-c', `${flags.browserCommand} "$1"`, 'smtpkit-browser'] : platformOpener(env);
  if (!opener) return undefined;
  return (url) =>
    new Promise((resolve) => {
      const child = spawn(opener[0]!, [...opener.slice(1), url], { stdio: 'ignore', detached: false });
      child.once('error', () => resolve(false));
      child.once('spawn', () => {
        child.unref();
        resolve(true);
      });
    });
}

function readOneLine(): Promise<string> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: process.stdin });
    rl.once('line', (line) => {
      // Settle first: close() emits 'close' at once.
      resolve(line);
      rl.close();
    });
    rl.once('close', () => reject(new UsageError('--flow paste: stdin ended before the address was pasted')));
  });
}

function announce(out: Output, event: LoginEvent): void {
  out.json({ event: event.type, ...event, type: undefined });
  // The instructions are needed to finish signing in: even -q shows them.
  const say = (line: string): void => {
    if (out.config.quiet) process.stderr.write(`${line}\n`);
    else out.warn(line);
  };
  switch (event.type) {
    case 'browser':
      say(`${event.opened ? 'A browser was opened; if it did not show the sign-in, open' : 'Open'} this URL to sign in (the answer returns to ${event.redirectUri}):\n  ${event.url}`);
      break;
    case 'device':
      say(`To sign in, visit ${event.verificationUri} and enter the code ${event.userCode} (valid ${Math.round(event.expiresIn / 60)} min)`);
      break;
    case 'paste':
      say(`Open this URL in a browser on any machine and sign in:\n  ${event.url}\nThe browser then fails to load ${event.redirectUri}…; copy that whole address from its address bar and paste it here:`);
      break;
    case 'slow_down':
      say(`(the provider asked to poll more slowly: every ${event.interval} s)`);
      break;
  }
}

/** AUTH XOAUTH2 at the provider's (or --server's) SMTP server with the stored token, then QUIT. */
async function probeSmtp(account: AccountRecord, flags: LoginFlags, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  let host = account.smtp?.host;
  let port = account.smtp?.port ?? 587;
  if (flags.server) {
    const m = /^(.+?)(?::(\d+))?$/.exec(flags.server)!;
    host = m[1]!;
    if (m[2]) port = parsePort(m[2]);
  }
  if (!host) return undefined;
  const ca = flags.ca !== undefined ? await readFile(flags.ca).catch((e: unknown) => Promise.reject(new InputFileError(flags.ca!, e))) : undefined;
  const session = await connect({
    host,
    port,
    tls: port === 465 ? 'implicit' : 'starttls',
    ...(ca ? { ca } : {}),
    stopAfter: 'auth',
    auth: { user: account.user, method: 'XOAUTH2', accessToken: accountTokenProvider(account.name, { env }) },
  });
  await session.quit();
  return `${host}:${port}`;
}

/** `smtpkit login microsoft|google|oidc`: returns the exit code. */
export async function runLogin(providerName: string, flags: LoginFlags, env: NodeJS.ProcessEnv = process.env): Promise<ExitCode> {
  const out = new Output({ quiet: flags.quiet === true, verbose: false, json: flags.json === true && !flags.quiet });
  let stored: AccountRecord | undefined;
  try {
    const flow = (flags.flow ?? 'auto') as FlowName;
    if (!FLOWS.includes(flow)) throw new UsageError(`invalid --flow "${flags.flow}" (one of ${FLOWS.join(', ')})`);
    const store = flags.store ?? 'auto';
    if (!(STORES as readonly string[]).includes(store)) throw new UsageError(`invalid --store "${store}" (one of ${STORES.join(', ')})`);
    const port = flags.port !== undefined ? parsePort(flags.port) : undefined;
    const provider = await providerFor(providerName, flags, env);
    if (flow === 'device' && !provider.deviceAuthorizationEndpoint) {
      throw new OAuthError(`--flow device is not available for ${providerName}: ${provider.deviceRefusal ?? 'no device endpoint'}`, { kind: 'usage', code: 'ERR_OAUTH_NO_DEVICE_FLOW' });
    }
    const openBrowser = browserOpener(flags, env);
    const result = await login({
      env,
      provider,
      flow,
      store: store as (typeof STORES)[number],
      canOpenBrowser: openBrowser !== undefined,
      ...(flags.account ? { account: flags.account } : {}),
      ...(flags.user ? { user: flags.user } : {}),
      ...(flags.tenant ? { tenant: flags.tenant } : {}),
      ...(port !== undefined ? { port } : {}),
      io: {
        notify: (event) => announce(out, event),
        ...(openBrowser ? { openBrowser } : {}),
        readLine: readOneLine,
      },
    });
    stored = result.account;
    const a = result.account;
    if (flags.user && result.idTokenUser && result.idTokenUser.toLowerCase() !== flags.user.toLowerCase()) {
      out.warn(`smtpkit: warning: you signed in as ${result.idTokenUser}, not ${flags.user}; the server will refuse AUTH for ${flags.user} unless that account may send as it`);
    }
    const where = a.store === 'keyring' ? `the keyring (${a.keyring})` : 'a 0600 file';
    const checked = flags.probe === false ? undefined : await probeSmtp(a, flags, env);
    out.json({ ok: true, account: a.name, provider: a.provider, user: a.user, flow: result.flow, store: a.store, accessTokenExpiresAt: a.accessTokenExpiresAt, smtpChecked: checked ?? null });
    out.info(`Signed in to ${a.provider} as ${a.user} (account "${a.name}", ${result.flow} flow, tokens in ${where})${checked ? `; AUTH XOAUTH2 at ${checked} works` : ''}`);
    return EXIT.OK;
  } catch (error) {
    const exit = exitCodeFor(error);
    out.json({ ok: false, exitCode: exit, account: stored?.name ?? null, error: { kind: (error as { kind?: string }).kind ?? null, code: (error as { code?: string }).code ?? null, message: (error as Error).message } });
    const prefix = stored ? `signed in and stored account "${stored.name}", but the SMTP check failed: ` : '';
    out.warn(describeOAuthError(error, prefix));
    return exit;
  } finally {
    out.close();
  }
}
