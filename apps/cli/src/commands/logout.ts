import { logout } from '@smtpkit/oauth';
import { EXIT, exitCodeFor, type ExitCode } from '../exit-codes.js';
import { describeOAuthError } from './oauth-errors.js';

/** `smtpkit logout NAME [--revoke]`: forget the account here, and with --revoke at the provider too. */
export async function runLogout(name: string, flags: { revoke?: boolean }, env: NodeJS.ProcessEnv = process.env): Promise<ExitCode> {
  try {
    const result = await logout(name, { env, ...(flags.revoke ? { revoke: true } : {}) });
    const note = result.revoked
      ? '; the grant was revoked at the provider'
      : result.revocationUnavailable
        ? '; the provider has no revocation endpoint: remove the app under your account\'s "apps and permissions" to end the grant there'
        : '';
    process.stdout.write(`account "${name}" removed${note}\n`);
    return EXIT.OK;
  } catch (error) {
    process.stderr.write(`${describeOAuthError(error)}\n`);
    return exitCodeFor(error);
  }
}
