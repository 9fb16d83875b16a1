import { MimeError } from './errors.js';

// C0 controls except HTAB, and DEL: never valid in a header, and CR/LF/NUL would let a value end the
// field early (header injection). RFC 5322 §2.2 / §3.2.5; RFC 2045 §2.7.

// RFC 5322 §2.2 / §3.6.8: ftext is printable US-ASCII except ':'.
const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]+$/;

/** Index of the first C0 control other than HTAB, or DEL; -1 when there is none. */
export function forbiddenControlIndex(value: string): number {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return i;
  }
  return -1;
}

/** Throws `ERR_MIME_HEADER_INJECTION` when `value` holds CR, LF, NUL or another control character. */
export function assertSafeText(value: string, field: string): void {
  const index = forbiddenControlIndex(value);
  if (index >= 0) {
    const code = value.charCodeAt(index);
    const what = code === 0x0d ? 'CR' : code === 0x0a ? 'LF' : code === 0 ? 'NUL' : `control character 0x${code.toString(16).padStart(2, '0')}`;
    throw new MimeError(`${field} contains ${what} at index ${index}; header values cannot hold line breaks or control characters`, {
      code: 'ERR_MIME_HEADER_INJECTION',
      field,
    });
  }
}

/** Throws `ERR_MIME_INVALID_HEADER_NAME` unless `name` is RFC 5322 ftext (printable ASCII except ':'). */
export function assertHeaderName(name: string, field: string): void {
  if (!FIELD_NAME.test(name)) {
    throw new MimeError(`header name ${JSON.stringify(name)} is not RFC 5322 ftext (printable ASCII except ':')`, {
      code: 'ERR_MIME_INVALID_HEADER_NAME',
      field,
    });
  }
}

/** True when the string is printable US-ASCII plus SP and HTAB. */
export function isPrintableAscii(value: string): boolean {
  return /^[\x20-\x7e\t]*$/.test(value);
}
