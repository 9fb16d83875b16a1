import { parseMailbox } from '../address.js';
import { decodeXtext } from '../command-encoder.js';
import { isSmtpError } from '../errors.js';
import { hasNonAscii } from '../validate.js';

/** ESMTP parameters of MAIL or RCPT (RFC 5321 §4.1.2 `esmtp-param`): upper-cased keyword → value (`''` if none). */
export type EsmtpParams = Record<string, string>;

/** One command as a server receives it (RFC 5321 §4.1.1, RFC 3030, RFC 3207, RFC 4954). */
export type ServerCommand =
  | { verb: 'EHLO' | 'HELO'; domain: string }
  | { verb: 'MAIL'; from: string; params: EsmtpParams; spaceAfterColon: boolean }
  | { verb: 'RCPT'; to: string; params: EsmtpParams; spaceAfterColon: boolean }
  | { verb: 'DATA' | 'RSET' | 'QUIT' | 'STARTTLS' }
  | { verb: 'NOOP' | 'HELP' | 'VRFY' | 'EXPN'; argument: string }
  | { verb: 'BDAT'; size: number; last: boolean }
  | { verb: 'AUTH'; mechanism: string; initialResponse?: string };

/** The result of {@link parseCommand}: a command, or why the line is not one. */
export type ParsedCommand =
  | { ok: true; command: ServerCommand }
  | { ok: false; verb: string; code: 500 | 501 | 502; reason: string };

const NO_ARGUMENT = new Set(['DATA', 'RSET', 'QUIT', 'STARTTLS']);
const FREE_ARGUMENT = new Set(['NOOP', 'HELP', 'VRFY', 'EXPN']);

/**
 * Parses one command line (without its line ending) as a server does: the verb case-insensitively
 * (RFC 5321 §2.4), paths with RFC 5321 §4.1.2 syntax, ESMTP parameters as `KEY[=VALUE]`.
 * Leniency is recorded, not hidden: a space after `FROM:` is accepted and flagged in `spaceAfterColon`.
 *
 * @example
 * ```ts
 * parseCommand('MAIL FROM:<a@example.com> BODY=8BITMIME SIZE=120');
 * // { ok: true, command: { verb: 'MAIL', from: 'a@example.com', params: { BODY: '8BITMIME', SIZE: '120' }, spaceAfterColon: false } }
 * ```
 */
export function parseCommand(line: string): ParsedCommand {
  const space = line.indexOf(' ');
  const verb = (space === -1 ? line : line.slice(0, space)).toUpperCase();
  const rest = space === -1 ? '' : line.slice(space + 1);
  const bad = (code: 500 | 501 | 502, reason: string): ParsedCommand => ({ ok: false, verb, code, reason });
  if (NO_ARGUMENT.has(verb)) {
    if (rest.trim() !== '') return bad(501, `${verb} takes no argument`);
    return { ok: true, command: { verb: verb as 'DATA' } };
  }
  if (FREE_ARGUMENT.has(verb)) return { ok: true, command: { verb: verb as 'NOOP', argument: rest } };
  switch (verb) {
    case 'EHLO':
    case 'HELO': {
      const domain = rest.trim();
      if (domain === '' || domain.includes(' ')) return bad(501, `${verb} needs one domain or address literal`);
      return { ok: true, command: { verb, domain } };
    }
    case 'MAIL':
    case 'RCPT':
      return parsePathCommand(verb, rest);
    case 'BDAT': {
      const m = /^(\d{1,15})( +LAST)? *$/i.exec(rest);
      if (!m) return bad(501, 'BDAT needs a chunk size and optionally LAST (RFC 3030 §2)');
      return { ok: true, command: { verb, size: Number(m[1]), last: m[2] !== undefined } };
    }
    case 'AUTH': {
      const m = /^([A-Za-z0-9_-]{1,20})(?: (\S+))? *$/.exec(rest);
      if (!m) return bad(501, 'AUTH needs a mechanism and optionally an initial response (RFC 4954 §4)');
      const command: ServerCommand = { verb, mechanism: (m[1] as string).toUpperCase() };
      if (m[2] !== undefined) command.initialResponse = m[2];
      return { ok: true, command };
    }
    default:
      return bad(500, verb === '' ? 'empty command line' : `unknown command ${JSON.stringify(verb.slice(0, 32))}`);
  }
}

function parsePathCommand(verb: 'MAIL' | 'RCPT', rest: string): ParsedCommand {
  const bad = (reason: string): ParsedCommand => ({ ok: false, verb, code: 501, reason });
  const keyword = verb === 'MAIL' ? 'FROM:' : 'TO:';
  if (rest.slice(0, keyword.length).toUpperCase() !== keyword) return bad(`expected "${verb} ${keyword}<path>"`);
  let i = keyword.length;
  while (rest.charCodeAt(i) === 0x20) i++;
  const spaceAfterColon = i > keyword.length;
  if (rest.charCodeAt(i) !== 0x3c) return bad('the path must be in angle brackets (RFC 5321 §4.1.2)');
  const close = closingBracket(rest, i + 1);
  if (close === -1) return bad('the path has no closing ">"');
  const path = stripSourceRoute(rest.slice(i + 1, close));
  const address = checkPath(verb, path);
  if (typeof address !== 'string') return bad(address.reason);
  const params = parseParams(rest.slice(close + 1));
  if (typeof params === 'string') return bad(params);
  return verb === 'MAIL'
    ? { ok: true, command: { verb, from: address, params, spaceAfterColon } }
    : { ok: true, command: { verb, to: address, params, spaceAfterColon } };
}

/** Index of the `>` closing a path that starts at `from`, skipping quoted strings; -1 if none. */
function closingBracket(s: string, from: number): number {
  let quoted = false;
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (quoted && c === 0x5c) i++;
    else if (c === 0x22) quoted = !quoted;
    else if (!quoted && c === 0x3e) return i;
  }
  return -1;
}

/** RFC 5321 §4.1.2 / Appendix C: an `@a,@b:` source route is accepted and ignored. */
function stripSourceRoute(path: string): string {
  if (path.charCodeAt(0) !== 0x40) return path;
  const colon = path.indexOf(':');
  return colon === -1 ? path : path.slice(colon + 1);
}

function checkPath(verb: 'MAIL' | 'RCPT', path: string): string | { reason: string } {
  if (path === '') return verb === 'MAIL' ? '' : { reason: 'RCPT needs a forward path' };
  // RFC 5321 §4.1.1.3: "Postmaster" without a domain is a valid recipient.
  if (verb === 'RCPT' && path.toLowerCase() === 'postmaster') return path;
  try {
    parseMailbox(path);
  } catch (e) {
    if (isSmtpError(e)) return { reason: e.message };
    throw e;
  }
  return path;
}

function parseParams(text: string): EsmtpParams | string {
  const params: EsmtpParams = {};
  for (const word of text.split(' ')) {
    if (word === '') continue;
    const eq = word.indexOf('=');
    const key = (eq === -1 ? word : word.slice(0, eq)).toUpperCase();
    if (!/^[A-Z0-9][A-Z0-9-]*$/.test(key)) return `${JSON.stringify(word)} is not an ESMTP parameter`;
    if (key in params) return `parameter ${key} given twice`;
    params[key] = eq === -1 ? '' : word.slice(eq + 1);
  }
  return params;
}

/** True when the path holds non-ASCII characters (RFC 6531: only with SMTPUTF8). */
export function isUtf8Path(address: string): boolean {
  return hasNonAscii(address);
}

/** Decodes an xtext parameter value (RFC 3461 §4), or undefined when it is malformed. */
export function readXtext(value: string): string | undefined {
  try {
    return decodeXtext(value);
  } catch {
    return undefined;
  }
}
