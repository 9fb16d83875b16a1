import { SmtpError } from '@smtpkit/wire';
import { describe, expect, it } from 'vitest';
import { dataSupply } from '../src/deliver/data.js';
import { nextStep } from '../src/deliver/decide.js';
import { BodyWatch, mayHaveBeenDelivered, outcomeUnknown, retryDecision } from '../src/pool/retry.js';

const reply = (code: number) =>
  new SmtpError(`rejected: ${code}`, { kind: 'reply', code: 'ERR_SMTP_REPLY', replyCode: code });
const lost = () => new SmtpError('connection closed', { kind: 'connection', code: 'ERR_SMTP_CONNECTION' });
const timeout = () => new SmtpError('timed out during dataDone', { kind: 'timeout', code: 'ERR_SMTP_TIMEOUT' });

describe('nextStep (which failures move on to the next MX)', () => {
  const fresh = { endWritten: false, canResend: true };
  it.each([
    ['connection refused', lost(), fresh, 'next'],
    ['421 greeting', reply(421), fresh, 'next'],
    ['451 at MAIL', reply(451), fresh, 'next'],
    ['451 after the end of data', reply(451), { endWritten: true, canResend: true }, 'next'],
    ['550', reply(550), fresh, 'stop'],
    ['554 after the end of data', reply(554), { endWritten: true, canResend: true }, 'stop'],
    ['TLS handshake failure', new SmtpError('tls', { kind: 'tls', code: 'ERR_SMTP_TLS' }), fresh, 'next'],
    ['garbage from the server', new SmtpError('garbage', { kind: 'protocol', code: 'ERR_SMTP_PROTOCOL' }), fresh, 'next'],
    ['timeout after the end of data: maybe delivered', timeout(), { endWritten: true, canResend: true }, 'stop'],
    ['connection lost after the end of data', lost(), { endWritten: true, canResend: true }, 'stop'],
    ['connection lost mid-body: not delivered', lost(), fresh, 'next'],
    ['one-shot body already read', reply(451), { endWritten: true, canResend: false }, 'stop'],
    ['local input error', new SmtpError('bad', { kind: 'input', code: 'ERR_SMTP_INPUT' }), fresh, 'stop'],
    ['abort', new SmtpError('aborted', { kind: 'aborted', code: 'ERR_SMTP_ABORTED' }), fresh, 'stop'],
  ] as const)('%s → %s', (_name, error, outcome, expected) => {
    expect(nextStep(error, outcome)).toBe(expected);
  });
});

describe('retryDecision (the pool retries once, only before the body)', () => {
  const dead = { bodyStarted: false, failures: 0, usable: false };
  it('retries connection-level failures of a dead session before the body', () => {
    expect(retryDecision(lost(), dead)).toBe('retry');
    expect(retryDecision(timeout(), dead)).toBe('retry');
    expect(retryDecision(reply(421), dead)).toBe('retry');
  });
  it('does not retry twice, on a usable session, after the body, or other errors', () => {
    expect(retryDecision(lost(), { ...dead, failures: 1 })).toBe('fail');
    expect(retryDecision(reply(451), { ...dead, usable: true })).toBe('fail');
    expect(retryDecision(timeout(), { ...dead, bodyStarted: true })).toBe('fail');
    expect(retryDecision(reply(550), dead)).toBe('fail');
    expect(retryDecision(new SmtpError('p', { kind: 'protocol', code: 'ERR_SMTP_PROTOCOL' }), dead)).toBe('fail');
    expect(retryDecision(new Error('not typed'), dead)).toBe('fail');
  });
  it('mayHaveBeenDelivered: only without a reply after the body started', () => {
    expect(mayHaveBeenDelivered(timeout(), true)).toBe(true);
    expect(mayHaveBeenDelivered(timeout(), false)).toBe(false);
    expect(mayHaveBeenDelivered(reply(451), true)).toBe(false);
  });
  it('outcomeUnknown keeps the kind and cause, and is not retryable', () => {
    const original = timeout();
    const e = outcomeUnknown(original);
    expect(e).toMatchObject({ kind: 'timeout', code: 'ERR_SMTP_OUTCOME_UNKNOWN', retryable: false });
    expect(e.cause).toBe(original);
    expect(e.message).toMatch(/may have been delivered/);
  });
  it('BodyWatch notices the body from progress and the end of data from its hook', () => {
    const w = new BodyWatch();
    expect([w.started, w.endWritten]).toEqual([false, false]);
    w.progress();
    expect([w.started, w.endWritten]).toEqual([true, false]);
    const empty = new BodyWatch();
    empty.endOfData(); // an empty body: no progress, yet the end of data went out
    expect([empty.started, empty.endWritten]).toEqual([true, true]);
  });
});

describe('dataSupply', () => {
  it('reuses strings, bytes and arrays of chunks', () => {
    const bytes = new Uint8Array([65]);
    for (const data of ['x', bytes, [bytes]]) {
      const s = dataSupply(data, 3);
      expect(s.next()).toBe(data);
      expect(s.next()).toBe(data);
      expect(s.canRetry).toBe(true);
    }
  });

  it('calls a function for every transaction', () => {
    let n = 0;
    const s = dataSupply(() => `body ${++n}`, 2);
    expect([s.next(), s.next()]).toEqual(['body 1', 'body 2']);
    expect(() => dataSupply((() => undefined) as unknown as () => string, 1).next()).toThrow(/no body/);
  });

  it('accepts a one-shot stream for one domain until it was read', async () => {
    const s = dataSupply((function* () { yield new Uint8Array([1]); })(), 1);
    const first = s.next() as Iterable<Uint8Array>;
    expect(s.canRetry).toBe(true);
    expect(s.next()).toBe(first); // not read yet: the same stream can go to the next host
    expect([...first]).toEqual([new Uint8Array([1])]);
    expect(s.canRetry).toBe(false);
    expect(() => s.next()).toThrow(expect.objectContaining({ code: 'ERR_SMTP_DATA_NOT_REREADABLE' }));
  });

  it('refuses a one-shot stream for several domains', () => {
    const stream = (async function* () { yield new Uint8Array([1]); })();
    expect(() => dataSupply(stream, 2)).toThrow(expect.objectContaining({ kind: 'input', code: 'ERR_SMTP_DATA_NOT_REREADABLE' }));
  });
});
