/**
 * Exit codes, from sysexits(3), and the one mapping from an error to an exit code.
 *
 * Every failure the CLI can report goes through {@link classifyError}; the table test in
 * `test/exit-codes.test.ts` pins each row.
 */
export const EXIT = {
  /** All recipients accepted, message queued. */
  OK: 0,
  /** EX_USAGE: bad flags, missing required flag, a password that cannot be had. */
  USAGE: 64,
  /** EX_DATAERR: invalid address, header/command injection attempt, line too long to send. */
  DATAERR: 65,
  /** EX_NOINPUT: an input file is missing or unreadable. */
  NOINPUT: 66,
  /** EX_NOUSER: some recipients were rejected; the message went to the rest. */
  NOUSER: 67,
  /** EX_UNAVAILABLE: the server said no, permanently (5xx). */
  UNAVAILABLE: 69,
  /** EX_TEMPFAIL: 4xx, timeout, connection lost: try again later. */
  TEMPFAIL: 75,
  /** EX_PROTOCOL: the server spoke something that is not SMTP. */
  PROTOCOL: 76,
  /** EX_NOPERM: AUTH failed or was refused. */
  NOPERM: 77,
  /** EX_CONFIG: TLS required but unavailable, certificate invalid, or AUTH would send a password in clear. */
  CONFIG: 78,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A flag or flag combination the user must fix; exits 64 before anything is sent. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Input the CLI itself refuses before any package sees it (a CR/LF smuggled into a header flag); exits 65. */
export class DataError extends Error {
  override readonly name = 'DataError';
}

/** An input file that cannot be read; exits 66. */
export class InputFileError extends Error {
  override readonly name = 'InputFileError';
  constructor(
    readonly path: string,
    cause: unknown,
  ) {
    const code = (cause as { code?: string } | undefined)?.code;
    super(`cannot read ${path}${code ? ` (${code})` : ''}`, { cause });
  }
}

/** The fields of an SmtpError or MimeError the mapping reads (duck-typed, so this file loads no package). */
export interface ErrorShape {
  name?: string;
  kind?: string;
  code?: string;
  replyCode?: number;
  command?: string;
}

/**
 * Map any thrown value to its exit code.
 *
 * `SmtpError.kind` decides, refined by the reply code and the command it answered:
 * a 5xx is permanent (69), a 4xx transient (75), a refusal of AUTH is 77 whatever its code.
 */
export function exitCodeFor(error: unknown): ExitCode {
  if (error instanceof UsageError) return EXIT.USAGE;
  if (error instanceof InputFileError) return EXIT.NOINPUT;
  if (error instanceof DataError) return EXIT.DATAERR;
  const e = (error ?? {}) as ErrorShape;
  if (e.name === 'MimeError' || e.name === 'DkimError') return EXIT.DATAERR;
  if (e.name === 'OAuthError') return oauthExit(e.kind);
  // A token provider that failed inside AUTH (refresh refused, provider down) keeps its OAuth meaning.
  const cause = (error as { cause?: ErrorShape }).cause;
  if (e.code === 'ERR_SMTP_AUTH_TOKEN' && cause?.name === 'OAuthError') return oauthExit(cause.kind);
  if (e.name !== 'SmtpError') return EXIT.TEMPFAIL;
  const code = e.code ?? '';
  switch (e.kind) {
    case 'input':
      return EXIT.DATAERR;
    case 'protocol':
      return EXIT.PROTOCOL;
    case 'tls':
      return EXIT.CONFIG;
    case 'auth':
      // RFC 4954 §4 leaves "no TLS, so no password" to policy; we refuse, and it is a configuration problem.
      if (/INSECURE|TLS|ENCRYPT/.test(code)) return EXIT.CONFIG;
      return EXIT.NOPERM;
    case 'timeout':
    case 'connection':
    case 'aborted':
      return EXIT.TEMPFAIL;
    case 'reply': {
      if (e.command?.toUpperCase().startsWith('AUTH')) return EXIT.NOPERM;
      if (e.command?.toUpperCase().startsWith('STARTTLS')) return EXIT.CONFIG;
      const klass = Math.floor((e.replyCode ?? 0) / 100);
      if (klass === 5) return EXIT.UNAVAILABLE;
      if (klass === 4) return EXIT.TEMPFAIL;
      return EXIT.PROTOCOL;
    }
    default:
      return EXIT.TEMPFAIL;
  }
}

/** `OAuthError.kind` (from @smtpkit/oauth) to an exit code: sign in again is 77, a registration problem 78. */
function oauthExit(kind: string | undefined): ExitCode {
  switch (kind) {
    case 'usage':
      return EXIT.USAGE;
    case 'config':
      return EXIT.CONFIG;
    case 'auth':
      return EXIT.NOPERM;
    case 'protocol':
      return EXIT.PROTOCOL;
    default:
      return EXIT.TEMPFAIL;
  }
}
