import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeCommand } from '../src/command-encoder.js';
import type { Command } from '../src/command-encoder.js';
import { isSmtpError } from '../src/errors.js';
import { parseReply } from '../src/reply-parser.js';
import { parseCommand } from '../src/server/command-parser.js';
import { encodeServerReply } from '../src/server/reply-encoder.js';
import { fcParams } from './support.js';

describe('parseCommand: table', () => {
  it.each([
    ['EHLO mail.example.com', { verb: 'EHLO', domain: 'mail.example.com' }],
    ['helo [192.0.2.1]', { verb: 'HELO', domain: '[192.0.2.1]' }],
    ['MAIL FROM:<a@example.com> SIZE=10 BODY=8BITMIME', { verb: 'MAIL', from: 'a@example.com', params: { SIZE: '10', BODY: '8BITMIME' }, spaceAfterColon: false }],
    ['MAIL FROM:<>', { verb: 'MAIL', from: '', params: {}, spaceAfterColon: false }],
    ['mail from: <a@example.com>', { verb: 'MAIL', from: 'a@example.com', params: {}, spaceAfterColon: true }],
    ['MAIL FROM:<@relay.example,@b.example:a@example.com>', { verb: 'MAIL', from: 'a@example.com', params: {}, spaceAfterColon: false }],
    ['MAIL FROM:<"a>b"@example.com>', { verb: 'MAIL', from: '"a>b"@example.com', params: {}, spaceAfterColon: false }],
    ['RCPT TO:<b@example.com> NOTIFY=NEVER', { verb: 'RCPT', to: 'b@example.com', params: { NOTIFY: 'NEVER' }, spaceAfterColon: false }],
    ['RCPT TO:<postmaster>', { verb: 'RCPT', to: 'postmaster', params: {}, spaceAfterColon: false }],
    ['MAIL FROM:<a@example.com> SMTPUTF8', { verb: 'MAIL', from: 'a@example.com', params: { SMTPUTF8: '' }, spaceAfterColon: false }],
    ['BDAT 100', { verb: 'BDAT', size: 100, last: false }],
    ['BDAT 0 last', { verb: 'BDAT', size: 0, last: true }],
    ['AUTH plain', { verb: 'AUTH', mechanism: 'PLAIN' }],
    ['AUTH PLAIN AGFsaWNlAHB3', { verb: 'AUTH', mechanism: 'PLAIN', initialResponse: 'AGFsaWNlAHB3' }],
    ['DATA', { verb: 'DATA' }],
    ['quit', { verb: 'QUIT' }],
    ['NOOP anything', { verb: 'NOOP', argument: 'anything' }],
  ])('%j', (line, command) => {
    expect(parseCommand(line)).toEqual({ ok: true, command });
  });

  it.each([
    ['', 500, /empty/],
    ['FROB x', 500, /unknown command/],
    ['EHLO', 501, /one domain/],
    ['EHLO a b', 501, /one domain/],
    ['MAIL TO:<a@example.com>', 501, /MAIL FROM:/],
    ['MAIL FROM:a@example.com', 501, /angle brackets/],
    ['MAIL FROM:<a@example.com', 501, /closing/],
    ['MAIL FROM:<not an address>', 501, /address/],
    ['RCPT TO:<>', 501, /forward path/],
    ['MAIL FROM:<a@example.com> SIZE=1 SIZE=2', 501, /twice/],
    ['MAIL FROM:<a@example.com> =x', 501, /not an ESMTP parameter/],
    ['BDAT', 501, /chunk size/],
    ['BDAT -1', 501, /chunk size/],
    ['AUTH', 501, /mechanism/],
    ['DATA x', 501, /no argument/],
  ])('%j is refused with %i', (line, code, reason) => {
    const r = parseCommand(line);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.code).toBe(code);
      expect(r.reason).toMatch(reason);
    }
  });
});

describe('parseCommand: properties', () => {
  it('parse(encodeCommand(c)) gives c back for MAIL, RCPT and BDAT', () => {
    const local = fc.stringMatching(/^[a-z0-9][a-z0-9._+-]{0,15}$/).filter((s) => !s.includes('..') && !s.endsWith('.'));
    const domain = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}\.[a-z]{2,6}$/).filter((s) => !s.includes('-.'));
    fc.assert(
      fc.property(local, domain, fc.nat(1e9), fc.boolean(), fc.constantFrom('7BIT', '8BITMIME'), (l, d, size, last, body) => {
        const addr = `${l}@${d}`;
        const text = (c: Command) => Buffer.from(encodeCommand(c).bytes).toString().slice(0, -2);
        expect(parseCommand(text({ verb: 'MAIL', from: addr, params: { size, body: body as '7BIT' } }))).toEqual({
          ok: true,
          command: { verb: 'MAIL', from: addr, params: { SIZE: String(size), BODY: body }, spaceAfterColon: false },
        });
        expect(parseCommand(text({ verb: 'RCPT', to: addr }))).toEqual({ ok: true, command: { verb: 'RCPT', to: addr, params: {}, spaceAfterColon: false } });
        expect(parseCommand(text({ verb: 'BDAT', size, last }))).toEqual({ ok: true, command: { verb: 'BDAT', size, last } });
      }),
      fcParams('parseCommand round trip'),
    );
  });
});

describe('encodeServerReply', () => {
  it('multi-line with an enhanced status on every line (RFC 2034 §4), read back by the reply parser', () => {
    const bytes = encodeServerReply({ code: 550, enhanced: '5.1.1', lines: ['no such user', 'try again'] });
    expect(Buffer.from(bytes).toString()).toBe('550-5.1.1 no such user\r\n550 5.1.1 try again\r\n');
    expect(parseReply(Buffer.from(bytes).toString())).toMatchObject({ code: 550, enhanced: { klass: 5, subject: 1, detail: 1 } });
    expect(Buffer.from(encodeServerReply({ code: 250, lines: [] })).toString()).toBe('250 \r\n');
    expect(Buffer.from(encodeServerReply({ code: 250, enhanced: '2.0.0', lines: [''] })).toString()).toBe('250 2.0.0\r\n');
  });

  it.each([
    [{ code: 199, lines: ['x'] }, /200-599/],
    [{ code: 250, enhanced: '5.0.0', lines: ['x'] }, /does not match/],
    [{ code: 250, lines: ['a\r\n250 injected'] }, /control character/],
    [{ code: 250, lines: ['x'.repeat(600)] }, /512/],
  ])('refuses %j', (reply, message) => {
    try {
      encodeServerReply(reply);
      expect.unreachable();
    } catch (e) {
      expect(isSmtpError(e) && e.kind === 'input').toBe(true);
      expect((e as Error).message).toMatch(message);
    }
  });
});
