import { inputError } from './errors.js';

/** A C0 control or DEL, and any UTF-16 code unit outside ASCII. */
// eslint-disable-next-line no-control-regex -- finding control characters is what it is for
const CONTROL = /[\u0000-\u001f\u007f]/;
// eslint-disable-next-line no-control-regex -- the range starts at U+0000
const NON_ASCII = /[^\u0000-\u007f]/;

/**
 * The one check every byte the client writes passes (except DATA/BDAT payload): no C0 control
 * (U+0000–U+001F, which includes CR, LF and NUL) and no DEL. With it a CRLF can never end a
 * command early, so command injection is impossible by construction (RFC 5321 §2.3.8, §4.1.1).
 * @internal
 */
export function assertNoControls(value: string, field: string, command?: string): void {
  // A native scan: this runs for every command and every address.
  if (!CONTROL.test(value)) return;
  const i = value.search(CONTROL);
  const c = value.charCodeAt(i);
  const name = c === 0x0d ? 'CR' : c === 0x0a ? 'LF' : c === 0 ? 'NUL' : `U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
  throw inputError(`${field} contains a control character (${name}) at index ${i}`, 'ERR_SMTP_INPUT', command);
}

/** @internal True when some UTF-16 unit is outside ASCII. */
export function hasNonAscii(value: string): boolean {
  return NON_ASCII.test(value);
}
