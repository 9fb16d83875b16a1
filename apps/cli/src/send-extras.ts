import { readFile } from 'node:fs/promises';
import type { ConnectOptions, SendOptions } from '@smtpkit/client';
import type { CalendarInput, ListOptions } from '@smtpkit/mime';
import type { Command } from 'commander';
import { InputFileError, UsageError } from './exit-codes.js';
import { runSecretCommand } from './secrets.js';

/** The `send` flags for client certificates, proxies, pacing, DSN, address family, list and calendar mail. */
export interface ExtraSendFlags {
  cert?: string;
  key?: string;
  keyPassphraseCommand?: string;
  proxy?: string;
  rate?: string;
  dsnNotify?: string;
  dsnRet?: string;
  envid?: string;
  ipv4?: boolean;
  ipv6?: boolean;
  listUnsubscribe?: string[];
  listId?: string;
  ics?: string;
}

/** Those flags, checked. */
export interface ExtraSendConfig {
  cert?: string;
  key?: string;
  keyPassphraseCommand?: string;
  proxy?: string;
  rate?: { messages: number; perMs: number; text: string };
  dsn?: NonNullable<SendOptions['dsn']>;
  family?: 4 | 6;
  list?: ListOptions;
  ics?: string;
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** Register the flags on `smtpkit send`. */
export function addExtraSendOptions(cmd: Command): Command {
  return cmd
    .option('--cert <file>', 'TLS client certificate (PEM), for relays that authenticate by certificate (and --auth external)')
    .option('--key <file>', "the certificate's private key (PEM); a passphrase comes from SMTPKIT_KEY_PASSPHRASE or --key-passphrase-command")
    .option('--key-passphrase-command <cmd>', 'shell command printing the passphrase of --key')
    .option('--proxy <url>', 'socks5://, socks5h://, socks4://, socks4a:// or http:// (CONNECT) proxy, [user:pass@]host[:port]; "env" reads ALL_PROXY')
    .option('--rate <n/unit>', 'send at most N messages per s, m or h (e.g. 5/s, 100/m), counted across runs with the same server')
    .option('--dsn-notify <when>', 'delivery status notifications (RFC 3461): never, or a list of success,failure,delay')
    .option('--dsn-ret <what>', 'what a DSN returns: full (the message) or hdrs (headers only)')
    .option('--envid <id>', 'envelope identifier carried into DSNs (RFC 3461 ENVID)')
    .option('-4, --ipv4', 'connect over IPv4 only')
    .option('-6, --ipv6', 'connect over IPv6 only')
    .option('--list-unsubscribe <url|address>', 'List-Unsubscribe target, repeatable; an https URL also gets RFC 8058 one-click', collect)
    .option('--list-id <id>', 'List-Id (RFC 2919), e.g. "Weekly news <news.example.com>"')
    .option('--ics <file>', 'calendar invitation (iMIP): the .ics as a text/calendar alternative and an attachment');
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000 };

function parseRate(value: string): ExtraSendConfig['rate'] {
  const m = /^(\d+)\/(s|m|h)$/.exec(value.trim());
  const n = m ? Number(m[1]) : 0;
  if (!m || n < 1 || n > 1_000_000) throw new UsageError(`invalid --rate "${value}" (N/s, N/m or N/h, N ≥ 1)`);
  return { messages: n, perMs: UNITS[m[2] as string] as number, text: value.trim() };
}

function parseNotify(value: string): NonNullable<SendOptions['dsn']>['notify'] {
  const parts = value.split(',').map((p) => p.trim().toUpperCase()).filter((p) => p !== '');
  if (parts.length === 1 && parts[0] === 'NEVER') return 'NEVER';
  const allowed = ['SUCCESS', 'FAILURE', 'DELAY'];
  if (parts.length === 0 || parts.some((p) => !allowed.includes(p))) {
    throw new UsageError(`invalid --dsn-notify "${value}" (never, or success,failure,delay: RFC 3461 §4.1)`);
  }
  return [...new Set(parts)] as Array<'SUCCESS' | 'FAILURE' | 'DELAY'>;
}

/** Check the flags; a problem is a UsageError (exit 64). */
export function resolveExtras(flags: ExtraSendFlags & { eml?: string; auth?: string }, env: NodeJS.ProcessEnv): ExtraSendConfig {
  if ((flags.cert === undefined) !== (flags.key === undefined)) throw new UsageError('--cert and --key go together');
  if (flags.keyPassphraseCommand !== undefined && flags.key === undefined) throw new UsageError('--key-passphrase-command needs --key');
  if (flags.auth?.toLowerCase() === 'external' && flags.cert === undefined) throw new UsageError('--auth external needs --cert and --key');
  if (flags.ipv4 && flags.ipv6) throw new UsageError('-4 and -6 contradict each other');
  let proxy = flags.proxy;
  if (proxy === 'env') {
    proxy = env.ALL_PROXY || env.all_proxy;
    if (!proxy) throw new UsageError('--proxy env: ALL_PROXY is not set');
  }
  if (flags.eml !== undefined) {
    const clash = [flags.listId !== undefined && '--list-id', flags.listUnsubscribe?.length && '--list-unsubscribe', flags.ics !== undefined && '--ics'].filter(Boolean);
    if (clash.length) throw new UsageError(`--eml sends the file as-is: it cannot be combined with ${clash.join(', ')}`);
  }
  const dsn: NonNullable<SendOptions['dsn']> = {
    ...(flags.dsnNotify !== undefined ? { notify: parseNotify(flags.dsnNotify) } : {}),
    ...(flags.dsnRet !== undefined ? { ret: parseRet(flags.dsnRet) } : {}),
    ...(flags.envid !== undefined ? { envid: flags.envid } : {}),
  };
  const unsubscribe = flags.listUnsubscribe ?? [];
  const list: ListOptions = {
    ...(flags.listId !== undefined ? { id: flags.listId } : {}),
    // RFC 8058: one-click when an https URL is given (Gmail and Yahoo ask bulk senders for it).
    ...(unsubscribe.length ? { unsubscribe: { ...unsubscribeTargets(unsubscribe), oneClick: unsubscribe.some((u) => /^https:/i.test(u)) } } : {}),
  };
  return {
    ...(flags.cert !== undefined ? { cert: flags.cert, key: flags.key as string } : {}),
    ...(flags.keyPassphraseCommand !== undefined ? { keyPassphraseCommand: flags.keyPassphraseCommand } : {}),
    ...(proxy ? { proxy } : {}),
    ...(flags.rate !== undefined ? { rate: parseRate(flags.rate) } : {}),
    ...(Object.keys(dsn).length ? { dsn } : {}),
    ...(flags.ipv4 ? { family: 4 as const } : flags.ipv6 ? { family: 6 as const } : {}),
    ...(Object.keys(list).length ? { list } : {}),
    ...(flags.ics !== undefined ? { ics: flags.ics } : {}),
  };
}

function parseRet(value: string): 'FULL' | 'HDRS' {
  const v = value.toUpperCase();
  if (v !== 'FULL' && v !== 'HDRS') throw new UsageError(`invalid --dsn-ret "${value}" (full or hdrs)`);
  return v;
}

/** One https URL and one mailto at most, in the order RFC 8058 §3.1 and mail clients expect. */
function unsubscribeTargets(values: string[]): { url?: string; mailto?: string } {
  const mailto = values.filter((v) => /^mailto:/i.test(v) || (!/^[a-z][a-z0-9+.-]*:/i.test(v) && v.includes('@')));
  const urls = values.filter((v) => !mailto.includes(v));
  if (mailto.length > 1 || urls.length > 1) throw new UsageError('--list-unsubscribe: give one URL and one mail address at most');
  return { ...(urls[0] !== undefined ? { url: urls[0] } : {}), ...(mailto[0] !== undefined ? { mailto: mailto[0] } : {}) };
}

async function readFlagFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new InputFileError(path, error);
  }
}

/**
 * Connect options from the flags: the certificate and key read from their files, the passphrase from
 * `SMTPKIT_KEY_PASSPHRASE` or the command (never argv), the proxy and the address family.
 */
export async function extraConnectOptions(cfg: ExtraSendConfig, env: NodeJS.ProcessEnv, addSecret: (s: string) => void): Promise<Partial<ConnectOptions>> {
  const out: Partial<ConnectOptions> = {};
  if (cfg.cert !== undefined && cfg.key !== undefined) {
    out.cert = await readFlagFile(cfg.cert);
    out.key = await readFlagFile(cfg.key);
    const passphrase = cfg.keyPassphraseCommand
      ? await runSecretCommand(cfg.keyPassphraseCommand, '--key-passphrase-command')
      : env.SMTPKIT_KEY_PASSPHRASE || undefined;
    if (passphrase !== undefined) {
      addSecret(passphrase);
      out.passphrase = passphrase;
    }
  }
  if (cfg.proxy !== undefined) {
    const password = /^[a-z0-9+.-]+:\/\/[^:@/]*:([^@/]*)@/i.exec(cfg.proxy)?.[1];
    if (password) addSecret(decodeURIComponent(password));
    out.proxy = cfg.proxy;
  }
  if (cfg.family !== undefined) out.family = cfg.family;
  return out;
}

/** The message fields from the flags: list headers, and the calendar read from `--ics`. */
export async function extraMessageInput(cfg: ExtraSendConfig): Promise<{ list?: ListOptions; calendar?: CalendarInput }> {
  return {
    ...(cfg.list ? { list: cfg.list } : {}),
    ...(cfg.ics !== undefined ? { calendar: { content: await readFlagFile(cfg.ics), filename: cfg.ics.replace(/^.*[\\/]/, '') } } : {}),
  };
}
