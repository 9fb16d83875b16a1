import { describe, expect, it } from 'vitest';
import { SmtpError } from '../src/errors.js';
import { assertNoControls, hasNonAscii } from '../src/validate.js';

describe('assertNoControls', () => {
  it('passes printable text, including non-ASCII', () => {
    expect(() => assertNoControls('MAIL FROM:<ü@example.com> SIZE=1', 'line')).not.toThrow();
    expect(() => assertNoControls('', 'line')).not.toThrow();
  });

  it.each([
    ['\r', 'CR'],
    ['\n', 'LF'],
    ['\0', 'NUL'],
    ['\t', 'U+0009'],
    ['\x1b', 'U+001B'],
    ['\x7f', 'U+007F'],
  ])('rejects %j as %s, naming the field and index', (ch, name) => {
    let err: unknown;
    try {
      assertNoControls(`ab${ch}cd`, 'RCPT TO address', 'RCPT TO');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SmtpError);
    const e = err as SmtpError;
    expect(e.kind).toBe('input');
    expect(e.code).toBe('ERR_SMTP_INPUT');
    expect(e.command).toBe('RCPT TO');
    expect(e.message).toBe(`RCPT TO address contains a control character (${name}) at index 2`);
  });

  it('allows C1 and other non-ASCII characters (they are UTF-8, not controls of the SMTP line)', () => {
    expect(() => assertNoControls('\u0085\u2028', 'x')).not.toThrow();
  });
});

describe('hasNonAscii', () => {
  it('detects characters above 0x7F', () => {
    expect(hasNonAscii('plain ascii ~')).toBe(false);
    expect(hasNonAscii('\x7f')).toBe(false);
    expect(hasNonAscii('é')).toBe(true);
    expect(hasNonAscii('😀')).toBe(true);
  });
});
