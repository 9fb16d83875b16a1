import { describe, expect, it } from 'vitest';
import { SmtpError } from '@smtpkit/wire';
import { DEFAULT_TIMEOUTS, formatTranscriptEvent } from '../src/index.js';
import { authHint } from '../src/errors.js';
import { normalizePins, tlsConnectOptions, tlsHandshakeError } from '../src/tls.js';
import { resolveTimeouts, startDeadline } from '../src/timeouts.js';
import { escapeLine, Transcript, type TranscriptEvent } from '../src/transcript.js';

describe('transcript', () => {
  it('escapes CR, LF and controls so one event is one printable line', () => {
    expect(escapeLine('a\r\nb\x00c\td')).toBe('a\\r\\nb\\x00c\td');
    expect(formatTranscriptEvent({ dir: 'S', text: '250 ok\r\n', at: 0 })).toBe('S: 250 ok\\r\\n');
  });

  it('a throwing sink never breaks the session', () => {
    const t = new Transcript(() => {
      throw new Error('boom');
    });
    expect(() => t.note('x')).not.toThrow();
    const seen: TranscriptEvent[] = [];
    new Transcript((e) => seen.push(e)).emit('C', 'EHLO x');
    expect(seen[0]).toMatchObject({ dir: 'C', text: 'EHLO x' });
    expect(typeof seen[0]?.at).toBe('number');
  });
});

describe('timeouts', () => {
  it('defaults follow RFC 5321 §4.5.3.2', () => {
    expect(DEFAULT_TIMEOUTS).toMatchObject({ greeting: 300_000, mail: 300_000, rcpt: 300_000, dataInit: 120_000, dataBlock: 180_000, dataDone: 600_000 });
  });

  it('overrides are checked', () => {
    expect(resolveTimeouts({ rcpt: 10 }).rcpt).toBe(10);
    expect(() => resolveTimeouts({ rcpt: -1 })).toThrow(SmtpError);
    expect(() => resolveTimeouts({ bogus: 1 } as never)).toThrow(/unknown timeout/);
  });

  it('a deadline aborts with a typed reason: timeout naming the step, or aborted', async () => {
    const d = startDeadline('rcpt', 5, []);
    await new Promise((r) => d.signal.addEventListener('abort', r));
    expect(d.signal.reason).toMatchObject({ kind: 'timeout', code: 'ERR_SMTP_TIMEOUT' });
    expect((d.signal.reason as Error).message).toContain('rcpt');
    const ac = new AbortController();
    const d2 = startDeadline('mail', 60_000, [ac.signal]);
    ac.abort();
    expect(d2.signal.reason).toMatchObject({ kind: 'aborted', code: 'ERR_SMTP_ABORTED', retryable: false });
    d2.clear();
  });
});

describe('tls options', () => {
  it('pins: any case, with or without colons; garbage rejected', () => {
    const hex = 'ab'.repeat(32);
    expect(normalizePins(hex.match(/../g)?.join(':'))).toEqual([hex.toUpperCase()]);
    expect(() => normalizePins('abc')).toThrow(/SHA-256/);
  });

  it('SNI for names, none for IP literals (RFC 6066 §3)', () => {
    expect(tlsConnectOptions({ host: 'smtp.example.com', rejectUnauthorized: true })).toMatchObject({ servername: 'smtp.example.com' });
    expect(tlsConnectOptions({ host: '127.0.0.1', rejectUnauthorized: true }).servername).toBeUndefined();
    expect(tlsConnectOptions({ host: '::1', rejectUnauthorized: true }).servername).toBeUndefined();
    expect(tlsConnectOptions({ host: 'x', rejectUnauthorized: true, pin: ['A'] }).rejectUnauthorized).toBe(false);
  });

  it('a plaintext answer to our ClientHello gets a wrong-version error and a hint', () => {
    const e = tlsHandshakeError(Object.assign(new Error('wrong version number'), { code: 'ERR_SSL_WRONG_VERSION_NUMBER' }), 'implicit');
    expect(e).toMatchObject({ kind: 'tls', code: 'ERR_SMTP_TLS_WRONG_VERSION', retryable: false });
    expect(e.hint).toContain("tls: 'starttls'");
  });
});

describe('authHint', () => {
  it('only for known provider replies', () => {
    const r = (code: number, text: string) => ({ code, lines: [text], text });
    expect(authHint(r(535, '5.7.139 Authentication unsuccessful, user is locked by your organization'))).toMatch(/Office 365/);
    expect(authHint(r(535, '5.7.8 Username and Password not accepted. For more information, go to gmail'))).toMatch(/Gmail/);
    expect(authHint(r(535, 'authentication failed'))).toBeUndefined();
  });
});
