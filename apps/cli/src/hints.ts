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

/**
 * The client's hints name library options (`tls: 'implicit'`); a CLI user needs the CLI's flags. These errors
 * get a hint of the CLI's own, in its language.
 */
const CLI_HINTS: Record<string, string> = {
  ERR_SMTP_STARTTLS_UNAVAILABLE: 'if the server speaks TLS from the first byte, use --tls implicit (usually port 465); --tls none sends without TLS',
  ERR_SMTP_TLS_EXPECTED: 'this port expects TLS from the first byte: add --tls implicit (usually port 465)',
  ERR_SMTP_TLS_WRONG_VERSION: 'the server answered in plaintext: this port expects STARTTLS, use --tls starttls (e.g. port 587) or --tls none',
  ERR_SMTP_TLS_CERT: 'pass the server CA with --ca PATH, or pin it with --pin SHA256',
  ERR_SMTP_INSECURE_AUTH: 'use --tls starttls or --tls implicit: the password never goes over a connection without TLS',
  ERR_SMTP_SMTPUTF8_UNSUPPORTED: 'this server cannot take internationalized (UTF-8) addresses: use an ASCII address for that mailbox, or send through a server that offers SMTPUTF8',
  ERR_SMTP_8BIT_HEADERS: 'this server takes 7-bit mail only: write non-ASCII header text as RFC 2047 encoded words (smtpkit send does so for messages it builds), or use a server with 8BITMIME',
  ERR_SMTP_NOT_MIME: 'this server takes 7-bit mail only and the message is not MIME: add MIME-Version, Content-Type and Content-Transfer-Encoding headers, or use a server with 8BITMIME',
  ERR_SMTP_8BIT_UNCONVERTIBLE: 'this server takes 7-bit mail only: encode that part as quoted-printable or base64, or use a server with 8BITMIME',
};

/** A client hint that still names a library option, put in the CLI's words. */
function inCliTerms(hint: string): string {
  return hint
    .replace(/tls: '(\w+)'/g, (_m, mode: string) => `--tls ${mode === 'opportunistic' ? 'auto' : mode}`)
    .replace(/OAuth 2\.0 \(auth\.accessToken, XOAUTH2\)/g, 'OAuth (--auth xoauth2 with SMTPKIT_OAUTH_TOKEN or --token-command)')
    .replace(/OAuth 2\.0 \(XOAUTH2\)/g, 'OAuth (--auth xoauth2)')
    .replace(/`ca`/g, '--ca PATH')
    .replace(/`pin`/g, '--pin SHA256');
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
  const own = e.code !== undefined ? CLI_HINTS[e.code] : undefined;
  if (own) return own;
  if (e.hint) return inCliTerms(e.hint);
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
