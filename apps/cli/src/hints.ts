import type { ErrorShape } from './exit-codes.js';

/** What the CLI knows about the connection when an error reaches the user. */
export interface HintContext {
  host: string;
  port: number;
  tls: 'auto' | 'starttls' | 'implicit' | 'none';
}

interface HintedError extends ErrorShape {
  message?: string;
  hint?: string;
  reply?: { text?: string };
  enhancedStatus?: string;
}

const GMAIL = /(^|\.)(gmail|googlemail|google)\.com$/i;
const OFFICE365 = /(^|\.)(office365|outlook|office|hotmail|live)\.com$/i;

/**
 * A one-sentence hint for the errors people hit most, or undefined.
 *
 * The client's own hint wins; these add what only the CLI knows (the provider behind the host name,
 * the port the user typed).
 */
export function hintFor(error: unknown, ctx: HintContext): string | undefined {
  const e = (error ?? {}) as HintedError;
  const text = `${e.reply?.text ?? ''} ${e.message ?? ''}`;
  const isAuth = e.kind === 'auth' || (e.command ?? '').toUpperCase().startsWith('AUTH');
  const isMailFrom = (e.command ?? '').toUpperCase().startsWith('MAIL');

  if (isAuth && OFFICE365.test(ctx.host) && /basic auth|5\.7\.139|SmtpClientAuthentication/i.test(text)) {
    return 'Office 365 has basic authentication disabled: use OAuth (--auth xoauth2 with SMTPKIT_OAUTH_TOKEN or --token-command)';
  }
  if (isAuth && GMAIL.test(ctx.host)) {
    return 'Gmail needs an app password (Google Account > Security > App passwords) or OAuth (--auth xoauth2)';
  }
  if ((isMailFrom || e.kind === 'reply') && /SendAs|5\.7\.60|not owned|not authori[sz]ed to send|sender address rejected|does not match/i.test(text)) {
    return 'the From address must be the mailbox you authenticated as';
  }
  if (e.hint) return e.hint;
  if (e.kind === 'connection' || e.kind === 'protocol' || e.kind === 'timeout' || e.kind === 'tls') {
    if (ctx.port === 465 && ctx.tls !== 'implicit') return 'port 465 expects TLS from the first byte: add --tls implicit';
    if ((ctx.port === 587 || ctx.port === 25) && ctx.tls === 'implicit') {
      return `port ${ctx.port} speaks STARTTLS: use --tls starttls (or --tls auto)`;
    }
  }
  if (e.kind === 'tls' && /self[- ]signed|unable to verify|certificate|CERT/i.test(text)) {
    return 'pass the server CA with --ca PATH, or pin it with --pin SHA256';
  }
  return undefined;
}
