import { formatEnhanced, SmtpError, type Reply } from '@smtpkit/wire';

/** A connection-level failure (refused, reset, closed): retryable. */
export function connectionError(message: string, cause?: unknown, hint?: string): SmtpError {
  return new SmtpError(message, {
    kind: 'connection',
    code: 'ERR_SMTP_CONNECTION',
    retryable: true,
    ...(hint ? { hint } : {}),
    ...(cause !== undefined ? { cause } : {}),
  });
}

/** A local input problem found before anything was sent. */
export function inputError(code: string, message: string, hint?: string): SmtpError {
  return new SmtpError(message, { kind: 'input', code, retryable: false, ...(hint ? { hint } : {}) });
}

/** The server said something SMTP does not allow at this point. */
export function protocolError(message: string, reply?: Reply, command?: string): SmtpError {
  return new SmtpError(message, {
    kind: 'protocol',
    code: 'ERR_SMTP_PROTOCOL',
    retryable: false,
    ...(reply ? { reply, replyCode: reply.code } : {}),
    ...(command ? { command } : {}),
  });
}

/** Fields every error built from a reply carries. */
function replyFields(reply: Reply, command?: string) {
  return {
    replyCode: reply.code,
    reply,
    ...(reply.enhanced ? { enhancedStatus: formatEnhanced(reply.enhanced) } : {}),
    ...(command ? { command } : {}),
  };
}

/** Quote a reply for a message: `550 5.1.1 no such user`. */
export function quoteReply(reply: Reply): string {
  return `${reply.code} ${reply.lines.join(' / ')}`.trim();
}

/** The server refused a command (4xx → retryable, 5xx → not; 421 always retryable). */
export function replyError(reply: Reply, command: string, what?: string): SmtpError {
  const code = reply.code === 421 ? 'ERR_SMTP_SERVICE_UNAVAILABLE' : 'ERR_SMTP_REPLY';
  return new SmtpError(`${what ?? command} rejected: ${quoteReply(reply)}`, {
    kind: 'reply',
    code,
    retryable: reply.code >= 400 && reply.code < 500,
    ...replyFields(reply, command),
  });
}

/** Map a failed AUTH reply to a distinct code (RFC 4954 §6) and a provider hint. */
export function authError(reply: Reply, mechanism: string): SmtpError {
  const codes: Record<number, string> = {
    535: 'ERR_SMTP_AUTH_CREDENTIALS',
    534: 'ERR_SMTP_AUTH_WEAK_MECHANISM',
    454: 'ERR_SMTP_AUTH_TEMPORARY',
    530: 'ERR_SMTP_AUTH_REQUIRED',
    538: 'ERR_SMTP_AUTH_ENCRYPTION_REQUIRED',
  };
  const hint = authHint(reply);
  return new SmtpError(`AUTH ${mechanism} failed: ${quoteReply(reply)}`, {
    kind: 'auth',
    code: codes[reply.code] ?? (reply.code === 421 ? 'ERR_SMTP_SERVICE_UNAVAILABLE' : 'ERR_SMTP_AUTH_FAILED'),
    retryable: reply.code >= 400 && reply.code < 500,
    ...(hint ? { hint } : {}),
    ...replyFields(reply, `AUTH ${mechanism}`),
  });
}

/** Hints for the AUTH failures of the big providers, keyed on the enhanced status and text. */
export function authHint(reply: Reply): string | undefined {
  const text = reply.text;
  const status = reply.enhanced ? formatEnhanced(reply.enhanced) : /\b([245]\.\d{1,3}\.\d{1,3})\b/.exec(text)?.[1];
  if (status === '5.7.139' || /5\.7\.139/.test(text)) {
    return 'Office 365: SMTP AUTH is disabled for this tenant or mailbox (or security defaults are on); enable Authenticated SMTP for the mailbox or use OAuth 2.0 (auth.accessToken, XOAUTH2)';
  }
  if (status === '5.7.30' || /5\.7\.30/.test(text)) {
    return 'Office 365: basic authentication is not supported; use OAuth 2.0 (auth.accessToken, XOAUTH2)';
  }
  if (status === '5.7.3' && /outlook|office|microsoft|authentication unsuccessful/i.test(text)) {
    return 'Office 365: check the user name and password; with MFA use an app password or OAuth 2.0 (XOAUTH2)';
  }
  if (status === '5.7.9' || /application-specific password/i.test(text)) {
    return 'Gmail: this account needs an app password (https://support.google.com/accounts/answer/185833) or OAuth 2.0 (XOAUTH2)';
  }
  if (status === '5.7.8' && /gmail|google|username and password not accepted/i.test(text)) {
    return 'Gmail: username and password not accepted; use an app password or OAuth 2.0 (XOAUTH2)';
  }
  if (reply.code === 530 && /starttls/i.test(text)) {
    return "the server wants TLS first: use tls: 'starttls'";
  }
  return undefined;
}

/** The wrap for a non-SMTP failure (a thrown body iterator, a token provider) that ended the session. */
export function asSmtpError(err: unknown, fallback: () => SmtpError): SmtpError {
  return err instanceof SmtpError ? err : fallback();
}
