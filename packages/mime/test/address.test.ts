import { describe, expect, it } from 'vitest';
import { MimeError, formatAddress, parseAddress, parseAddressList } from '../src/index.js';

describe('parseAddress / parseAddressList (RFC 5322 §3.4)', () => {
  it.each([
    ['a@example.com', { address: 'a@example.com' }],
    ['Jane Doe <jane@example.com>', { name: 'Jane Doe', address: 'jane@example.com' }],
    ['"Doe, Jane" <jane@example.com>', { name: 'Doe, Jane', address: 'jane@example.com' }],
    ['"Say \\"hi\\"" <x@example.com>', { name: 'Say "hi"', address: 'x@example.com' }],
    ['jane@example.com (Jane Doe)', { name: 'Jane Doe', address: 'jane@example.com' }],
    ['=?utf-8?Q?Zo=C3=AB?= <zoe@example.com>', { name: 'Zoë', address: 'zoe@example.com' }],
    ['<@relay.example:bob@example.org>', { address: 'bob@example.org' }],
    ['"john doe"@example.com', { address: '"john doe"@example.com' }],
  ])('parses %j', (input, expected) => {
    expect(parseAddress(input)).toEqual(expected);
  });

  it('flattens groups and splits lists on top-level commas only', () => {
    expect(parseAddressList('team: a@x.example, "B, b" <b@y.example>;, c@z.example')).toEqual([
      { address: 'a@x.example' },
      { name: 'B, b', address: 'b@y.example' },
      { address: 'c@z.example' },
    ]);
    expect(parseAddressList('undisclosed-recipients:;')).toEqual([]);
  });

  it('rejects zero or several addresses, and control characters', () => {
    expect(() => parseAddress('a@x.example, b@y.example')).toThrow(MimeError);
    expect(() => parseAddress('')).toThrow(/exactly one/);
    expect(() => parseAddress('a@x.example\r\nBcc: v@y.example')).toThrow(expect.objectContaining({ code: 'ERR_MIME_HEADER_INJECTION' }));
  });
});

describe('formatAddress', () => {
  it.each([
    [{ address: 'a@example.com' }, 'a@example.com'],
    [{ name: 'Jane Doe', address: 'jane@example.com' }, 'Jane Doe <jane@example.com>'],
    [{ name: 'Doe, Jane', address: 'jane@example.com' }, '"Doe, Jane" <jane@example.com>'],
    [{ name: 'a "q" \\ b', address: 'x@example.com' }, '"a \\"q\\" \\\\ b" <x@example.com>'],
    [{ name: 'Zoë', address: 'zoe@bücher.example' }, '=?utf-8?Q?Zo=C3=AB?= <zoe@xn--bcher-kva.example>'],
    ['Ünicode Name <u@example.com>', '=?utf-8?Q?=C3=9Cnicode_Name?= <u@example.com>'],
    [{ address: 'user@[192.0.2.1]' }, 'user@[192.0.2.1]'],
  ])('formats %j', (input, expected) => {
    expect(formatAddress(input)).toBe(expected);
  });

  it('keeps U-labels and accepts UTF-8 local parts only with smtputf8 (RFC 6531)', () => {
    expect(formatAddress('zoe@bücher.example', { smtputf8: true })).toBe('zoe@bücher.example');
    expect(formatAddress('用户@例子.广告', { smtputf8: true })).toBe('用户@例子.广告');
    expect(() => formatAddress('用户@example.com')).toThrow(expect.objectContaining({ code: 'ERR_MIME_SMTPUTF8_REQUIRED' }));
  });

  it.each(['no-at-sign', '@example.com', 'a@', 'a..b@example.com', '.a@example.com', 'a@-bad-.example', 'a@exa mple.com', `${'x'.repeat(65)}@example.com`])(
    'rejects %j with ERR_MIME_INVALID_ADDRESS',
    (address) => {
      expect(() => formatAddress({ address })).toThrow(expect.objectContaining({ code: 'ERR_MIME_INVALID_ADDRESS' }));
    },
  );
});
