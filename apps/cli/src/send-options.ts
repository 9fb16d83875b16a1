import { parseDkimSpec, type DkimKeySpec } from './dkim-flag.js';
import { DataError, UsageError } from './exit-codes.js';
import type { ProbeFlags, SendFlags } from './program.js';
import { resolveExtras, type ExtraSendConfig } from './send-extras.js';
import {
  defaultPort, loadProfile, parseAuthMode, parsePort, parseTlsMode,
  type CliAuthMode, type CliTlsMode, type Profile,
} from './profiles.js';

/** How much the CLI prints. */
export interface OutputConfig {
  quiet: boolean;
  verbose: boolean;
  json: boolean;
  transcript?: string;
}

/** Where and how to connect, after profile and defaults are applied. */
export interface ConnectionConfig {
  host: string;
  port: number;
  /** `--socket`: a Unix domain socket, instead of host and port. */
  socket?: string;
  /** `--lmtp`: LMTP (RFC 2033) instead of SMTP. */
  protocol: 'smtp' | 'lmtp';
  tls: CliTlsMode;
  requireTls: boolean;
  ca?: string;
  pin?: string;
  insecure: boolean;
  helo?: string;
  timeoutMs?: number;
  authHint?: string;
  /** `--account`: a stored OAuth account (smtpkit login). */
  account?: string;
  output: OutputConfig;
}

/** Steps `--quit-after` can stop at, in dialogue order. */
export const QUIT_STEPS = ['connect', 'greeting', 'ehlo', 'tls', 'auth', 'mail', 'rcpt'] as const;
export type QuitStep = (typeof QUIT_STEPS)[number];

/** A validated `smtpkit send`. */
export interface SendConfig extends ConnectionConfig, ExtraSendConfig {
  mx: boolean;
  heloOnly: boolean;
  from: string;
  to: string[];
  cc: string[];
  bcc: string[];
  subject?: string;
  body?: string;
  bodyFile?: string;
  html?: string;
  attach: string[];
  inline: string[];
  headers: Array<[string, string]>;
  eml?: string;
  readRecipients: boolean;
  user?: string;
  auth: CliAuthMode;
  passwordCommand?: string;
  tokenCommand?: string;
  quitAfter?: QuitStep;
  dryRun: boolean;
  /** `--dkim DOMAIN:SELECTOR:KEYFILE`, in order. */
  dkim: DkimKeySpec[];
}

function outputConfig(flags: { quiet?: boolean; verbose?: boolean; json?: boolean; transcript?: string }): OutputConfig {
  const quiet = flags.quiet === true;
  return {
    quiet,
    verbose: !quiet && flags.verbose === true,
    json: !quiet && flags.json === true,
    transcript: flags.transcript,
  };
}

function parseTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`invalid --timeout "${value}" (seconds, > 0)`);
  return Math.round(n * 1000);
}

/** `--socket` names the whole address; `--lmtp` has no default port (RFC 2033: never SMTP's port 25). */
function checkLmtpAndSocket(flags: ProbeFlags): void {
  if (flags.socket !== undefined) {
    if (flags.socket === '') throw new UsageError('--socket needs a path');
    const clash = (['server', 'port', 'profile'] as const).filter((k) => flags[k] !== undefined);
    if (clash.length) throw new UsageError(`--socket is the whole address: drop --${clash.join(', --')}`);
  }
  if (flags.lmtp && flags.socket === undefined && flags.port === undefined) {
    throw new UsageError('--lmtp needs --port or --socket: LMTP has no default port (Dovecot often listens on 24)');
  }
  if (flags.lmtp && flags.port !== undefined && Number(flags.port) === 25) {
    throw new UsageError('--lmtp cannot go to port 25: that is the SMTP port (RFC 2033: LMTP MUST NOT be used on TCP port 25)');
  }
}

/** Resolve the connection flags shared by `send` and `probe`. */
export function resolveConnection(flags: ProbeFlags & { requireTls?: boolean }, env = process.env): ConnectionConfig {
  checkLmtpAndSocket(flags);
  const profile: Profile = flags.profile ? loadProfile(flags.profile, env) : {};
  const tls = flags.tls !== undefined ? parseTlsMode(flags.tls) : (profile.tls ?? 'auto');
  const port = flags.port !== undefined ? parsePort(flags.port) : (profile.port ?? defaultPort(tls));
  const requireTls = flags.requireTls === true || (profile.requireTls === true && tls !== 'none');
  if (requireTls && tls === 'none') throw new UsageError('--require-tls contradicts --tls none');
  if (flags.pin !== undefined && !/^([0-9a-f]{2}:?){31}[0-9a-f]{2}$/i.test(flags.pin)) {
    throw new UsageError(`invalid --pin "${flags.pin}" (SHA-256 of the certificate, 64 hex digits, ':' optional)`);
  }
  return {
    host: flags.server ?? profile.server ?? '127.0.0.1',
    port: flags.socket !== undefined ? 0 : port,
    ...(flags.socket !== undefined ? { socket: flags.socket } : {}),
    protocol: flags.lmtp ? 'lmtp' : 'smtp',
    tls,
    requireTls,
    ca: flags.ca ?? profile.ca,
    pin: flags.pin,
    insecure: flags.insecure === true,
    helo: flags.helo ?? profile.helo,
    timeoutMs: parseTimeout(flags.timeout),
    authHint: profile.authHint,
    ...(flags.account ?? profile.account ? { account: flags.account ?? profile.account } : {}),
    output: outputConfig(flags),
  };
}

/** Split `--header "Name: value"`. A missing colon is a usage error; CR or LF is an injection attempt. */
export function parseHeaderFlag(line: string): [string, string] {
  if (/[\r\n]/.test(line)) throw new DataError(`--header contains a line break: refusing header injection`);
  const colon = line.indexOf(':');
  if (colon <= 0) throw new UsageError(`--header "${line}" must look like "Name: value"`);
  const name = line.slice(0, colon).trim();
  // RFC 5322 §3.6.8: field-name = 1*(%d33-57 / %d59-126)
  if (!/^[\x21-\x39\x3b-\x7e]+$/.test(name)) throw new DataError(`--header name "${name}" is not a valid field name`);
  return [name, line.slice(colon + 1).trim()];
}

/** Validate `smtpkit send` flags into a SendConfig; every problem is a UsageError (64) or DataError (65). */
export function resolveSend(raw: SendFlags, env = process.env): SendConfig {
  const flags = {
    ...raw,
    to: raw.to ?? [], cc: raw.cc ?? [], bcc: raw.bcc ?? [],
    attach: raw.attach ?? [], inline: raw.inline ?? [], header: raw.header ?? [],
  };
  const profile: Profile = flags.profile ? loadProfile(flags.profile, env) : {};
  if (flags.mx && (flags.server || flags.profile)) {
    throw new UsageError('--mx picks the server from DNS: drop --server and --profile');
  }
  if (flags.mx && flags.user) throw new UsageError('--mx delivers directly to port 25: AUTH (--user) does not apply');
  if (flags.mx && flags.lmtp) throw new UsageError('--mx relays by SMTP to port 25: --lmtp is for a server you name (--port or --socket)');
  if (flags.mx && flags.socket !== undefined) throw new UsageError('--mx picks the server from DNS: drop --socket');
  if (flags.lmtp && flags.heloOnly) throw new UsageError('--helo-only cannot be used with --lmtp: LMTP has LHLO and no HELO (RFC 2033 §4.1)');
  const conn = resolveConnection(flags, env);
  const from = flags.from ?? profile.from;
  if (!from) throw new UsageError('missing --from');
  const readRecipients = flags.readRecipients === true;
  if (readRecipients && !flags.eml) throw new UsageError('--read-recipients needs --eml');
  if (!readRecipients && flags.to.length === 0 && flags.cc.length === 0 && flags.bcc.length === 0) {
    throw new UsageError('missing --to (or --eml with --read-recipients)');
  }
  if (flags.eml !== undefined) {
    const clash = (['subject', 'body', 'bodyFile', 'html'] as const).filter((k) => flags[k] !== undefined);
    if (flags.attach.length) clash.push('attach' as never);
    if (flags.inline.length) clash.push('inline' as never);
    if (flags.header.length) clash.push('header' as never);
    if (clash.length) throw new UsageError(`--eml sends the file as-is: it cannot be combined with --${clash.join(', --')}`);
  }
  if (flags.body !== undefined && flags.bodyFile !== undefined) throw new UsageError('use --body or --body-file, not both');
  if (flags.inline.length && !flags.html) throw new UsageError('--inline images need an --html part that references them');
  const quitAfter = flags.quitAfter;
  if (quitAfter !== undefined && !(QUIT_STEPS as readonly string[]).includes(quitAfter)) {
    throw new UsageError(`invalid --quit-after "${quitAfter}" (one of ${QUIT_STEPS.join(', ')})`);
  }
  if (quitAfter === 'tls' && conn.tls === 'none') throw new UsageError('--quit-after tls with --tls none');
  const auth = flags.auth !== undefined ? parseAuthMode(flags.auth) : (profile.auth ?? 'auto');
  const user = flags.user ?? profile.user;
  if (quitAfter === 'auth' && !user && !conn.account) throw new UsageError('--quit-after auth needs --user');
  if (auth !== 'auto' && auth !== 'external' && !user && !conn.account) throw new UsageError(`--auth ${auth} needs --user`);
  if (flags.mx && conn.account) throw new UsageError('--mx delivers directly to port 25: AUTH (--account) does not apply');
  return {
    ...conn,
    ...resolveExtras({ ...flags, auth }, env),
    // RFC 5321 §4.5.4.2 / RFC 6409: relay to MX hosts on port 25, unless told otherwise.
    ...(flags.mx && flags.port === undefined ? { port: 25 } : {}),
    mx: flags.mx === true,
    heloOnly: flags.heloOnly === true,
    from,
    to: flags.to,
    cc: flags.cc,
    bcc: flags.bcc,
    subject: flags.subject,
    body: flags.body,
    bodyFile: flags.bodyFile,
    html: flags.html,
    attach: flags.attach,
    inline: flags.inline,
    headers: flags.header.map(parseHeaderFlag),
    eml: flags.eml,
    readRecipients,
    user,
    auth,
    passwordCommand: flags.passwordCommand,
    tokenCommand: flags.tokenCommand,
    quitAfter: quitAfter as QuitStep | undefined,
    dryRun: flags.dryRun === true,
    dkim: (flags.dkim ?? []).map((v) => parseDkimSpec(v, '--dkim')),
  };
}
