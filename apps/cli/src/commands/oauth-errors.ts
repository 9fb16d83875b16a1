import { oneLine } from '../output.js';

interface HintedError {
  message?: string;
  hint?: string;
  cause?: { name?: string; hint?: string };
}

/**
 * One stderr line for a failure of login/token/accounts/logout: the message (which for a dead grant already
 * says to run `smtpkit login` again), then the fix the package attached, once.
 */
export function describeOAuthError(error: unknown, prefix = ''): string {
  const e = (error ?? {}) as HintedError;
  const message = e.message ?? String(error);
  const hint = e.hint ?? (e.cause?.name === 'OAuthError' ? e.cause.hint : undefined);
  return oneLine(`smtpkit: ${prefix}${message}${hint && !message.includes(hint) ? ` (hint: ${hint})` : ''}`);
}
