import { Buffer } from 'node:buffer';
import { FOLD_LENGTH, MAX_LINE_LENGTH } from './constants.js';
import { MimeError } from './errors.js';

/**
 * Writes one header field as `Name: value` CRLF-terminated lines, folded (RFC 5322 §2.2.3) before
 * whitespace so that lines stay within 78 characters where the value allows it (§2.1.1). A single
 * token longer than that keeps its own line; a line over 998 octets is an error, never emitted.
 * `value` must already be wire-ready (encoded words, quoted strings).
 *
 * @example
 * ```ts
 * foldHeader('Subject', 'a '.repeat(50)); // 'Subject: a a … a\r\n a a …\r\n'
 * ```
 */
export function foldHeader(name: string, value: string, field: string = name): string {
  const separator = value.length > 0 && !isWsp(value.charCodeAt(0)) ? ' ' : '';
  // A field that fits in one line of 78 characters has nothing to fold (RFC 5322 §2.1.1); 78 characters are
  // at most 312 octets, far under the 998-octet limit.
  if (name.length + 1 + separator.length + value.length <= FOLD_LENGTH) return `${name}:${separator}${value}\r\n`;
  // Fold points: before a single SP or HTAB between two non-whitespace characters. Never inside a run of
  // whitespace: some readers collapse the whitespace at a fold, which would change the value.
  const tokens = value.split(/(?<=[^ \t])(?=[ \t][^ \t])/);
  const lines: string[] = [];
  let current = `${name}:${separator}${tokens[0] ?? ''}`;
  for (let i = 1; i < tokens.length; i++) {
    const token = tokens[i] as string;
    const onlyWhitespace = !/[^ \t]/.test(token);
    if (current.length + token.length <= FOLD_LENGTH || onlyWhitespace) current += token;
    else {
      lines.push(current);
      current = token;
    }
  }
  lines.push(current);
  for (const line of lines) {
    if (Buffer.byteLength(line, 'utf8') > MAX_LINE_LENGTH) {
      throw new MimeError(`${field}: a header line would be longer than ${MAX_LINE_LENGTH} octets (RFC 5322 §2.1.1)`, {
        code: 'ERR_MIME_LINE_TOO_LONG',
        field,
      });
    }
  }
  return `${lines.join('\r\n')}\r\n`;
}

function isWsp(c: number): boolean {
  return c === 0x20 || c === 0x09;
}
