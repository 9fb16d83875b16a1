import { afterEach, describe, expect, it } from 'vitest';
import { isSmtpError } from '@smtpkit/wire';
import { connect } from '../src/index.js';
import { smtpReject, startTestServer, type TestServer } from './helpers/smtp-server.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('session.checkEnvelope against smtp-server', () => {
  it.each([
    ['pipelined', false],
    ['lock-step', true],
  ])('%s: MAIL and every RCPT, then RSET; no DATA, and the session stays usable', async (_name, hidePIPELINING) => {
    server = await startTestServer({
      hideSTARTTLS: true,
      hidePIPELINING,
      record: true,
      rejectRcpt: (a) => (a.startsWith('nobody@') ? smtpReject(550, '5.1.1 no such user') : undefined),
    });
    const session = await connect({ host: '127.0.0.1', port: server.port });
    const check = await session.checkEnvelope({ from: 'a@example.com', to: ['b@example.net', 'nobody@example.net'] });
    expect(check.mail.code).toBe(250);
    expect(check.accepted).toEqual(['b@example.net']);
    expect(check.rejected.map((r) => [r.address, r.reply.code, r.error.enhancedStatus])).toEqual([
      ['nobody@example.net', 550, '5.1.1'],
    ]);
    expect(session.usable).toBe(true);
    // The session is clean: a real send works afterwards.
    const sent = await session.send({ from: 'a@example.com', to: ['b@example.net'], data: 'Subject: x\r\n\r\nhi\r\n' });
    expect(sent.accepted).toEqual(['b@example.net']);
    await session.quit();
    const raw = server.clientBytes();
    const firstTransaction = raw.slice(raw.indexOf('MAIL FROM'), raw.indexOf('RSET'));
    expect(firstTransaction).toBe('MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.net>\r\nRCPT TO:<nobody@example.net>\r\n');
    expect(raw.match(/DATA\r\n/g)).toHaveLength(1);
    expect(server.messages).toHaveLength(1);
  });

  it("stopAfter 'mail': MAIL only, then RSET", async () => {
    server = await startTestServer({ hideSTARTTLS: true, record: true });
    const session = await connect({ host: '127.0.0.1', port: server.port });
    const check = await session.checkEnvelope({ from: 'a@example.com', to: ['b@example.net'], stopAfter: 'mail' });
    expect(check).toMatchObject({ mail: { code: 250 }, accepted: [], rejected: [] });
    await session.quit();
    const raw = server.clientBytes();
    expect(raw).toContain('MAIL FROM:<a@example.com>\r\nRSET\r\n');
    expect(raw).not.toContain('RCPT');
  });

  it('a refused MAIL FROM is a typed reply error carrying the reply', async () => {
    server = await startTestServer({ hideSTARTTLS: true, rejectMail: () => smtpReject(553, '5.7.1 sender refused') });
    const session = await connect({ host: '127.0.0.1', port: server.port });
    const error = await session.checkEnvelope({ from: 'a@example.com', to: ['b@example.net'] }).catch((e: unknown) => e);
    expect(isSmtpError(error)).toBe(true);
    expect(error).toMatchObject({ kind: 'reply', replyCode: 553, enhancedStatus: '5.7.1', retryable: false });
    await session.quit();
  });
});
