import { AccountStore } from '@smtpkit/oauth';
import { EXIT, exitCodeFor, type ExitCode } from '../exit-codes.js';
import { describeOAuthError } from './oauth-errors.js';

function relative(iso: string | undefined, now: number): string {
  if (!iso) return '-';
  const ms = Date.parse(iso) - now;
  const minutes = Math.round(Math.abs(ms) / 60_000);
  const span = minutes < 120 ? `${minutes} min` : `${Math.round(minutes / 60)} h`;
  return ms >= 0 ? `in ${span}` : `${span} ago`;
}

/** `smtpkit accounts`: what is stored, from accounts.json alone (no keyring prompt, never a secret). */
export async function runAccounts(flags: { json?: boolean }, env: NodeJS.ProcessEnv = process.env): Promise<ExitCode> {
  try {
    const accounts = await new AccountStore({ env }).list();
    const rows = accounts.map((a) => ({
      account: a.name,
      provider: a.provider,
      user: a.user,
      store: a.store === 'keyring' ? `keyring (${a.keyring})` : 'file',
      accessTokenExpiresAt: a.accessTokenExpiresAt,
      lastRefreshAt: a.lastRefreshAt ?? null,
    }));
    if (flags.json) {
      process.stdout.write(`${JSON.stringify(rows)}\n`);
      return EXIT.OK;
    }
    if (rows.length === 0) {
      process.stdout.write('no accounts: sign in with `smtpkit login microsoft|google|oidc`\n');
      return EXIT.OK;
    }
    const now = Date.now();
    const table = [
      ['ACCOUNT', 'PROVIDER', 'USER', 'STORE', 'ACCESS TOKEN EXPIRES', 'LAST REFRESH'],
      ...rows.map((r) => [r.account, r.provider, r.user, r.store, relative(r.accessTokenExpiresAt, now), relative(r.lastRefreshAt ?? undefined, now)]),
    ];
    const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
    for (const row of table) process.stdout.write(`${row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()}\n`);
    return EXIT.OK;
  } catch (error) {
    process.stderr.write(`${describeOAuthError(error)}\n`);
    return exitCodeFor(error);
  }
}
