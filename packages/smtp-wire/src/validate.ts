import { inputError } from './errors.js';

/**
 * The one check every byte the client writes passes (except DATA/BDAT payload): no C0 control
 * (U+0000–U+001F, which includes CR, LF and NUL) and no DEL. With it a CRLF can never end a
 * command early, so command injection is impossible by construction (RFC 5321 §2.3.8, §4.1.1).
 * @internal
 */
export function assertNoControls(value: string, field: string, command?: string): void {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) {
      const name = c === 0x0d ? 'CR' : c === 0x0a ? 'LF' : c === 0 ? 'NUL' : `U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
      throw inputError(`${field} contains a control character (${name}) at index ${i}`, 'ERR_SMTP_INPUT', command);
    }
  }
}

/** @internal True when some UTF-16 unit is outside ASCII. */
export function hasNonAscii(value: string): boolean {
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) > 0x7f) return true;
  return false;
}
