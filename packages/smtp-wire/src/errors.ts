import type { Reply } from './reply.js';

/** What went wrong, in one word. `reply`: the server said no; `protocol`: the server spoke garbage. */
export type SmtpErrorKind = 'reply' | 'protocol' | 'timeout' | 'connection' | 'tls' | 'auth' | 'aborted' | 'input';

/** Fields of an {@link SmtpError}; only `kind` and `code` are required. */
export interface SmtpErrorInit {
  kind: SmtpErrorKind;
  /** Stable machine-readable code, e.g. `ERR_SMTP_INPUT`, `ERR_SMTP_PROTOCOL`, `ERR_SMTP_REPLY_TOO_LONG`. */
  code: string;
  /** The server's reply code; only set when a server actually said it. */
  replyCode?: number;
  /** RFC 3463 enhanced status, e.g. `'5.1.1'`. */
  enhancedStatus?: string;
  /** The command that failed, e.g. `'RCPT TO:<b@example.com>'`; AUTH arguments are never kept. */
  command?: string;
  /** The complete reply, every line. */
  reply?: Reply;
  /** Defaults to: 4xx replies, timeouts and connection failures are retryable; everything else is not. */
  retryable?: boolean;
  /** A hint for humans on how to fix the problem. */
  hint?: string;
  /** Protocol errors: byte offset in the received stream where the problem was detected. */
  offset?: number;
  cause?: unknown;
}

const BRAND = Symbol.for('smtpkit.SmtpError');

function defaultRetryable(init: SmtpErrorInit): boolean {
  if (init.kind === 'timeout' || init.kind === 'connection') return true;
  const code = init.replyCode;
  // RFC 5321 §4.2.1: 4yz is a transient negative completion reply (421 included).
  return code !== undefined && code >= 400 && code < 500;
}

/**
 * The one error class of smtpkit's SMTP side.
 *
 * `instanceof SmtpError` works across two copies of the package (the brand is a `Symbol.for` key);
 * {@link isSmtpError} does the same check as a function.
 *
 * @example
 * ```ts
 * try { encodeCommand({ verb: 'RCPT', to: 'a\r\nDATA@x' }); }
 * catch (e) { if (isSmtpError(e) && e.kind === 'input') console.error(e.code, e.message); }
 * ```
 */
export class SmtpError extends Error {
  override readonly name = 'SmtpError';
  // Optional fields are `declare`d so unset ones are absent, not own properties holding undefined.
  readonly kind: SmtpErrorKind;
  readonly code: string;
  declare readonly replyCode?: number;
  declare readonly enhancedStatus?: string;
  declare readonly command?: string;
  declare readonly reply?: Reply;
  readonly retryable: boolean;
  declare readonly hint?: string;
  declare readonly offset?: number;

  constructor(message: string, init: SmtpErrorInit) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.kind = init.kind;
    this.code = init.code;
    if (init.replyCode !== undefined) this.replyCode = init.replyCode;
    if (init.enhancedStatus !== undefined) this.enhancedStatus = init.enhancedStatus;
    if (init.command !== undefined) this.command = init.command;
    if (init.reply !== undefined) this.reply = init.reply;
    if (init.hint !== undefined) this.hint = init.hint;
    if (init.offset !== undefined) this.offset = init.offset;
    this.retryable = init.retryable ?? defaultRetryable(init);
    Object.defineProperty(this, BRAND, { value: true });
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    // Subclasses keep ordinary prototype checks; SmtpError itself accepts any branded error.
    if (this !== SmtpError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return isSmtpError(value);
  }

  /** A plain object for logs and `--json`: no `cause`, no stack, no secrets. */
  toJSON(): object {
    const out: Record<string, unknown> = { name: this.name, kind: this.kind, code: this.code, message: this.message };
    if (this.replyCode !== undefined) out.replyCode = this.replyCode;
    if (this.enhancedStatus !== undefined) out.enhancedStatus = this.enhancedStatus;
    if (this.command !== undefined) out.command = this.command;
    if (this.reply !== undefined) out.reply = this.reply;
    out.retryable = this.retryable;
    if (this.hint !== undefined) out.hint = this.hint;
    if (this.offset !== undefined) out.offset = this.offset;
    return out;
  }
}

/** True for any {@link SmtpError}, including one thrown by another copy of this package. */
export function isSmtpError(e: unknown): e is SmtpError {
  return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[BRAND] === true;
}

/** @internal Shorthand for local input errors. */
export function inputError(message: string, code = 'ERR_SMTP_INPUT', command?: string): SmtpError {
  return new SmtpError(message, command === undefined ? { kind: 'input', code } : { kind: 'input', code, command });
}

/** @internal Shorthand for protocol errors at a byte offset. */
export function protocolError(message: string, offset: number, code = 'ERR_SMTP_PROTOCOL'): SmtpError {
  return new SmtpError(`${message} (at byte ${offset})`, { kind: 'protocol', code, offset });
}
