import type { Command } from 'commander';

/** Raw `login` flags (validated in login.ts). */
export interface LoginFlags {
  account?: string; user?: string; flow?: string; tenant?: string; clientId?: string; clientSecretCommand?: string;
  clientFile?: string; issuer?: string; scope?: string; port?: string; browserCommand?: string; store?: string;
  probe?: boolean; server?: string; ca?: string; json?: boolean; quiet?: boolean;
}

const REGISTRATION_HELP = `
Client ids: smtpkit ships none. Register your own (docs/OAUTH.md has the details):

  microsoft  Entra admin center > App registrations > New registration:
             platform "Mobile and desktop applications", redirect URI http://localhost,
             Authentication > "Allow public client flows" = Yes,
             API permissions (delegated): Office 365 Exchange Online SMTP.Send, offline_access, openid, email.
             Then: smtpkit login microsoft --client-id ID [--tenant TENANT] --user you@school.edu
             For IT: the mailbox also needs Authenticated SMTP enabled
             (Set-CASMailbox -Identity you@school.edu -SmtpClientAuthenticationDisabled $false);
             admin consent for the four permissions spares every user the consent prompt (AADSTS65001).
  google     Cloud console > APIs & Services > Credentials > Create OAuth client ID > "Desktop app";
             download the JSON and pass it as --client-file. Its secret is not confidential.
             A project left in "Testing" gets refresh tokens that die after 7 days: publish it.
             Google's device flow refuses the mail scope: use the browser or paste flow.
  oidc       any OpenID provider: --issuer URL --client-id ID (a public client with PKCE).
`;

/** Registers `login`, `token`, `accounts` and `logout`; each loads its code only when run. */
export function addOAuthCommands(program: Command): void {
  program
    .command('login')
    .description('sign in with OAuth 2.0 and store the account (tokens in the OS keyring or a 0600 file)')
    .argument('<provider>', 'microsoft | google | oidc')
    .option('--account <name>', 'name to store the account under (default: the mailbox)')
    .option('--user <email>', 'the mailbox (default: from the ID token); also sent as login_hint')
    .option('--flow <flow>', 'auto | browser | device | paste', 'auto')
    .option('--tenant <tenant>', 'microsoft: common, organizations, consumers, a domain or the tenant id')
    .option('--client-id <id>', 'the app registration (required for microsoft and oidc)')
    .option('--client-secret-command <cmd>', 'shell command printing the client secret (confidential clients)')
    .option('--client-file <path>', 'google: the "Desktop app" client JSON from the Cloud console')
    .option('--issuer <url>', 'oidc: the issuer; endpoints come from its discovery document')
    .option('--scope <scopes>', 'override the scopes (space-separated)')
    .option('--port <n>', 'loopback port for the browser redirect (default: any free one; for ssh -L)')
    .option('--browser-command <cmd>', 'program to open the URL with (the URL is appended as its last argument)')
    .option('--store <store>', 'auto | keyring | file', 'auto')
    .option('--no-probe', 'do not check the token with AUTH XOAUTH2 at the SMTP server afterwards')
    .option('-s, --server <host[:port]>', 'SMTP server for the check (default: the provider\'s)')
    .option('--ca <path>', 'extra CA certificate (PEM) for the check')
    .option('--json', 'print JSON lines on stdout (the URL or device code as an event, then the result)')
    .option('-q, --quiet', 'print nothing but the sign-in instructions and errors')
    .addHelpText('after', REGISTRATION_HELP)
    .action(async (provider: string, flags: LoginFlags) => {
      const { runLogin } = await import('./login.js');
      process.exitCode = await runLogin(provider, flags);
    });

  program
    .command('token')
    .description('print a fresh access token for a stored account on stdout, and nothing else (for msmtp passwordeval, aerc, neomutt, --token-command)')
    .argument('<account>', 'account name')
    .option('--format <format>', 'token | xoauth2 | json', 'token')
    .action(async (account: string, flags: { format?: string }) => {
      const { runToken } = await import('./token.js');
      process.exitCode = await runToken(account, flags);
    });

  program
    .command('accounts')
    .description('list stored accounts: provider, user, store, access-token expiry, last refresh (never a secret)')
    .option('--json', 'print a JSON array')
    .action(async (flags: { json?: boolean }) => {
      const { runAccounts } = await import('./accounts.js');
      process.exitCode = await runAccounts(flags);
    });

  program
    .command('logout')
    .description('forget a stored account (tokens and metadata)')
    .argument('<account>', 'account name')
    .option('--revoke', "also revoke the grant at the provider's revocation endpoint (Google, OpenID providers that have one)")
    .action(async (account: string, flags: { revoke?: boolean }) => {
      const { runLogout } = await import('./logout.js');
      process.exitCode = await runLogout(account, flags);
    });
}
