import { describe, expect, it } from 'vitest';
import { SmtpError, inputError, isSmtpError, protocolError } from '../src/errors.js';
import type { Reply } from '../src/reply.js';

const reply: Reply = { code: 550, lines: ['5.1.1 no such user'], text: '5.1.1 no such user', enhanced: { klass: 5, subject: 1, detail: 1 } };

describe('SmtpError', () => {
  it('carries every field it was given', () => {
    const cause = new Error('socket');
    const e = new SmtpError('recipient rejected', {
      kind: 'reply', code: 'ERR_SMTP_REPLY', replyCode: 550, enhancedStatus: '5.1.1', command: 'RCPT TO:<b@x>',
      reply, hint: 'check the address', offset: 3, cause,
    });
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('SmtpError');
    expect(e.message).toBe('recipient rejected');
    expect([e.kind, e.code, e.replyCode, e.enhancedStatus, e.command, e.hint, e.offset]).toEqual(['reply', 'ERR_SMTP_REPLY', 550, '5.1.1', 'RCPT TO:<b@x>', 'check the address', 3]);
    expect(e.reply).toBe(reply);
    expect(e.cause).toBe(cause);
    expect(e.retryable).toBe(false);
  });

  it.each<[string, ConstructorParameters<typeof SmtpError>[1], boolean]>([
    ['4xx reply', { kind: 'reply', code: 'ERR_SMTP_REPLY', replyCode: 451 }, true],
    ['421', { kind: 'reply', code: 'ERR_SMTP_REPLY', replyCode: 421 }, true],
    ['5xx reply', { kind: 'reply', code: 'ERR_SMTP_REPLY', replyCode: 550 }, false],
    ['timeout', { kind: 'timeout', code: 'ERR_SMTP_TIMEOUT' }, true],
    ['connection', { kind: 'connection', code: 'ERR_SMTP_CONNECTION' }, true],
    ['input', { kind: 'input', code: 'ERR_SMTP_INPUT' }, false],
    ['protocol', { kind: 'protocol', code: 'ERR_SMTP_PROTOCOL' }, false],
    ['tls', { kind: 'tls', code: 'ERR_SMTP_TLS' }, false],
    ['explicit override', { kind: 'reply', code: 'ERR_SMTP_REPLY', replyCode: 550, retryable: true }, true],
  ])('retryable by default: %s → %s', (_name, init, retryable) => {
    expect(new SmtpError('x', init).retryable).toBe(retryable);
  });

  it('omits unset optional fields', () => {
    const e = new SmtpError('x', { kind: 'input', code: 'ERR_SMTP_INPUT' });
    expect(Object.keys(e)).not.toContain('replyCode');
    expect(e.cause).toBeUndefined();
  });

  it('serialises without cause or stack', () => {
    const e = new SmtpError('boom', { kind: 'reply', code: 'ERR_SMTP_REPLY', replyCode: 550, reply, cause: new Error('secret') });
    const json = JSON.parse(JSON.stringify(e)) as Record<string, unknown>;
    expect(json).toEqual({ name: 'SmtpError', kind: 'reply', code: 'ERR_SMTP_REPLY', message: 'boom', replyCode: 550, reply, retryable: false });
    const full = new SmtpError('x', { kind: 'protocol', code: 'C', enhancedStatus: '4.0.0', command: 'DATA', hint: 'h', offset: 9 }).toJSON();
    expect(full).toEqual({ name: 'SmtpError', kind: 'protocol', code: 'C', message: 'x', enhancedStatus: '4.0.0', command: 'DATA', retryable: false, hint: 'h', offset: 9 });
  });

  it('is recognised across copies of the package (Symbol.for brand)', () => {
    const foreign = Object.assign(new Error('other copy'), { kind: 'input' });
    Object.defineProperty(foreign, Symbol.for('smtpkit.SmtpError'), { value: true });
    expect(isSmtpError(foreign)).toBe(true);
    expect(foreign instanceof SmtpError).toBe(true);
    expect(isSmtpError(new Error('plain'))).toBe(false);
    expect(new Error('plain') instanceof SmtpError).toBe(false);
    expect(isSmtpError(null)).toBe(false);
    expect(isSmtpError('SmtpError')).toBe(false);
  });

  it('keeps ordinary instanceof for subclasses', () => {
    class AuthError extends SmtpError {}
    const sub = new AuthError('auth', { kind: 'auth', code: 'ERR_SMTP_AUTH' });
    expect(sub instanceof AuthError).toBe(true);
    expect(sub instanceof SmtpError).toBe(true);
    expect(new SmtpError('x', { kind: 'auth', code: 'A' }) instanceof AuthError).toBe(false);
  });

  it('helpers build input and protocol errors', () => {
    const i = inputError('bad', 'ERR_X', 'MAIL FROM');
    expect([i.kind, i.code, i.command]).toEqual(['input', 'ERR_X', 'MAIL FROM']);
    expect(inputError('bad').code).toBe('ERR_SMTP_INPUT');
    const p = protocolError('garbage', 12);
    expect([p.kind, p.code, p.offset, p.message]).toEqual(['protocol', 'ERR_SMTP_PROTOCOL', 12, 'garbage (at byte 12)']);
  });
});
