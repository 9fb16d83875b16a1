import { Buffer } from 'node:buffer';
import { domainToASCII } from 'node:url';
import { decodeWords, encodeWord } from './encoded-word.js';
import { MimeError } from './errors.js';
import { assertSafeText } from './validate.js';

/** A mailbox: an optional display name and an address (`local@domain`). */
export interface Address {
  name?: string;
  address: string;
}

/** What the builder accepts for an address: `'a@b'`, `'Name <a@b>'`, or `{ name, address }`. */
export type AddressInput = string | Address;

type Token = { type: 'atom' | 'quoted' | 'comment' | 'angle'; value: string } | { type: 'special'; value: string };

function invalid(message: string, field?: string): MimeError {
  return new MimeError(message, { code: 'ERR_MIME_INVALID_ADDRESS', ...(field === undefined ? {} : { field }) });
}

/** An atom (or a dot-atom, or a run of other text up to the next special), read from `lastIndex` on. */
const ATOM_RUN = /[^\s"(),:;<@]+/y;

// RFC 5322 §3.4 / §3.2: quoted strings, comments (nested), angle addresses, specials and atoms.
function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i] as string;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      i++;
    } else if (c === '"') {
      let v = '';
      i++;
      while (i < input.length && input[i] !== '"') {
        if (input[i] === '\\' && i + 1 < input.length) i++;
        v += input[i];
        i++;
      }
      i++;
      tokens.push({ type: 'quoted', value: v });
    } else if (c === '(') {
      let depth = 1;
      let v = '';
      i++;
      while (i < input.length && depth > 0) {
        const d = input[i] as string;
        if (d === '\\' && i + 1 < input.length) {
          v += input[i + 1];
          i += 2;
          continue;
        }
        if (d === '(') depth++;
        else if (d === ')' && --depth === 0) break;
        v += d;
        i++;
      }
      i++;
      tokens.push({ type: 'comment', value: v });
    } else if (c === '<') {
      const end = input.indexOf('>', i);
      if (end < 0) throw invalid(`unterminated '<' in ${JSON.stringify(input)}`);
      tokens.push({ type: 'angle', value: input.slice(i + 1, end).trim() });
      i = end + 1;
    } else if (c === ',' || c === ':' || c === ';' || c === '@') {
      tokens.push({ type: 'special', value: c });
      i++;
    } else {
      ATOM_RUN.lastIndex = i;
      const v = ATOM_RUN.exec(input)?.[0] ?? c;
      i += v.length;
      tokens.push({ type: 'atom', value: v });
    }
  }
  return tokens;
}

function mailboxFrom(tokens: Token[]): Address | undefined {
  const meaningful = tokens.filter((t) => t.type !== 'comment');
  if (meaningful.length === 0) return undefined;
  const angle = tokens.findIndex((t) => t.type === 'angle');
  if (angle >= 0) {
    const words = tokens.slice(0, angle).filter((t) => t.type === 'atom' || t.type === 'quoted' || (t.type === 'special' && t.value !== ','));
    const rawName = words.map((t) => (t.type === 'atom' ? decodeWords(t.value) : t.value)).join(' ').trim();
    // RFC 5322 §4.4: an obsolete source route ("@a,@b:") before the address is dropped.
    const address = (tokens[angle]?.value ?? '').replace(/^(?:@[^,:]+,?)+:/, '');
    return rawName === '' ? { address } : { name: rawName, address };
  }
  let address = '';
  for (const t of tokens) {
    if (t.type === 'quoted') address += `"${t.value.replace(/[\\"]/g, '\\$&')}"`;
    else if (t.type === 'atom' || t.type === 'special') address += t.value;
  }
  const comment = tokens.find((t) => t.type === 'comment');
  return comment !== undefined && comment.value.trim() !== '' ? { name: decodeWords(comment.value.trim()), address } : { address };
}

/**
 * Parses an RFC 5322 address list (§3.4): mailboxes separated by commas, groups (`team: a@x, b@y;`)
 * flattened to their members, display names unquoted and RFC 2047-decoded. Syntax of the addresses
 * themselves is checked when a message is built, not here.
 *
 * @example
 * ```ts
 * parseAddressList('"Doe, Jane" <jane@example.com>, bob@example.org');
 * // [{ name: 'Doe, Jane', address: 'jane@example.com' }, { address: 'bob@example.org' }]
 * ```
 */
export function parseAddressList(input: string): Address[] {
  const tokens = tokenize(input);
  const out: Address[] = [];
  let current: Token[] = [];
  const flush = (): void => {
    const mailbox = mailboxFrom(current);
    if (mailbox !== undefined) out.push(mailbox);
    current = [];
  };
  for (const t of tokens) {
    if (t.type === 'special' && t.value === ',') flush();
    else if (t.type === 'special' && t.value === ':' && !current.some((x) => x.type === 'angle')) current = []; // group name
    else if (t.type === 'special' && t.value === ';') flush();
    else current.push(t);
  }
  flush();
  return out;
}

/**
 * Parses one mailbox: `'a@b'`, `'Name <a@b>'`, `'"Last, First" <a@b>'`, `'a@b (Name)'`.
 * Throws `MimeError` `ERR_MIME_INVALID_ADDRESS` unless the input holds exactly one address.
 *
 * @example
 * ```ts
 * parseAddress('Jane Doe <jane@example.com>'); // { name: 'Jane Doe', address: 'jane@example.com' }
 * ```
 */
export function parseAddress(input: string): Address {
  assertSafeText(input, 'address');
  const list = parseAddressList(input);
  if (list.length !== 1 || list[0] === undefined || list[0].address === '') {
    throw invalid(`expected exactly one address in ${JSON.stringify(input)}, found ${list.length}`);
  }
  return list[0];
}

const DOT_ATOM = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\u{10ffff}]+(?:\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\u{10ffff}]+)*$/u;
const QUOTED_LOCAL = /^"(?:[\x20\x21\x23-\x5b\x5d-\x7e\u0080-\u{10ffff}]|\\[\x20-\x7e])*"$/u;
const LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;
const ADDRESS_LITERAL = /^\[[\x21-\x5a\x5e-\x7e]+\]$/;

/** A checked address, ready for headers and the envelope. */
export interface NormalizedAddress {
  /** `local@domain` with the domain as A-labels unless SMTPUTF8 is allowed. */
  address: string;
  name?: string;
  /** True when the address needs SMTPUTF8 (RFC 6531): a non-ASCII local part, or U-labels kept. */
  needsSmtputf8: boolean;
}

/**
 * Checks an address (RFC 5322 §3.4.1 / RFC 5321 §4.1.2) and normalises its domain: IDN → A-labels
 * (RFC 5890) unless `smtputf8` is allowed, in which case UTF-8 is kept (RFC 6532).
 */
export function normalizeAddress(input: AddressInput, field: string, smtputf8 = false): NormalizedAddress {
  let mailbox: Address;
  if (typeof input === 'string') {
    assertSafeText(input, field);
    const list = parseAddressList(input);
    if (list.length !== 1 || list[0] === undefined) throw invalid(`${field}: expected one address in ${JSON.stringify(input)}`, field);
    mailbox = list[0];
  } else {
    if (typeof input !== 'object' || input === null || typeof input.address !== 'string') {
      throw invalid(`${field}: expected a string or { name?, address }`, field);
    }
    assertSafeText(input.address, `${field}.address`);
    if (input.name !== undefined) assertSafeText(input.name, `${field}.name`);
    mailbox = { address: input.address.trim(), ...(input.name === undefined ? {} : { name: input.name }) };
  }
  const at = mailbox.address.lastIndexOf('@');
  if (at <= 0 || at === mailbox.address.length - 1) throw invalid(`${field}: ${JSON.stringify(mailbox.address)} is not local@domain`, field);
  const local = mailbox.address.slice(0, at);
  let domain = mailbox.address.slice(at + 1);
  if (!DOT_ATOM.test(local) && !QUOTED_LOCAL.test(local)) throw invalid(`${field}: invalid local part ${JSON.stringify(local)}`, field);
  if (Buffer.byteLength(local, 'utf8') > 64) throw invalid(`${field}: local part longer than 64 octets (RFC 5321 §4.5.3.1.1)`, field);
  const localIsAscii = !/[\u0080-\uffff]/.test(local);
  if (!localIsAscii && !smtputf8) {
    throw new MimeError(`${field}: ${JSON.stringify(mailbox.address)} has a non-ASCII local part; pass smtputf8: true (RFC 6531)`, {
      code: 'ERR_MIME_SMTPUTF8_REQUIRED',
      field,
    });
  }
  let domainIsAscii = true;
  if (ADDRESS_LITERAL.test(domain)) {
    // RFC 5321 §4.1.3 address literal, kept as written.
  } else {
    const ascii = domainToASCII(domain.replace(/\.$/, ''));
    if (ascii === '' || ascii.length > 255 || !ascii.split('.').every((l) => LABEL.test(l))) {
      throw invalid(`${field}: invalid domain ${JSON.stringify(domain)}`, field);
    }
    domainIsAscii = !/[\u0080-\uffff]/.test(domain);
    if (!smtputf8 || domainIsAscii) domain = ascii;
  }
  const needsSmtputf8 = !localIsAscii || (smtputf8 && !domainIsAscii);
  const name = mailbox.name?.trim();
  return { address: `${local}@${domain}`, needsSmtputf8, ...(name ? { name } : {}) };
}

/** RFC 5322 §3.2.3 atext plus spaces: a phrase that needs no quoting. */
const PLAIN_PHRASE = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+(?: [A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+)*$/;

/**
 * Formats a display name as an RFC 5322 phrase: atoms as they are, other printable ASCII as a
 * quoted-string, anything else as RFC 2047 encoded words.
 */
export function formatDisplayName(name: string): string {
  // Runs of whitespace are collapsed by some readers even inside a quoted-string; an encoded word keeps them.
  if (/[^\x20-\x7e]/.test(name) || /=\?/.test(name) || /\s\s/.test(name)) return encodeWord(name);
  if (PLAIN_PHRASE.test(name)) return name;
  return `"${name.replace(/[\\"]/g, '\\$&')}"`;
}

/**
 * Formats a mailbox for a header: `Name <a@b>` or `a@b`. Validates like the builder does, so nothing
 * unsafe can come out.
 *
 * @example
 * ```ts
 * formatAddress({ name: 'Zoë', address: 'zoe@bücher.example' }); // '=?utf-8?Q?Zo=C3=AB?= <zoe@xn--bcher-kva.example>'
 * ```
 */
export function formatAddress(input: AddressInput, options: { smtputf8?: boolean } = {}): string {
  const n = normalizeAddress(input, 'address', options.smtputf8 ?? false);
  return n.name === undefined ? n.address : `${formatDisplayName(n.name)} <${n.address}>`;
}
