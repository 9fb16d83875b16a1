import { domainToASCII, domainToUnicode } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatPath, isValidEhloDomain, needsSmtputf8, parseMailbox } from '../src/address.js';
import { isSmtpError } from '../src/errors.js';
import { fcParams } from './support.js';

function inputErrorOf(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (e) {
    if (isSmtpError(e) && e.kind === 'input') return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('expected an input error');
}

describe('parseMailbox: valid (RFC 5321 §4.1.2)', () => {
  it.each([
    ['user@example.com', 'user', 'example.com', false],
    ['first.last+tag@sub.example.co.uk', 'first.last+tag', 'sub.example.co.uk', false],
    ["!#$%&'*+-/=?^_`{|}~@x", "!#$%&'*+-/=?^_`{|}~", 'x', false],
    ['"john doe"@example.com', '"john doe"', 'example.com', false],
    ['"a@b"@example.com', '"a@b"', 'example.com', false],
    ['"quote\\"d\\\\"@example.com', '"quote\\"d\\\\"', 'example.com', false],
    ['""@example.com', '""', 'example.com', false],
    ['user@[192.0.2.1]', 'user', '[192.0.2.1]', false],
    ['user@[IPv6:2001:db8::1]', 'user', '[IPv6:2001:db8::1]', false],
    ['user@[IPv6:2001:db8:0:0:0:0:0:1]', 'user', '[IPv6:2001:db8:0:0:0:0:0:1]', false],
    ['user@[IPv6:::ffff:192.0.2.1]', 'user', '[IPv6:::ffff:192.0.2.1]', false],
    ['user@[IPv6:1:2:3:4:5:6:192.0.2.1]', 'user', '[IPv6:1:2:3:4:5:6:192.0.2.1]', false],
    ['user@[ipv6:::]', 'user', '[ipv6:::]', false],
    ['user@localhost', 'user', 'localhost', false],
    ['<user@example.com>', 'user', 'example.com', false],
    ['üser@example.com', 'üser', 'example.com', true],
    ['"ü ser"@example.com', '"ü ser"', 'example.com', true],
    ['user@bücher.example', 'user', 'bücher.example', false],
    ['用户@例子.广告', '用户', '例子.广告', true],
    [`${'a'.repeat(64)}@example.com`, 'a'.repeat(64), 'example.com', false],
  ] as const)('%s', (address, localPart, domain, needs) => {
    expect(parseMailbox(address)).toEqual({ localPart, domain, needsSmtputf8: needs });
    expect(needsSmtputf8(address)).toBe(needs);
  });
});

describe('parseMailbox: invalid', () => {
  it.each([
    ['no at sign', 'user.example.com', /missing "@"/],
    ['empty local part', '@example.com', /empty local part/],
    ['leading dot', '.user@example.com', /empty atom/],
    ['trailing dot', 'user.@example.com', /ends with a dot/],
    ['double dot', 'us..er@example.com', /empty atom/],
    ['space unquoted', 'us er@example.com', /not allowed in an unquoted/],
    ['angle bracket inside', 'us<er@example.com', /not allowed/],
    ['unterminated quote', '"user@example.com', /unterminated|unescaped/],
    ['unescaped quote', '"us"er"@example.com', /unescaped quote/],
    ['bad escape', '"us\\\u00e9"@example.com', /backslash/],
    ['local part too long', `${'a'.repeat(65)}@example.com`, /longer than 64/],
    ['empty domain', 'user@', /empty domain/],
    ['domain empty label', 'user@example..com', /empty label/],
    ['domain trailing dot', 'user@example.com.', /empty label/],
    ['domain starts with hyphen', 'user@-example.com', /starts with a hyphen/],
    ['domain ends with hyphen', 'user@example-.com', /ends with a hyphen/],
    ['domain underscore', 'user@ex_ample.com', /not allowed in a domain/],
    ['domain label too long', `user@${'a'.repeat(64)}.com`, /63 octets/],
    ['domain too long', `user@${Array.from({ length: 52 }, () => 'abcd').join('.')}`, /255 octets/],
    ['bad IPv4 literal', 'user@[192.0.2.256]', /address literal/],
    ['short IPv4 literal', 'user@[192.0.2]', /address literal/],
    ['bad IPv6 literal', 'user@[IPv6:2001:db8::1::2]', /address literal/],
    ['IPv6 too many groups', 'user@[IPv6:1:2:3:4:5:6:7:8:9]', /address literal/],
    ['IPv6 bad hex', 'user@[IPv6:2001:db8::g]', /address literal/],
    ['IPv6 with v4 and too many groups', 'user@[IPv6:1:2:3:4:5:6:7:192.0.2.1]', /address literal/],
    ['general literal', 'user@[tag:stuff]', /address literal/],
    ['unclosed literal', 'user@[192.0.2.1', /address literal/],
    ['bad IDN', 'user@xn--ü.example', /internationalized|not allowed/],
    ['CR', 'user@exa\rmple.com', /control character \(CR\)/],
    ['NUL', 'us\0er@example.com', /control character \(NUL\)/],
  ])('%s', (_name, address, message) => {
    const err = inputErrorOf(() => parseMailbox(address));
    expect(err.code).toBe('ERR_SMTP_INPUT');
    expect(err.message).toMatch(message);
  });
});

describe('formatPath', () => {
  it('formats paths, the null path, and A-labels for IDN domains', () => {
    expect(formatPath('user@example.com')).toBe('<user@example.com>');
    expect(formatPath('')).toBe('<>');
    expect(formatPath('<>')).toBe('<>');
    expect(formatPath('user@bücher.example')).toBe('<user@xn--bcher-kva.example>');
    expect(formatPath('user@BÜCHER.example')).toBe('<user@xn--bcher-kva.example>');
    expect(formatPath('user@bücher.example', { smtputf8: true })).toBe('<user@bücher.example>');
    expect(formatPath('üser@bücher.example', { smtputf8: true })).toBe('<üser@bücher.example>');
    expect(formatPath('User@Example.COM')).toBe('<User@Example.COM>');
  });

  it('converts many distinct IDN domains correctly (the memo stays bounded)', () => {
    const domainOf = (path: string): string => path.slice(path.indexOf('@') + 1, -1);
    for (let i = 0; i < 600; i++) {
      const d = domainOf(formatPath(`a@bücher${i}.example`));
      expect(d).toMatch(/^xn--bcher\d+-[a-z0-9]+\.example$/);
      expect(domainToUnicode(d)).toBe(`bücher${i}.example`);
    }
    expect(formatPath('a@bücher7.example')).toBe(`<a@${domainToASCII('bücher7.example')}>`);
  });

  it('remembers only valid paths: a bad address fails every time, and the same address with SMTPUTF8 is judged apart', () => {
    for (let i = 0; i < 3; i++) {
      expect(inputErrorOf(() => formatPath('bad..dots@example.com')).message).toBe(
        'address "bad..dots@example.com": local part has an empty atom at index 4 (leading, trailing or double dot)',
      );
    }
    expect(formatPath('üser@example.com', { smtputf8: true })).toBe('<üser@example.com>');
    expect(inputErrorOf(() => formatPath('üser@example.com')).code).toBe('ERR_SMTP_SMTPUTF8_REQUIRED');
  });

  it('refuses a non-ASCII local part without SMTPUTF8', () => {
    expect(inputErrorOf(() => formatPath('üser@example.com')).code).toBe('ERR_SMTP_SMTPUTF8_REQUIRED');
  });

  it('refuses a path over 256 octets (RFC 5321 §4.5.3.1.3)', () => {
    const domain = Array.from({ length: 40 }, () => 'abcde').join('.');
    expect(inputErrorOf(() => formatPath(`${'a'.repeat(64)}@${domain}`)).message).toMatch(/256/);
  });
});

describe('isValidEhloDomain', () => {
  it.each([
    ['mail.example.com', true],
    ['localhost', true],
    ['[127.0.0.1]', true],
    ['[IPv6:::1]', true],
    ['bücher.example', true],
    ['my_pc', false],
    ['', false],
    ['host\r\nMAIL FROM:<x@y>', false],
    ['[999.0.0.1]', false],
  ])('%s → %s', (domain, valid) => {
    expect(isValidEhloDomain(domain)).toBe(valid);
  });
});

const atom = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]{1,10}$/);
const dotString = fc.array(atom, { minLength: 1, maxLength: 4 }).map((a) => a.join('.')).filter((s) => s.length <= 64);
const quoted = fc
  .array(fc.oneof(fc.stringMatching(/^[\x20\x21\x23-\x5b\x5d-\x7e]$/), fc.stringMatching(/^\\[\x20-\x7e]$/)), { maxLength: 20 })
  .map((parts) => `"${parts.join('')}"`);
const label = fc.stringMatching(/^[A-Za-z0-9]([A-Za-z0-9-]{0,10}[A-Za-z0-9])?$/);
const domain = fc.array(label, { minLength: 1, maxLength: 4 }).map((l) => l.join('.'));
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => `[${p.join('.')}]`);
const ipv6 = fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }).map((g) => `[IPv6:${g.map((x) => x.toString(16)).join(':')}]`);

describe('address properties', () => {
  it('parse/format round trip for generated mailboxes', () => {
    fc.assert(
      fc.property(fc.oneof(dotString, quoted), fc.oneof(domain, ipv4, ipv6), (local, dom) => {
        const address = `${local}@${dom}`;
        const box = parseMailbox(address);
        expect(box).toEqual({ localPart: local, domain: dom, needsSmtputf8: false });
        const path = formatPath(address);
        expect(path).toBe(`<${address}>`);
        expect(parseMailbox(path)).toEqual(box);
      }),
      fcParams('mailbox round trip', 500),
    );
  });

  it('any control character anywhere in an address is an input error', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), fc.integer({ min: 0, max: 0x20 }), fc.string({ maxLength: 20 }), (a, c, b) => {
        const ctl = String.fromCharCode(c === 0x20 ? 0x7f : c);
        const err = inputErrorOf(() => parseMailbox(`${a}${ctl}${b}@example.com`));
        expect(err.message).toMatch(/control character/);
      }),
      fcParams('address control characters', 300),
    );
  });
});
