/** Stable machine codes carried by {@link MimeError.code}. */
export type MimeErrorCode =
  | 'ERR_MIME_HEADER_INJECTION'
  | 'ERR_MIME_INVALID_HEADER_NAME'
  | 'ERR_MIME_INVALID_ADDRESS'
  | 'ERR_MIME_SMTPUTF8_REQUIRED'
  | 'ERR_MIME_RESERVED_HEADER'
  | 'ERR_MIME_STRUCTURAL_HEADER'
  | 'ERR_MIME_LINE_TOO_LONG'
  | 'ERR_MIME_INVALID_OPTION'
  | 'ERR_MIME_MISSING_CID'
  | 'ERR_MIME_SIZE_MISMATCH'
  | 'ERR_MIME_ALREADY_CONSUMED'
  | 'ERR_MIME_INVALID_CONTENT'
  | 'ERR_MIME_ASYNC_SOURCE'
  | 'ERR_MIME_HEADER_TOO_LARGE'
  | 'ERR_MIME_8BIT_WHEN_SIGNING';

const BRAND = Symbol.for('smtpkit.MimeError');

/**
 * The one error class of `@smtpkit/mime`: always bad input (`kind: 'input'`), thrown before any byte is
 * produced where the problem can be seen up front, or by the stream when a content source misbehaves.
 *
 * @example
 * ```ts
 * try { buildMessage({ from: 'a@example.com', subject: 'x\r\nBcc: victim@example.net' }); }
 * catch (e) { if (isMimeError(e)) console.log(e.code); } // 'ERR_MIME_HEADER_INJECTION'
 * ```
 */
export class MimeError extends Error {
  override readonly name = 'MimeError';
  readonly kind = 'input' as const;
  readonly code: MimeErrorCode;
  /** Where the problem is, e.g. `'to[1]'`, `'subject'`, `'headers.X-Tag'`, `'attachments[0].filename'`. */
  readonly field?: string;

  constructor(message: string, init: { code: MimeErrorCode; field?: string; cause?: unknown }) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code;
    if (init.field !== undefined) this.field = init.field;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** Recognises a MimeError even when two copies of the package are loaded. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }

  /** A plain object for logs and `--json` output (no cause). */
  toJSON(): { name: string; kind: 'input'; code: MimeErrorCode; message: string; field?: string } {
    return { name: this.name, kind: this.kind, code: this.code, message: this.message, ...(this.field === undefined ? {} : { field: this.field }) };
  }
}

/** True when `e` is a {@link MimeError} (from any copy of the package). */
export function isMimeError(e: unknown): e is MimeError {
  return e instanceof MimeError;
}
