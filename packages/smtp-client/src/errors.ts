import { formatEnhanced, SmtpError, type Reply } from '@smtpkit/wire';

/**
 * The errors of the client's session and send path are made here. Errors built from a reply take the reply
 * first, then the command it answers; the others their message (or input code) first. Errors built from a reply
 * keep its code, enhanced status and command (STYLE §3).
 */

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

/**
 * The session cannot carry this call: it failed (`cause`, an Error), was closed (`'closed'`), or is otherwise
 * unusable (a pooled session that failed its check or arrived dead).
 */
export function unusableError(cause?: unknown): SmtpError {
  const why = cause instanceof Error ? `: ${cause.message}` : typeof cause === 'string' ? ` (${cause})` : '';
  return new SmtpError(`session is not usable${why}`, {
    kind: 'connection',
    code: 'ERR_SMTP_SESSION_UNUSABLE',
    retryable: true,
    ...(cause !== undefined && typeof cause !== 'string' ? { cause } : {}),
  });
}

/** The caller's abort (`during` says when: "during rcpt", "while queued in the pool"); an SmtpError reason is kept. */
export function abortedError(reason: unknown, during?: string): SmtpError {
  if (reason instanceof SmtpError) return reason;
  return new SmtpError(during ? `aborted ${during}` : 'aborted', {
    kind: 'aborted',
    code: 'ERR_SMTP_ABORTED',
    retryable: false,
    cause: reason,
  });
}

/** `send()` on a pool after `close()`: a usage error, not retryable on this pool. */
export function poolClosedError(): SmtpError {
  return new SmtpError('the pool is closed', {
    kind: 'input',
    code: 'ERR_SMTP_POOL_CLOSED',
    retryable: false,
    hint: 'create a new pool, or send before calling close()',
  });
}

/** `send()` on a pool beyond `maxQueue`: nothing was sent and the same send succeeds once the queue drains. */
export function poolFullError(maxQueue: number): SmtpError {
  return new SmtpError(`the pool queue is full (${maxQueue} sends waiting)`, {
    kind: 'connection',
    code: 'ERR_SMTP_POOL_QUEUE_FULL',
    retryable: true,
    hint: 'wait for some sends to finish, or raise maxQueue / maxConnections',
  });
}

/** The caller ended the session (`destroy`), with its error as the cause when it gave one. */
export function destroyedError(error?: Error): SmtpError {
  if (error instanceof SmtpError) return error;
  return new SmtpError(error?.message ?? 'session destroyed', {
    kind: 'aborted',
    code: 'ERR_SMTP_ABORTED',
    retryable: false,
    ...(error ? { cause: error } : {}),
  });
}

/** Any failure as an SmtpError: itself, or kind `connection` wrapping it. */
export function toSmtpError(cause: unknown): SmtpError {
  if (cause instanceof SmtpError) return cause;
  return new SmtpError(cause instanceof Error ? cause.message : String(cause), { kind: 'connection', code: 'ERR_SMTP_CONNECTION', cause });
}

/** Something failed during `step` that is no SmtpError (a socket error, a thrown callback): the session ends. */
export function stepError(step: string, cause: unknown): SmtpError {
  if (cause instanceof SmtpError) return cause;
  return new SmtpError(`${step} failed: ${cause instanceof Error ? cause.message : String(cause)}`, {
    kind: 'connection',
    code: 'ERR_SMTP_CONNECTION',
    cause,
  });
}

/** A failure of the caller's body source mid-transfer ends the session (the data stream cannot be undone). */
export function bodyError(cause: unknown): SmtpError {
  if (cause instanceof SmtpError) return cause;
  return new SmtpError(`reading the message body failed: ${cause instanceof Error ? cause.message : String(cause)}`, {
    kind: 'input',
    code: 'ERR_SMTP_BODY',
    retryable: false,
    cause,
  });
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

/** The reply to `command` (its log text) refused recipient `address`. */
export function recipientError(reply: Reply, command: string, address: string): SmtpError {
  return replyError(reply, command, `recipient ${address}`);
}

/** A recipient the server refused, with its reply. */
export interface RecipientRejection {
  address: string;
  reply: Reply;
  error: SmtpError;
}

/** Thrown when no recipient was accepted, or any was refused under `partial: 'all-or-nothing'`. */
export class RecipientsRejectedError extends SmtpError {
  /** Every refused recipient with the server's reply. */
  readonly rejected: RecipientRejection[];
  constructor(message: string, rejected: RecipientRejection[], allTransient: boolean) {
    const first = rejected[0]?.error;
    super(message, {
      kind: 'reply',
      code: 'ERR_SMTP_RECIPIENTS_REJECTED',
      retryable: allTransient,
      ...(first?.reply ? { reply: first.reply, replyCode: first.reply.code } : {}),
      ...(first?.enhancedStatus ? { enhancedStatus: first.enhancedStatus } : {}),
      ...(first?.command ? { command: first.command } : {}),
    });
    this.rejected = rejected;
  }
}

/**
 * Every recipient refused (`all`), or some under all-or-nothing, out of `total`: retryable when every
 * refusal was transient (4yz).
 */
export function recipientsRejected(rejected: RecipientRejection[], all: boolean, total: number): RecipientsRejectedError {
  return new RecipientsRejectedError(
    all
      ? `every recipient was rejected: ${rejected.map((r) => `${r.address} (${quoteReply(r.reply)})`).join(', ')}`
      : `${rejected.length} of ${total} recipients rejected; nothing sent (all-or-nothing): ${rejected.map((r) => r.address).join(', ')}`,
    rejected,
    rejected.every((r) => r.reply.code >= 400 && r.reply.code < 500),
  );
}
