import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_COMMAND_LINE, decodeXtext, encodeCommand, encodeXtext } from '../src/command-encoder.js';
import type { Command, EncodeOptions } from '../src/command-encoder.js';
import { SmtpError, isSmtpError } from '../src/errors.js';
import { fcParams } from './support.js';

function inputError(fn: () => unknown): SmtpError {
  try {
    fn();
  } catch (e) {
    if (isSmtpError(e) && e.kind === 'input') return e;
    throw e;
  }
  throw new Error('expected an input error');
}

describe('encodeCommand: wire forms', () => {
  it.each<[string, Command, string, string?, EncodeOptions?]>([
    ['EHLO', { verb: 'EHLO', domain: 'client.example.com' }, 'EHLO client.example.com\r\n'],
    ['HELO', { verb: 'HELO', domain: 'client' }, 'HELO client\r\n'],
    ['LHLO (RFC 2033 §4.1)', { verb: 'LHLO', domain: 'client' }, 'LHLO client\r\n'],
    ['EHLO address literal', { verb: 'EHLO', domain: '[192.0.2.1]' }, 'EHLO [192.0.2.1]\r\n'],
    ['EHLO IPv6 literal', { verb: 'EHLO', domain: '[IPv6:2001:db8::1]' }, 'EHLO [IPv6:2001:db8::1]\r\n'],
    ['EHLO IDN → A-label', { verb: 'EHLO', domain: 'bücher.example' }, 'EHLO xn--bcher-kva.example\r\n'],
    ['MAIL', { verb: 'MAIL', from: 'a@example.com' }, 'MAIL FROM:<a@example.com>\r\n'],
    ['MAIL null path', { verb: 'MAIL', from: '' }, 'MAIL FROM:<>\r\n'],
    [
      'MAIL with every parameter',
      { verb: 'MAIL', from: 'a@example.com', params: { size: 12345, body: '8BITMIME', smtputf8: true, ret: 'HDRS', envid: 'QQ314159+x=y z', requireTls: true } },
      'MAIL FROM:<a@example.com> SIZE=12345 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=QQ314159+2Bx+3Dy+20z REQUIRETLS\r\n',
    ],
    ['MAIL BODY=7BIT RET=FULL', { verb: 'MAIL', from: 'a@example.com', params: { body: '7BIT', ret: 'FULL' } }, 'MAIL FROM:<a@example.com> BODY=7BIT RET=FULL\r\n'],
    ['MAIL BINARYMIME SIZE=0', { verb: 'MAIL', from: 'a@example.com', params: { body: 'BINARYMIME', size: 0 } }, 'MAIL FROM:<a@example.com> SIZE=0 BODY=BINARYMIME\r\n'],
    ['MAIL IDN domain', { verb: 'MAIL', from: 'a@bücher.example' }, 'MAIL FROM:<a@xn--bcher-kva.example>\r\n'],
    ['MAIL SMTPUTF8 keeps UTF-8', { verb: 'MAIL', from: 'ü@bücher.example', params: { smtputf8: true } }, 'MAIL FROM:<ü@bücher.example> SMTPUTF8\r\n'],
    ['MAIL false flags', { verb: 'MAIL', from: 'a@example.com', params: { smtputf8: false, requireTls: false } }, 'MAIL FROM:<a@example.com>\r\n'],
    ['RCPT', { verb: 'RCPT', to: 'b@example.net' }, 'RCPT TO:<b@example.net>\r\n'],
    ['RCPT quoted', { verb: 'RCPT', to: '"b c"@example.net' }, 'RCPT TO:<"b c"@example.net>\r\n'],
    ['RCPT NOTIFY=NEVER', { verb: 'RCPT', to: 'b@example.net', params: { notify: 'NEVER' } }, 'RCPT TO:<b@example.net> NOTIFY=NEVER\r\n'],
    [
      'RCPT NOTIFY list + ORCPT',
      { verb: 'RCPT', to: 'b@example.net', params: { notify: ['SUCCESS', 'FAILURE', 'DELAY', 'FAILURE'], orcpt: 'B+x=@example.net' } },
      'RCPT TO:<b@example.net> NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=rfc822;B+2Bx+3D@example.net\r\n',
    ],
    [
      'RCPT ORCPT utf-8 type, 7-bit utf-8-addr-xtext (RFC 6533 §3)',
      { verb: 'RCPT', to: 'b@bücher.example', params: { orcpt: 'jö+r=a\\n "x"@bücher.example😀' } },
      'RCPT TO:<b@xn--bcher-kva.example> ORCPT=utf-8;j\\x{F6}\\x{2B}r\\x{3D}a\\x{5C}n\\x{20}"x"@b\\x{FC}cher.example\\x{1F600}\r\n',
    ],
    [
      'RCPT ORCPT utf-8 type, utf-8-addr-unitext under SMTPUTF8 (RFC 6533 §3)',
      { verb: 'RCPT', to: 'jö@bücher.example', params: { notify: ['SUCCESS'], orcpt: 'jö+1@bücher.example' } },
      'RCPT TO:<jö@bücher.example> NOTIFY=SUCCESS ORCPT=utf-8;jö\\x{2B}1@bücher.example\r\n',
      undefined,
      { smtputf8: true },
    ],
    ['RCPT ORCPT ASCII under SMTPUTF8 stays rfc822', { verb: 'RCPT', to: 'jö@example.net', params: { orcpt: 'b+c@example.net' } }, 'RCPT TO:<jö@example.net> ORCPT=rfc822;b+2Bc@example.net\r\n', undefined, { smtputf8: true }],
    ['RCPT UTF-8 with smtputf8', { verb: 'RCPT', to: 'ü@bücher.example' }, 'RCPT TO:<ü@bücher.example>\r\n', undefined, { smtputf8: true }],
    ['DATA', { verb: 'DATA' }, 'DATA\r\n'],
    ['RSET', { verb: 'RSET' }, 'RSET\r\n'],
    ['NOOP', { verb: 'NOOP' }, 'NOOP\r\n'],
    ['QUIT', { verb: 'QUIT' }, 'QUIT\r\n'],
    ['STARTTLS', { verb: 'STARTTLS' }, 'STARTTLS\r\n'],
    ['BDAT', { verb: 'BDAT', size: 65536, last: false }, 'BDAT 65536\r\n'],
    ['BDAT LAST', { verb: 'BDAT', size: 0, last: true }, 'BDAT 0 LAST\r\n'],
    ['AUTH without initial response', { verb: 'AUTH', mechanism: 'login' }, 'AUTH LOGIN\r\n', 'AUTH LOGIN'],
    ['AUTH PLAIN initial response', { verb: 'AUTH', mechanism: 'PLAIN', initialResponse: 'AHVzZXIAc2VjcmV0' }, 'AUTH PLAIN AHVzZXIAc2VjcmV0\r\n', 'AUTH PLAIN ***'],
    ['AUTH empty initial response', { verb: 'AUTH', mechanism: 'EXTERNAL', initialResponse: '=' }, 'AUTH EXTERNAL =\r\n', 'AUTH EXTERNAL ***'],
    ['AUTH continuation', { verb: 'AUTH_RESPONSE', response: 'c2VjcmV0' }, 'c2VjcmV0\r\n', '***'],
    ['AUTH empty continuation', { verb: 'AUTH_RESPONSE', response: '' }, '\r\n', '***'],
    ['AUTH cancel', { verb: 'AUTH_RESPONSE', response: '*' }, '*\r\n', '*'],
  ])('%s', (_name, cmd, expected, logText, options) => {
    const enc = encodeCommand(cmd, options);
    expect(Buffer.from(enc.bytes).toString('utf8')).toBe(expected);
    expect(enc.logText).toBe(logText ?? expected.slice(0, -2));
    expect(enc.verb).toBe(cmd.verb);
    expect(enc.logText).not.toMatch(/[\r\n]/);
  });

  it('never puts AUTH data in log text or error messages', () => {
    const secret = 'AHVzZXIAc2VjcmV0';
    expect(encodeCommand({ verb: 'AUTH', mechanism: 'PLAIN', initialResponse: secret }).logText).not.toContain(secret);
    const err = inputError(() => encodeCommand({ verb: 'AUTH', mechanism: 'PLAIN', initialResponse: `${secret}\r\nMAIL FROM:<x@y>` }));
    expect(err.message).not.toContain(secret);
    expect(err.command).toBe('AUTH PLAIN');
    const err2 = inputError(() => encodeCommand({ verb: 'AUTH', mechanism: 'PLAIN', initialResponse: 'A'.repeat(600) }));
    expect(err2.code).toBe('ERR_SMTP_COMMAND_TOO_LONG');
    expect(err2.message).not.toContain('AAAA');
    expect(err2.command).toBe('AUTH PLAIN ***');
  });
});

describe('encodeCommand: input errors', () => {
  it.each<[string, Command, string, RegExp, EncodeOptions?]>([
    ['CRLF in EHLO domain', { verb: 'EHLO', domain: 'x\r\nMAIL FROM:<a@b>' }, 'ERR_SMTP_INPUT', /control character \(CR\)/],
    ['bad EHLO domain', { verb: 'EHLO', domain: 'my_host' }, 'ERR_SMTP_INPUT', /not allowed in a domain/],
    ['empty EHLO domain', { verb: 'HELO', domain: '' }, 'ERR_SMTP_INPUT', /empty domain/],
    ['LF in MAIL address', { verb: 'MAIL', from: 'a@b\nRCPT TO:<c@d>' }, 'ERR_SMTP_INPUT', /control character \(LF\)/],
    ['NUL in RCPT address', { verb: 'RCPT', to: 'a\0@b' }, 'ERR_SMTP_INPUT', /NUL/],
    ['null path in RCPT', { verb: 'RCPT', to: '' }, 'ERR_SMTP_INPUT', /null path/],
    ['<> in RCPT', { verb: 'RCPT', to: '<>' }, 'ERR_SMTP_INPUT', /null path/],
    ['UTF-8 local part without SMTPUTF8', { verb: 'RCPT', to: 'ü@example.com' }, 'ERR_SMTP_SMTPUTF8_REQUIRED', /SMTPUTF8/],
    ['UTF-8 sender without SMTPUTF8', { verb: 'MAIL', from: 'ü@example.com' }, 'ERR_SMTP_SMTPUTF8_REQUIRED', /SMTPUTF8/],
    ['negative SIZE', { verb: 'MAIL', from: 'a@b', params: { size: -1 } }, 'ERR_SMTP_INPUT', /SIZE/],
    ['fractional SIZE', { verb: 'MAIL', from: 'a@b', params: { size: 1.5 } }, 'ERR_SMTP_INPUT', /SIZE/],
    ['bad BODY', { verb: 'MAIL', from: 'a@b', params: { body: '8BIT' as never } }, 'ERR_SMTP_INPUT', /BODY/],
    ['bad RET', { verb: 'MAIL', from: 'a@b', params: { ret: 'ALL' as never } }, 'ERR_SMTP_INPUT', /RET/],
    ['CR in ENVID', { verb: 'MAIL', from: 'a@b', params: { envid: 'x\ry' } }, 'ERR_SMTP_INPUT', /ENVID contains a control/],
    ['empty ENVID', { verb: 'MAIL', from: 'a@b', params: { envid: '' } }, 'ERR_SMTP_INPUT', /ENVID/],
    ['long ENVID', { verb: 'MAIL', from: 'a@b', params: { envid: 'x'.repeat(101) } }, 'ERR_SMTP_INPUT', /100/],
    ['non-ASCII ENVID', { verb: 'MAIL', from: 'a@b', params: { envid: 'é' } }, 'ERR_SMTP_INPUT', /printable ASCII/],
    ['empty NOTIFY list', { verb: 'RCPT', to: 'a@b', params: { notify: [] } }, 'ERR_SMTP_INPUT', /NOTIFY/],
    ['bad NOTIFY value', { verb: 'RCPT', to: 'a@b', params: { notify: ['NEVER' as never] } }, 'ERR_SMTP_INPUT', /NOTIFY value/],
    ['LF in ORCPT', { verb: 'RCPT', to: 'a@b', params: { orcpt: 'a@b\n' } }, 'ERR_SMTP_INPUT', /ORCPT contains/],
    ['lone surrogate in ORCPT', { verb: 'RCPT', to: 'a@b', params: { orcpt: 'a\ud800@b\u00e9' } }, 'ERR_SMTP_INPUT', /ORCPT has a lone surrogate at index 1/],
    ['empty ORCPT', { verb: 'RCPT', to: 'a@b', params: { orcpt: '' } }, 'ERR_SMTP_INPUT', /ORCPT/],
    ['negative BDAT', { verb: 'BDAT', size: -5, last: false }, 'ERR_SMTP_INPUT', /BDAT size/],
    ['NaN BDAT', { verb: 'BDAT', size: Number.NaN, last: true }, 'ERR_SMTP_INPUT', /BDAT size/],
    ['bad mechanism', { verb: 'AUTH', mechanism: 'PLAIN X' }, 'ERR_SMTP_INPUT', /SASL mechanism/],
    ['long mechanism', { verb: 'AUTH', mechanism: 'X'.repeat(21) }, 'ERR_SMTP_INPUT', /SASL mechanism/],
    ['non-base64 initial response', { verb: 'AUTH', mechanism: 'PLAIN', initialResponse: 'user pass' }, 'ERR_SMTP_INPUT', /base64/],
    ['empty initial response', { verb: 'AUTH', mechanism: 'PLAIN', initialResponse: '' }, 'ERR_SMTP_INPUT', /base64/],
    ['non-base64 continuation', { verb: 'AUTH_RESPONSE', response: 'a b' }, 'ERR_SMTP_INPUT', /base64/],
    ['CRLF in continuation', { verb: 'AUTH_RESPONSE', response: 'abc\r\nQUIT' }, 'ERR_SMTP_INPUT', /control character/],
    ['continuation over 12288 octets', { verb: 'AUTH_RESPONSE', response: 'A'.repeat(12288) }, 'ERR_SMTP_COMMAND_TOO_LONG', /12288/],
    ['unknown verb', { verb: 'VRFY' } as unknown as Command, 'ERR_SMTP_INPUT', /unknown command verb "VRFY"/],
  ])('%s', (_name, cmd, code, message, options) => {
    const err = inputError(() => encodeCommand(cmd, options));
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
    expect(err.retryable).toBe(false);
  });

  it('enforces the 512-octet command line (RFC 5321 §4.5.3.1.4), CRLF included', () => {
    // A 500-octet ENVID can't be built (100 max), so reach the limit with a long path plus parameters.
    const local = 'l'.repeat(64);
    const domain = Array.from({ length: 3 }, () => 'd'.repeat(60)).join('.');
    const cmd: Command = {
      verb: 'MAIL',
      from: `${local}@${domain}`,
      params: { size: 123456789, body: '8BITMIME', ret: 'HDRS', envid: '+'.repeat(100), requireTls: true },
    };
    const err = inputError(() => encodeCommand(cmd));
    expect(err.code).toBe('ERR_SMTP_COMMAND_TOO_LONG');
    expect(err.message).toMatch(/512/);
    const fits = encodeCommand({ verb: 'MAIL', from: `${local}@${domain}`, params: { envid: '+'.repeat(60) } });
    expect(fits.bytes.length).toBeLessThanOrEqual(MAX_COMMAND_LINE);
  });

  it('counts octets, not characters, against the limit', () => {
    const local = 'ü'.repeat(32); // 64 octets
    const domain = Array.from({ length: 3 }, () => 'ü'.repeat(20)).join('.');
    const enc = encodeCommand({ verb: 'RCPT', to: `${local}@${domain}` }, { smtputf8: true });
    expect(enc.bytes.length).toBe(Buffer.byteLength(`RCPT TO:<${local}@${domain}>\r\n`));
  });
});

describe('xtext (RFC 3461 §4)', () => {
  it.each([
    ['plain', 'plain'],
    ['a+b=c', 'a+2Bb+3Dc'],
    ['sp ace', 'sp+20ace'],
    ['é', '+C3+A9'],
    ['😀', '+F0+9F+98+80'],
    ['\x7f\x01', '+7F+01'],
  ])('%s ↔ %s', (raw, encoded) => {
    expect(encodeXtext(raw)).toBe(encoded);
    expect(decodeXtext(encoded)).toBe(raw);
  });

  it('rejects bad escapes', () => {
    expect(() => decodeXtext('a+zz')).toThrow(SmtpError);
    expect(() => decodeXtext('a+4')).toThrow(/xtext/);
  });

  it('round trips any string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 50 }), (s) => {
        const x = encodeXtext(s);
        expect(x).toMatch(/^[\x21-\x7e]*$/);
        expect(decodeXtext(x)).toBe(s);
      }),
      fcParams('xtext round trip', 300),
    );
  });
});

// Every argument position of every command that takes one.
const positions: Array<[string, (s: string) => Command]> = [
  ['EHLO domain', (s) => ({ verb: 'EHLO', domain: `ex${s}ample.com` })],
  ['HELO domain', (s) => ({ verb: 'HELO', domain: `${s}example.com` })],
  ['MAIL local part', (s) => ({ verb: 'MAIL', from: `a${s}b@example.com` })],
  ['MAIL domain', (s) => ({ verb: 'MAIL', from: `a@exam${s}ple.com` })],
  ['MAIL quoted local part', (s) => ({ verb: 'MAIL', from: `"a${s}b"@example.com` })],
  ['MAIL ENVID', (s) => ({ verb: 'MAIL', from: 'a@example.com', params: { envid: `id${s}` } })],
  ['RCPT local part', (s) => ({ verb: 'RCPT', to: `${s}b@example.com` })],
  ['RCPT domain', (s) => ({ verb: 'RCPT', to: `b@example.com${s}` })],
  ['RCPT ORCPT', (s) => ({ verb: 'RCPT', to: 'b@example.com', params: { orcpt: `b${s}@example.com` } })],
  ['AUTH mechanism', (s) => ({ verb: 'AUTH', mechanism: `PLAIN${s}` })],
  ['AUTH initial response', (s) => ({ verb: 'AUTH', mechanism: 'PLAIN', initialResponse: `AAAA${s}` })],
  ['AUTH continuation', (s) => ({ verb: 'AUTH_RESPONSE', response: `${s}AAAA` })],
];

describe('encodeCommand: no control character gets through (property)', () => {
  it('any string holding a C0 control or DEL, in any argument, is an input error', () => {
    const withControl = fc
      .tuple(fc.string({ maxLength: 10 }), fc.oneof(fc.integer({ min: 0, max: 0x1f }), fc.constant(0x7f)), fc.string({ maxLength: 10 }))
      .map(([a, c, b]) => `${a}${String.fromCharCode(c)}${b}`);
    fc.assert(
      fc.property(fc.constantFrom(...positions), withControl, fc.boolean(), ([, make], s, smtputf8) => {
        const err = inputError(() => encodeCommand(make(s), { smtputf8 }));
        expect(err.code).toBe('ERR_SMTP_INPUT');
      }),
      fcParams('control characters in arguments', 1000),
    );
  });

  it('whatever is encoded holds exactly one CRLF, at the end, and no other control', () => {
    fc.assert(
      fc.property(fc.constantFrom(...positions), fc.string({ unit: 'binary', maxLength: 12 }), fc.boolean(), ([, make], s, smtputf8) => {
        let bytes: Uint8Array;
        try {
          bytes = encodeCommand(make(s), { smtputf8 }).bytes;
        } catch (e) {
          if (isSmtpError(e) && e.kind === 'input') return;
          throw e;
        }
        const text = Buffer.from(bytes).toString('latin1');
        expect(text.endsWith('\r\n')).toBe(true);
        const line = text.slice(0, -2);
        for (let i = 0; i < line.length; i++) {
          const c = line.charCodeAt(i);
          expect(c >= 0x20 && c !== 0x7f, `control at ${i}`).toBe(true);
        }
      }),
      fcParams('encoded commands are single lines', 1000),
    );
  });
});
