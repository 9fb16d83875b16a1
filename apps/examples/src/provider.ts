/**
 * What the campus and external examples share: read the account from the environment, connect
 * the way the provider wants, authenticate, send one short message.
 *
 * Environment (secrets never on the command line):
 *   SMTPKIT_ACCOUNT       an account from `smtpkit login` (XOAUTH2, refreshed as needed)  }
 *   SMTPKIT_OAUTH_TOKEN   OAuth 2.0 access token (XOAUTH2; wins over the account, for CI)  } one of
 *   SMTPKIT_PASSWORD      password or app password                                        } these
 *   SMTPKIT_USER          the mailbox you log in as (also the From address; default: the account's)
 *   SMTPKIT_TO            recipient (default: yourself)
 *   SMTPKIT_HOST, SMTPKIT_PORT, SMTPKIT_CA   override the server and trust a CA file (PEM)
 */
import { readFileSync } from 'node:fs';
import { sendMail, type AuthOptions, type SendResult, type TlsMode, type TranscriptEvent } from '@smtpkit/client';
import { buildMessage } from '@smtpkit/mime';

/** How a provider wants to be spoken to. */
export interface ProviderPreset {
  name: string;
  host: string;
  port: number;
  tls: TlsMode;
  /** Mechanism for a password: Office 365 speaks LOGIN; others let the client choose. */
  passwordMethod?: AuthOptions['method'];
}

/** A problem with the environment the example was started in (exit 64, like the CLI). */
export class SetupError extends Error {
  override readonly name = 'SetupError';
}

/** A stored account: its mailbox and a token provider that refreshes (the client asks again after a refusal). */
async function storedAccount(name: string, env: NodeJS.ProcessEnv): Promise<{ user: string; accessToken: NonNullable<AuthOptions['accessToken']> }> {
  const { AccountStore, accountTokenProvider } = await import('@smtpkit/oauth');
  const record = await new AccountStore({ env }).get(name);
  return { user: record.user, accessToken: accountTokenProvider(name, { env }) };
}

/** Send one message through a provider preset, configured from `env`. */
export async function sendThroughProvider(
  preset: ProviderPreset,
  env: NodeJS.ProcessEnv,
  onTranscript?: (e: TranscriptEvent) => void,
): Promise<SendResult> {
  const token = env.SMTPKIT_OAUTH_TOKEN;
  const accountName = env.SMTPKIT_ACCOUNT;
  const pass = env.SMTPKIT_PASSWORD;
  const account = !token && accountName ? await storedAccount(accountName, env) : undefined;
  const user = env.SMTPKIT_USER || account?.user;
  if (!user) throw new SetupError('set SMTPKIT_ACCOUNT (after `smtpkit login`), or SMTPKIT_USER to your mailbox address');
  if (!token && !account && !pass) throw new SetupError('sign in with `smtpkit login` and set SMTPKIT_ACCOUNT, or set SMTPKIT_PASSWORD (an app password) or SMTPKIT_OAUTH_TOKEN');
  const auth: AuthOptions = token
    ? { user, method: 'XOAUTH2', accessToken: token }
    : account
      ? { user, method: 'XOAUTH2', accessToken: account.accessToken }
      : { user, pass, ...(preset.passwordMethod ? { method: preset.passwordMethod } : {}) };
  const to = env.SMTPKIT_TO || user;
  const message = buildMessage({
    // Submission servers reject a From that is not the authenticated mailbox (Office 365: 5.7.60 SendAsDenied).
    from: user,
    to: [to],
    subject: `Hello from smtpkit via ${preset.name}`,
    text: `This message was sent by the smtpkit ${preset.name} example.\r\n`,
  });
  return sendMail({
    host: env.SMTPKIT_HOST || preset.host,
    port: env.SMTPKIT_PORT ? Number(env.SMTPKIT_PORT) : preset.port,
    tls: preset.tls,
    ...(env.SMTPKIT_CA ? { ca: readFileSync(env.SMTPKIT_CA) } : {}),
    auth,
    ...(onTranscript ? { onTranscript } : {}),
    from: user,
    to: [to],
    data: message,
  });
}

/** Run an example from the command line: `-v` prints the transcript; errors are one line on stderr. */
export async function runExample(preset: ProviderPreset, argv: readonly string[]): Promise<void> {
  const verbose = argv.includes('-v') || argv.includes('--verbose');
  try {
    const result = await sendThroughProvider(
      preset,
      process.env,
      verbose ? (e) => process.stdout.write(`${e.dir === '*' ? '*' : `${e.dir}:`} ${e.text}\n`) : undefined,
    );
    process.stdout.write(`${preset.name}: ${result.reply.code} ${result.reply.lines[0] ?? ''} (${result.accepted.join(', ')})\n`);
  } catch (error) {
    const e = error as Error & { hint?: string; kind?: string; cause?: { name?: string; kind?: string } };
    process.stderr.write(`${preset.name}: ${e.message}${e.hint ? ` (hint: ${e.hint})` : ''}\n`);
    // A stored account that needs `smtpkit login` again exits 77, as the CLI does.
    const oauth = e.name === 'OAuthError' ? e : e.cause?.name === 'OAuthError' ? e.cause : undefined;
    process.exitCode = error instanceof SetupError || oauth?.kind === 'usage' || oauth?.kind === 'config' ? 64 : oauth?.kind === 'auth' ? 77 : 1;
  }
}
