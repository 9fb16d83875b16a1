import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from './exit-codes.js';

/** TLS modes as the CLI spells them. */
export type CliTlsMode = 'auto' | 'starttls' | 'implicit' | 'none';
/** AUTH mechanisms as the CLI spells them. */
export type CliAuthMode = 'auto' | 'plain' | 'login' | 'xoauth2' | 'oauthbearer' | 'cram-md5' | 'scram-sha-256' | 'scram-sha-1' | 'external';

/** Connection presets: a built-in provider or a profile from the config file. */
export interface Profile {
  server?: string;
  port?: number;
  tls?: CliTlsMode;
  auth?: CliAuthMode;
  user?: string;
  /** A stored OAuth account (smtpkit login). */
  account?: string;
  from?: string;
  helo?: string;
  ca?: string;
  requireTls?: boolean;
  /** Shown with AUTH failures for this provider. */
  authHint?: string;
}

/** Built-in presets. Submission providers all want STARTTLS on 587 or TLS on 465 (RFC 8314 §3). */
export const BUILTIN_PROFILES: Readonly<Record<string, Profile>> = {
  local: { server: '127.0.0.1', port: 1025, tls: 'none' },
  gmail: {
    server: 'smtp.gmail.com', port: 587, tls: 'starttls', requireTls: true,
    authHint: 'Gmail needs an app password or OAuth (--auth xoauth2)',
  },
  office365: {
    server: 'smtp.office365.com', port: 587, tls: 'starttls', requireTls: true,
    authHint: 'Office 365 may have basic auth disabled: use --auth xoauth2; From must be the mailbox',
  },
  outlook: {
    server: 'smtp-mail.outlook.com', port: 587, tls: 'starttls', requireTls: true,
    authHint: 'Outlook.com accounts need OAuth (--auth xoauth2) or an app password',
  },
  aol: {
    server: 'smtp.aol.com', port: 465, tls: 'implicit', requireTls: true,
    authHint: 'AOL needs an app password (Account security > Generate app password)',
  },
};

const TLS_MODES: readonly CliTlsMode[] = ['auto', 'starttls', 'implicit', 'none'];
const AUTH_MODES: readonly CliAuthMode[] = ['auto', 'plain', 'login', 'xoauth2', 'oauthbearer', 'cram-md5', 'scram-sha-256', 'scram-sha-1', 'external'];

/**
 * Where profiles live: `$SMTPKIT_CONFIG`, else `$XDG_CONFIG_HOME/smtpkit/config.json`,
 * else `~/.config/smtpkit/config.json`. The file is JSON: `{ "profiles": { "name": { "server": ... } } }`.
 */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SMTPKIT_CONFIG) return env.SMTPKIT_CONFIG;
  const base = env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'smtpkit', 'config.json');
}

/** Look a profile up: the config file first (so a user may redefine `gmail`), then the built-ins. */
export function loadProfile(name: string, env: NodeJS.ProcessEnv = process.env): Profile {
  const fromFile = readConfigProfiles(configPath(env), Boolean(env.SMTPKIT_CONFIG))[name];
  if (fromFile) return validateProfile(name, fromFile);
  const builtin = BUILTIN_PROFILES[name];
  if (builtin) return builtin;
  const known = Object.keys(BUILTIN_PROFILES).join(', ');
  throw new UsageError(`unknown profile "${name}" (built-in: ${known}; others from ${configPath(env)})`);
}

function readConfigProfiles(path: string, mustExist: boolean): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (!mustExist && (error as { code?: string }).code === 'ENOENT') return {};
    throw new UsageError(`cannot read config file ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`config file ${path} is not valid JSON: ${(error as Error).message}`);
  }
  const profiles = (parsed as { profiles?: unknown } | null)?.profiles;
  if (profiles === undefined) return {};
  if (typeof profiles !== 'object' || profiles === null) throw new UsageError(`${path}: "profiles" must be an object`);
  return profiles as Record<string, unknown>;
}

function validateProfile(name: string, raw: unknown): Profile {
  if (typeof raw !== 'object' || raw === null) throw new UsageError(`profile "${name}" must be an object`);
  const p = raw as Record<string, unknown>;
  const out: Profile = {};
  for (const key of ['server', 'user', 'account', 'from', 'helo', 'ca'] as const) {
    if (p[key] !== undefined) {
      if (typeof p[key] !== 'string') throw new UsageError(`profile "${name}": ${key} must be a string`);
      out[key] = p[key];
    }
  }
  if (p.password !== undefined || p.pass !== undefined) {
    throw new UsageError(`profile "${name}": passwords do not belong in the config file; use SMTPKIT_PASSWORD or --password-command`);
  }
  if (p.port !== undefined) out.port = parsePort(String(p.port));
  if (p.tls !== undefined) out.tls = parseTlsMode(String(p.tls));
  if (p.auth !== undefined) out.auth = parseAuthMode(String(p.auth));
  if (p.requireTls !== undefined) out.requireTls = p.requireTls === true;
  return out;
}

/** Parse a TCP port (1–65535). */
export function parsePort(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 65535) throw new UsageError(`invalid port "${value}" (1-65535)`);
  return n;
}

/** Parse a `--tls` value. */
export function parseTlsMode(value: string): CliTlsMode {
  if ((TLS_MODES as readonly string[]).includes(value)) return value as CliTlsMode;
  throw new UsageError(`invalid --tls "${value}" (one of ${TLS_MODES.join(', ')})`);
}

/** Parse an `--auth` value. */
export function parseAuthMode(value: string): CliAuthMode {
  const v = value.toLowerCase();
  if ((AUTH_MODES as readonly string[]).includes(v)) return v as CliAuthMode;
  throw new UsageError(`invalid --auth "${value}" (one of ${AUTH_MODES.join(', ')})`);
}

/** The default port for a TLS mode: 465 for implicit TLS, 587 for STARTTLS (RFC 8314 §3.3, RFC 6409 §3.1), else 1025. */
export function defaultPort(tls: CliTlsMode): number {
  if (tls === 'implicit') return 465;
  if (tls === 'starttls') return 587;
  return 1025;
}
