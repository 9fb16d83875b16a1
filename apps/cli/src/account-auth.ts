import type { ConnectOptions } from '@smtpkit/client';
import { UsageError } from './exit-codes.js';
import type { Output } from './output.js';
import { tokenSource } from './secrets.js';
import type { ConnectionConfig } from './send-options.js';

/**
 * AUTH options for `--account NAME`: XOAUTH2 (or OAUTHBEARER with `--auth oauthbearer`) as the account's
 * mailbox, with its stored token, refreshed when little validity is left and once more if the server
 * refuses it. `SMTPKIT_OAUTH_TOKEN` and `--token-command` keep precedence (CI).
 */
export async function accountAuth(
  cfg: { account: string; user?: string; auth?: string; tokenCommand?: string },
  out: Output,
): Promise<NonNullable<ConnectOptions['auth']>> {
  const auth = cfg.auth ?? 'auto';
  if (!['auto', 'xoauth2', 'oauthbearer'].includes(auth)) {
    throw new UsageError(`--account signs in with OAuth 2.0: use --auth xoauth2 or oauthbearer, not ${auth}`);
  }
  const override = tokenSource({ env: process.env, command: cfg.tokenCommand });
  const { AccountStore, accountTokenProvider } = await import('@smtpkit/oauth');
  // With a token from CI and --user, the account need not exist on this machine.
  const user = override && cfg.user ? cfg.user : cfg.user ?? (await new AccountStore().get(cfg.account)).user;
  const source = override ?? accountTokenProvider(cfg.account);
  return {
    user,
    method: auth === 'oauthbearer' ? 'OAUTHBEARER' : 'XOAUTH2',
    accessToken: async (ctx) => {
      const token = await source(ctx);
      out.addSecret(token, user);
      return token;
    },
  };
}

/**
 * With `--account` and neither `--server` nor `--profile`, the account's provider names the server
 * (smtp.office365.com:587, smtp.gmail.com:587, STARTTLS).
 */
export async function withAccountServer<T extends ConnectionConfig>(cfg: T, flags: { server?: string; profile?: string; port?: string; tls?: string }): Promise<T> {
  if (!cfg.account || flags.server || flags.profile || cfg.socket !== undefined) return cfg;
  const { AccountStore } = await import('@smtpkit/oauth');
  const smtp = (await new AccountStore().get(cfg.account)).smtp;
  if (!smtp) return cfg;
  return {
    ...cfg,
    host: smtp.host,
    port: flags.port !== undefined ? cfg.port : smtp.port,
    tls: flags.tls !== undefined ? cfg.tls : 'starttls',
    requireTls: flags.tls === 'none' ? cfg.requireTls : true,
  };
}
