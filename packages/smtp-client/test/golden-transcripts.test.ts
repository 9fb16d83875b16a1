import { describe, expect, it } from 'vitest';
import { SmtpError } from '@smtpkit/wire';
import { expectScriptFollowed as check, openScript as open } from './helpers/golden.js';

describe('golden transcripts over an in-memory transport', () => {
  it('lab dialogue: HELO only, dot-stuffing, QUIT', async () => {
    const f = await open('lab-helo.txt', { helo: true, clientName: 'lab-client', tls: 'none' });
    expect(f.session.capabilities.pipelining).toBe(false);
    const result = await f.session.send({
      from: 'alice@example.com',
      to: ['bob@example.com'],
      data: 'From: alice@example.com\nTo: bob@example.com\nSubject: lab\n\nHello Bob.\n.a line that starts with a dot\n',
    });
    expect(result.accepted).toEqual(['bob@example.com']);
    expect(result.reply.code).toBe(250);
    await f.session.quit();
    check(f);
    expect(f.events.filter((e) => e.dir === 'C').map((e) => e.text)).toContain('<message 100 bytes>');
  });

  it('Office 365: STARTTLS, capabilities re-read, AUTH LOGIN redacted, pipelined envelope and BDAT', async () => {
    const f = await open('office365-starttls-login.txt', {
      host: 'smtp.office365.com',
      port: 587,
      clientName: 'client.example',
      auth: { user: 'user@contoso.com', pass: 'secret' },
    });
    expect(f.session.secure).toBe(true);
    expect(f.session.authenticated).toBe('LOGIN');
    expect(f.session.capabilities.starttls).toBe(false); // post-TLS EHLO replaced the old one
    const data = 'From: user@contoso.com\r\nSubject: hi\r\n\r\nhello\r\n';
    const result = await f.session.send({ from: 'user@contoso.com', to: ['friend@example.org'], data });
    expect(result.bytes).toBe(Buffer.byteLength(data));
    await f.session.quit();
    check(f);
    const text = f.events.map((e) => e.text).join('\n');
    expect(text).not.toContain('c2VjcmV0');
    expect(text).not.toContain('dXNlckBjb250b3NvLmNvbQ==');
    expect(text).toContain('TLS up: TLSv1.3');
  });

  it('pipelined partial RCPT failure: accepted ones get the message, the refused one is reported', async () => {
    const f = await open('pipelined-partial-rcpt.txt');
    const result = await f.session.send({
      from: 'a@example.com',
      to: ['b@example.net', 'nobody@example.net', 'c@example.net'],
      data: 'Subject: partial\r\n\r\nbody\r\n',
    });
    expect(result.accepted).toEqual(['b@example.net', 'c@example.net']);
    expect(result.rejected).toHaveLength(1);
    expect(result.rejected[0]?.address).toBe('nobody@example.net');
    expect(result.rejected[0]?.error.enhancedStatus).toBe('5.1.1');
    expect(result.rejected[0]?.error.retryable).toBe(false);
    await f.session.quit();
    check(f);
  });

  it('421 mid-session: typed retryable error, session unusable, nothing more written', async () => {
    const f = await open('421-mid-session.txt');
    await f.session.send({ from: 'a@example.com', to: ['b@example.net'], data: 'Subject: one\r\n\r\nfirst\r\n' });
    const error = await f.session
      .send({ from: 'a@example.com', to: ['b@example.net'], data: 'Subject: two\r\n\r\nsecond\r\n' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SmtpError);
    expect((error as SmtpError).replyCode).toBe(421);
    expect((error as SmtpError).retryable).toBe(true);
    expect((error as SmtpError).code).toBe('ERR_SMTP_SERVICE_UNAVAILABLE');
    expect(f.session.usable).toBe(false);
    await f.session.quit();
    check(f);
  });

  it('OAUTHBEARER (RFC 7628) after STARTTLS: error JSON, %x01, 535, one refresh', async () => {
    const calls: boolean[] = [];
    const f = await open('oauthbearer-refresh.txt', {
      host: 'server.example.com',
      port: 587,
      auth: {
        user: 'user@example.com',
        method: 'OAUTHBEARER',
        accessToken: ({ refresh }) => {
          calls.push(refresh);
          return refresh ? 'new' : 'old';
        },
      },
    });
    expect(f.session.authenticated).toBe('OAUTHBEARER');
    expect(calls).toEqual([false, true]);
    await f.session.quit();
    check(f);
    expect(f.events.filter((e) => e.dir === 'C').map((e) => e.text)).toEqual([
      'EHLO localhost',
      'STARTTLS',
      'EHLO localhost',
      'AUTH OAUTHBEARER <redacted>',
      '<redacted>',
      'AUTH OAUTHBEARER <redacted>',
      'QUIT',
    ]);
  });
});
