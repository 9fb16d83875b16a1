import { getAccessToken } from '@smtpkit/oauth';
import { EXIT, exitCodeFor, UsageError, type ExitCode } from '../exit-codes.js';
import { describeOAuthError } from './oauth-errors.js';

const FORMATS = ['token', 'xoauth2', 'json'] as const;

/**
 * `smtpkit token NAME`: a fresh access token on stdout and nothing else (a newline ends it), for msmtp's
 * `passwordeval`, aerc's `*-cred-cmd`, neomutt and `smtpkit send --token-command`. Errors go to stderr only.
 */
export async function runToken(name: string, flags: { format?: string }, env: NodeJS.ProcessEnv = process.env): Promise<ExitCode> {
  try {
    const format = flags.format ?? 'token';
    if (!(FORMATS as readonly string[]).includes(format)) throw new UsageError(`invalid --format "${format}" (one of ${FORMATS.join(', ')})`);
    // SMTPKIT_TOKEN_REFRESH=1 is how --token-command asks again after the server refused a token.
    const result = await getAccessToken(name, { env, ...(env.SMTPKIT_TOKEN_REFRESH === '1' ? { forceRefresh: true } : {}) });
    let text: string;
    if (format === 'xoauth2') {
      text = Buffer.from(`user=${result.user}\x01auth=Bearer ${result.accessToken}\x01\x01`, 'utf8').toString('base64');
    } else if (format === 'json') {
      text = JSON.stringify({ account: name, user: result.user, accessToken: result.accessToken, tokenType: 'Bearer', expiresAt: new Date(result.expiresAt).toISOString(), refreshed: result.refreshed });
    } else {
      text = result.accessToken;
    }
    process.stdout.write(`${text}\n`);
    return EXIT.OK;
  } catch (error) {
    process.stderr.write(`${describeOAuthError(error)}\n`);
    return exitCodeFor(error);
  }
}
