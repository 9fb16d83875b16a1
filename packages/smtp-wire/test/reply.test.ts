import { describe, expect, it } from 'vitest';
import {
  encodeReply,
  formatEnhanced,
  isPermanent,
  isPositiveCompletion,
  isPositiveIntermediate,
  isTooManyRecipients,
  isTransient,
  parseEnhanced,
} from '../src/reply.js';
import type { Reply } from '../src/reply.js';

const of = (code: number): Reply => ({ code, lines: [''], text: '' });

describe('reply classes (RFC 5321 §4.2.1)', () => {
  it.each([
    [220, [true, false, false, false]],
    [250, [true, false, false, false]],
    [251, [true, false, false, false]],
    [252, [true, false, false, false]],
    [334, [false, true, false, false]],
    [354, [false, true, false, false]],
    [421, [false, false, true, false]],
    [451, [false, false, true, false]],
    [550, [false, false, false, true]],
    [554, [false, false, false, true]],
  ])('%i', (code, expected) => {
    const r = of(code);
    expect([isPositiveCompletion(r), isPositiveIntermediate(r), isTransient(r), isPermanent(r)]).toEqual(expected);
  });
});

describe('too many recipients (RFC 5321 §4.5.3.1.10, RFC 3463 x.5.3)', () => {
  const r = (code: number, status?: string): Reply => {
    const text = status ? `${status} too many recipients` : 'too many recipients';
    const enhanced = status ? parseEnhanced(text, Math.floor(code / 100)) : undefined;
    return { code, lines: [text], text, ...(enhanced ? { enhanced } : {}) };
  };
  it.each([
    [r(452), true],
    [r(452, '4.5.3'), true],
    [r(452, '4.3.1'), true],
    [r(451, '4.5.3'), true],
    [r(552, '5.5.3'), true],
    [r(552), false],
    [r(550, '5.1.1'), false],
    [r(450, '4.2.0'), false],
    [r(250, '2.1.5'), false],
  ])('%o → %s', (reply, expected) => {
    expect(isTooManyRecipients(reply)).toBe(expected);
  });
});

describe('enhanced status codes (RFC 3463)', () => {
  it.each([
    ['5.1.1 unknown', 5, { klass: 5, subject: 1, detail: 1 }],
    ['2.0.0', 2, { klass: 2, subject: 0, detail: 0 }],
    ['4.7.123 greylisted', 4, { klass: 4, subject: 7, detail: 123 }],
    ['5.123.0 x', 5, { klass: 5, subject: 123, detail: 0 }],
    ['4.1.1 wrong class', 5, undefined],
    ['3.0.0 no such class', 3, undefined],
    ['5.1234.1 long', 5, undefined],
    ['5.1.1234 long', 5, undefined],
    ['5..1 empty', 5, undefined],
    ['5.1. empty', 5, undefined],
    ['5.1.1x', 5, undefined],
    ['5-1-1', 5, undefined],
    ['', 5, undefined],
    ['text 5.1.1', 5, undefined],
  ])('%j (code class %i)', (text, first, expected) => {
    expect(parseEnhanced(text, first)).toEqual(expected);
  });

  it('formats', () => {
    expect(formatEnhanced({ klass: 5, subject: 7, detail: 26 })).toBe('5.7.26');
  });
});

describe('encodeReply', () => {
  it('writes single and multi-line replies', () => {
    expect(encodeReply(250, 'ok')).toBe('250 ok\r\n');
    expect(encodeReply(250, ['mx', 'PIPELINING', 'SIZE 10'])).toBe('250-mx\r\n250-PIPELINING\r\n250 SIZE 10\r\n');
    expect(encodeReply(250, 'a\nb')).toBe('250-a\r\n250 b\r\n');
    expect(encodeReply(250, [])).toBe('250 \r\n');
  });
});
