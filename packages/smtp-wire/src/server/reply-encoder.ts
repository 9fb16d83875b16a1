import { Buffer } from 'node:buffer';
import { inputError } from '../errors.js';
import { assertNoControls } from '../validate.js';

/** Longest reply line in octets, CRLF included (RFC 5321 §4.5.3.1.5). */
export const MAX_REPLY_LINE = 512;

/** A reply as a server sends it. `enhanced` (`'2.1.0'`, RFC 3463) goes before the text of every line (RFC 2034 §4). */
export interface ServerReply {
  code: number;
  enhanced?: string;
  /** One entry per line; `''` for a line with no text. */
  lines: string[];
}

/**
 * Encodes a reply (RFC 5321 §4.2): `code-text` on every line but the last, `code text` on the last.
 * Every line passes the same check as commands do: no control character, at most 512 octets.
 *
 * @throws {SmtpError} kind `input` for a code outside 200–599, a control character or an over-long line.
 * @example
 * ```ts
 * encodeServerReply({ code: 250, enhanced: '2.1.0', lines: ['Ok'] }); // bytes of "250 2.1.0 Ok\r\n"
 * ```
 */
export function encodeServerReply(reply: ServerReply): Uint8Array {
  const { code, enhanced, lines } = reply;
  if (!Number.isInteger(code) || code < 200 || code > 599) throw inputError(`reply code ${code} is not 200-599`);
  if (enhanced !== undefined && !new RegExp(`^${Math.floor(code / 100)}\\.\\d{1,3}\\.\\d{1,3}$`).test(enhanced)) {
    throw inputError(`enhanced status ${JSON.stringify(enhanced)} does not match reply code ${code} (RFC 3463 §2)`);
  }
  const list = lines.length === 0 ? [''] : lines;
  let out = '';
  for (let i = 0; i < list.length; i++) {
    const text = list[i] as string;
    assertNoControls(text, 'reply text');
    const body = enhanced === undefined ? text : text === '' ? enhanced : `${enhanced} ${text}`;
    const line = `${code}${i === list.length - 1 ? ' ' : '-'}${body}\r\n`;
    if (Buffer.byteLength(line) > MAX_REPLY_LINE) throw inputError(`reply line over ${MAX_REPLY_LINE} octets (RFC 5321 §4.5.3.1.5)`);
    out += line;
  }
  return Buffer.from(out, 'utf8');
}
