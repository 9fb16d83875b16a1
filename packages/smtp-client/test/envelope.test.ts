import { describe, expect, it } from 'vitest';
import { heloCapabilities, parseEhlo, type Capabilities, type Reply } from '@smtpkit/wire';
import { analyseBody, prepareEnvelope } from '../src/envelope.js';

function caps(...keywords: string[]): Capabilities {
  const lines = ['mx.test', ...keywords];
  return parseEhlo({ code: 250, lines, text: lines.join('\n') } as Reply);
}
const plain = { secure: false, chunking: 'auto' as const };

describe('analyseBody', () => {
  it.each([
    ['ascii string', 'Subject: a\r\n\r\nb\r\n', { eightBit: false, binary: false, longLine: false, size: 17 }],
    ['8-bit string', 'Subject: caf\u00e9\r\n\r\n', { eightBit: true, binary: false, size: 18 }],
    ['NUL byte', Uint8Array.from([0x41, 0x00, 0x0d, 0x0a]), { binary: true }],
    ['long line', `${'a'.repeat(999)}\r\n`, { longLine: true }],
    ['998 octets is fine', `${'a'.repeat(998)}\r\n`, { longLine: false }],
  ])('%s', (_n, body, expected) => {
    expect(analyseBody(body)).toMatchObject(expected);
  });

  it('finds the Message-ID in the header section only', () => {
    expect(analyseBody('Subject: x\r\nMessage-ID: <abc@example.com>\r\n\r\nbody').messageId).toBe('<abc@example.com>');
    expect(analyseBody('Subject: x\r\n\r\nMessage-ID: <no@example.com>\r\n').messageId).toBeUndefined();
  });

  it('does not read streams ahead', () => {
    expect(analyseBody([Uint8Array.from([0xff])])).toEqual({ eightBit: false, binary: false, longLine: false });
  });
});

describe('prepareEnvelope', () => {
  const base = { from: 'a@example.com', to: ['b@example.net'] };

  it('adds SIZE only when advertised, BODY=8BITMIME only when needed', () => {
    const c = caps('SIZE 1000', '8BITMIME');
    expect(prepareEnvelope(c, { ...base, data: 'x' }, analyseBody('x'), plain).envelope.mailParams).toEqual({ size: 1 });
    expect(prepareEnvelope(c, { ...base, data: '\u00e9' }, analyseBody('\u00e9'), plain).envelope.mailParams).toEqual({
      size: 2,
      body: '8BITMIME',
    });
    expect(prepareEnvelope(caps(), { ...base, data: 'x' }, analyseBody('x'), plain).envelope.mailParams).toBeUndefined();
  });

  it.each([
    ['size over the limit', caps('SIZE 10'), { data: 'x'.repeat(11) }, 'ERR_SMTP_SIZE_EXCEEDED'],
    ['explicit size over the limit', caps('SIZE 10'), { data: [Uint8Array.of(1)], size: 11 }, 'ERR_SMTP_SIZE_EXCEEDED'],
    ['8-bit without 8BITMIME', caps(), { data: '\u00e9' }, 'ERR_SMTP_8BITMIME_UNSUPPORTED'],
    ['UTF-8 address without SMTPUTF8', caps('8BITMIME'), { from: 'j\u00f6rg@example.com', data: 'x' }, 'ERR_SMTP_SMTPUTF8_UNSUPPORTED'],
    ['binary without BINARYMIME', caps('CHUNKING'), { data: Uint8Array.of(0) }, 'ERR_SMTP_BINARYMIME_UNSUPPORTED'],
    ['a long line over DATA', caps(), { data: 'a'.repeat(2000) }, 'ERR_SMTP_LINE_TOO_LONG'],
    ['REQUIRETLS in plaintext', caps('REQUIRETLS'), { data: 'x', requireTls: true }, 'ERR_SMTP_REQUIRETLS_UNSUPPORTED'],
    ['no recipients', caps(), { to: [], data: 'x' }, 'ERR_SMTP_INPUT'],
  ])('%s → %s before anything is sent', (_n, c, o, code) => {
    const options = { ...base, ...o } as Parameters<typeof prepareEnvelope>[1];
    expect(() => prepareEnvelope(c, options, analyseBody(options.data), plain)).toThrow(expect.objectContaining({ code }));
  });

  it('BINARYMIME with CHUNKING; chunking: never turns BDAT off', () => {
    const c = caps('CHUNKING', 'BINARYMIME');
    const p = prepareEnvelope(c, { ...base, data: Uint8Array.of(0, 1) }, analyseBody(Uint8Array.of(0, 1)), plain);
    expect(p).toMatchObject({ useBdat: true, binary: true, envelope: { mailParams: { body: 'BINARYMIME' } } });
    expect(prepareEnvelope(c, { ...base, data: 'x' }, analyseBody('x'), { secure: false, chunking: 'never' }).useBdat).toBe(false);
  });

  it('DSN parameters only when DSN is offered (else a note)', () => {
    const dsn = { ret: 'HDRS' as const, envid: 'e1', notify: ['FAILURE' as const] };
    const withDsn = prepareEnvelope(caps('DSN'), { ...base, data: 'x', dsn }, analyseBody('x'), plain);
    expect(withDsn.envelope).toMatchObject({ mailParams: { ret: 'HDRS', envid: 'e1' }, rcptParams: { notify: ['FAILURE'] } });
    const without = prepareEnvelope(heloCapabilities({ code: 250, lines: ['x'], text: 'x' } as Reply), { ...base, data: 'x', dsn }, analyseBody('x'), plain);
    expect(without.envelope.mailParams).toBeUndefined();
    expect(without.notes[0]).toMatch(/DSN/);
  });
});
