/** Stable machine codes carried by {@link DkimError.code}. */
export type DkimErrorCode =
  | 'ERR_DKIM_INVALID_OPTION'
  | 'ERR_DKIM_INVALID_KEY'
  | 'ERR_DKIM_KEY_TOO_SMALL'
  | 'ERR_DKIM_UNSUPPORTED_KEY'
  | 'ERR_DKIM_FORBIDDEN_HEADER'
  | 'ERR_DKIM_NO_FROM'
  | 'ERR_DKIM_HEADER_TOO_LARGE'
  | 'ERR_DKIM_8BIT_BODY'
  | 'ERR_DKIM_SOURCE_NOT_REUSABLE'
  | 'ERR_DKIM_SOURCE_CHANGED'
  | 'ERR_DKIM_INVALID_CONTENT'
  | 'ERR_DKIM_INVALID_RECORD';

const BRAND = Symbol.for('smtpkit.DkimError');

/**
 * The one error class of `@smtpkit/dkim`: a message cannot be signed (bad key, bad option, a source
 * that changed between the two passes). Signing never falls back to sending the message unsigned.
 *
 * @example
 * ```ts
 * try { await signMessage(raw, { signers: [{ domain: 'example.com', selector: 's', privateKey: weakKey }] }); }
 * catch (e) { if (isDkimError(e)) console.log(e.code); } // 'ERR_DKIM_KEY_TOO_SMALL'
 * ```
 */
export class DkimError extends Error {
  override readonly name = 'DkimError';
  readonly kind = 'input' as const;
  readonly code: DkimErrorCode;
  /** The option at fault, e.g. `'signers[1].privateKey'`. */
  readonly field?: string;

  constructor(message: string, init: { code: DkimErrorCode; field?: string; cause?: unknown }) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code;
    if (init.field !== undefined) this.field = init.field;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** Recognises a DkimError even when two copies of the package are loaded. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }

  /** A plain object for logs and `--json` output (no cause). */
  toJSON(): { name: string; kind: 'input'; code: DkimErrorCode; message: string; field?: string } {
    return { name: this.name, kind: this.kind, code: this.code, message: this.message, ...(this.field === undefined ? {} : { field: this.field }) };
  }
}

/** True when `e` is a {@link DkimError} (from any copy of the package). */
export function isDkimError(e: unknown): e is DkimError {
  return e instanceof DkimError;
}
