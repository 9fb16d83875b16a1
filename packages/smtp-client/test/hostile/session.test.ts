// Hostile sessions beyond the envelope: refused greetings, oversized replies, AUTH exchanges
// that go wrong, BDAT (RFC 3030) faults, and a QUIT that is never answered.
import { describe, expect, it } from 'vitest';
import { ehloLines, reply, scenarios, type FaultConnection } from '../../src/testing.js';
import { clientBytes, expectFailure, expectSent, MESSAGE, send, serve, useHostileHooks } from './harness.js';

useHostileHooks();

const AUTH = { user: 'user', pass: 'secret-password' };

/** Reads BDAT chunks until LAST; answers each with `answer(index, last)` (undefined: stall). */
async function readBdat(conn: FaultConnection, answer: (index: number, last: boolean) => string | undefined): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let i = 0; i < 1000; i++) {
    const line = await conn.readLine();
    const m = /^BDAT (\d+)( LAST)?$/i.exec(line);
    if (!m) throw new Error(`expected BDAT, got ${JSON.stringify(line)}`);
    parts.push(await conn.readBytes(Number(m[1])));
    const text = answer(i, m[2] !== undefined);
    if (text === undefined) {
      await conn.delay(60_000);
      break;
    }
    await conn.write(text);
    if (m[2] !== undefined) break;
  }
  return Buffer.concat(parts);
}

async function greetEhloEnvelope(conn: FaultConnection, ehlo: string): Promise<void> {
  await conn.write('220 fault.test ESMTP\r\n');
  await conn.readLine();
  await conn.write(ehlo);
  await conn.readLine();
  await conn.write('250 2.1.0 Ok\r\n');
  await conn.readLine();
  await conn.write('250 2.1.5 Ok\r\n');
}

describe('greeting', () => {
  it('554 greeting (RFC 5321 §3.1, no service): ERR_SMTP_GREETING_REJECTED 554, no EHLO or MAIL', async () => {
    const server = await serve([{ send: '554 5.3.2 fault.test no SMTP service here\r\n' }, { answerRemaining: true }]);
    expectFailure(await send(server), { kind: 'reply', code: 'ERR_SMTP_GREETING_REJECTED', replyCode: 554, retryable: false });
    expect(clientBytes(server)).not.toMatch(/EHLO|HELO|MAIL/);
  });

  it('a greeting that is not 220 (250): ERR_SMTP_GREETING, no EHLO', async () => {
    const server = await serve([{ send: '250 fault.test hello?\r\n' }, { answerRemaining: true }]);
    expectFailure(await send(server), { kind: 'reply', code: 'ERR_SMTP_GREETING', replyCode: 250 });
    expect(clientBytes(server)).not.toMatch(/EHLO|MAIL/);
  });

  it('an EHLO reply of 300 lines (over the 256-line bound): ERR_SMTP_REPLY_TOO_LONG, no MAIL', async () => {
    const lines = Array.from({ length: 300 }, (_, i) => `X-KEYWORD-${i}`);
    const server = await serve([...scenarios.plainGreeting(), { expect: /^EHLO /i }, { send: reply(250, ['fault.test', ...lines]) }, { answerRemaining: true }]);
    expectFailure(await send(server), { kind: 'protocol', code: 'ERR_SMTP_REPLY_TOO_LONG' });
    expect(clientBytes(server)).not.toMatch(/MAIL/);
  });

  it('EHLO refused with 502, HELO accepted (RFC 5321 §4.1.4 fallback): sent without extensions', async () => {
    const server = await serve([
      ...scenarios.plainGreeting(),
      { expect: /^EHLO /i },
      { send: '502 5.5.1 EHLO not implemented\r\n' },
      { expect: /^HELO /i },
      { send: '250 fault.test\r\n' },
      ...scenarios.acceptMessage(),
      ...scenarios.quit(),
    ]);
    expectSent(await send(server));
    expect(server.connections[0]?.scriptError).toBeUndefined();
  });
});

describe('AUTH exchanges (allowInsecureAuth, plaintext for the test)', () => {
  it('535 to AUTH PLAIN: ERR_SMTP_AUTH_CREDENTIALS, no MAIL, password in neither error nor transcript', async () => {
    const server = await serve([
      ...scenarios.plainGreeting(),
      ...scenarios.ehlo({ auth: ['PLAIN'] }),
      { expect: /^AUTH PLAIN /i },
      { send: '535 5.7.8 Error: authentication failed\r\n' },
      { answerRemaining: true },
    ]);
    const o = await send(server, { auth: AUTH, allowInsecureAuth: true });
    const error = expectFailure(o, { kind: 'auth', code: 'ERR_SMTP_AUTH_CREDENTIALS', replyCode: 535, enhancedStatus: '5.7.8', retryable: false });
    expect(clientBytes(server)).not.toMatch(/MAIL/);
    const secretB64 = Buffer.from('\0user\0secret-password').toString('base64');
    for (const text of [o.transcript, error.message, JSON.stringify(error)]) {
      expect(text).not.toContain('secret-password');
      expect(text).not.toContain(secretB64);
    }
  });

  it('AUTH LOGIN answered with endless 334 challenges: protocol error after the password, no MAIL', async () => {
    const server = await serve([
      ...scenarios.plainGreeting(),
      ...scenarios.ehlo({ auth: ['LOGIN'] }),
      { expect: /^AUTH LOGIN$/i },
      { send: '334 VXNlcm5hbWU6\r\n' },
      { expect: /^[A-Za-z0-9+/=]+$/ },
      { send: '334 UGFzc3dvcmQ6\r\n' },
      { expect: /^[A-Za-z0-9+/=]+$/ },
      { send: '334 VXNlcm5hbWU6\r\n' },
      { answerRemaining: true },
    ]);
    expectFailure(await send(server, { auth: AUTH, allowInsecureAuth: true }), { kind: 'protocol', code: 'ERR_SMTP_PROTOCOL' });
    expect(clientBytes(server)).not.toMatch(/MAIL/);
  });

  it('454 to AUTH (temporary): ERR_SMTP_AUTH_TEMPORARY, retryable, no MAIL', async () => {
    const server = await serve([
      ...scenarios.plainGreeting(),
      ...scenarios.ehlo({ auth: ['PLAIN'] }),
      { expect: /^AUTH PLAIN /i },
      { send: '454 4.7.0 Temporary authentication failure\r\n' },
      { answerRemaining: true },
    ]);
    expectFailure(await send(server, { auth: AUTH, allowInsecureAuth: true }), { kind: 'auth', code: 'ERR_SMTP_AUTH_TEMPORARY', replyCode: 454, retryable: true });
    expect(clientBytes(server)).not.toMatch(/MAIL/);
  });
});

describe('BDAT (RFC 3030)', () => {
  const CHUNKING_EHLO = reply(250, ehloLines({ chunking: true, pipelining: true, eightBitMime: true }));

  it('BDAT accepted: sent, the chunks carry the message unstuffed', async () => {
    let body: Buffer | undefined;
    const server = await serve(async (conn) => {
      await greetEhloEnvelope(conn, CHUNKING_EHLO);
      body = await readBdat(conn, (_, last) => (last ? '250 2.0.0 Ok: queued\r\n' : '250 2.0.0 chunk ok\r\n'));
      await conn.answerRemaining();
    });
    expectSent(await send(server));
    expect(body?.toString('latin1')).toBe(MESSAGE);
  });

  it('554 to BDAT LAST: reply error 554, never reported sent', async () => {
    const server = await serve(async (conn) => {
      await greetEhloEnvelope(conn, CHUNKING_EHLO);
      await readBdat(conn, (_, last) => (last ? '554 5.6.0 message refused\r\n' : '250 2.0.0 chunk ok\r\n'));
      await conn.answerRemaining();
    });
    expectFailure(await send(server), { kind: 'reply', code: 'ERR_SMTP_REPLY', replyCode: 554, enhancedStatus: '5.6.0', retryable: false });
  });

  it('no reply to BDAT LAST: timeout, never reported sent', async () => {
    const server = await serve(async (conn) => {
      await greetEhloEnvelope(conn, CHUNKING_EHLO);
      await readBdat(conn, (_, last) => (last ? undefined : '250 2.0.0 chunk ok\r\n'));
    });
    const error = expectFailure(await send(server), { kind: 'timeout', code: 'ERR_SMTP_TIMEOUT', retryable: true });
    expect(error.message).toMatch(/dataDone/);
  });

  it('421 to BDAT: ERR_SMTP_SERVICE_UNAVAILABLE, never reported sent', async () => {
    const server = await serve(async (conn) => {
      await greetEhloEnvelope(conn, CHUNKING_EHLO);
      await readBdat(conn, () => '421 4.3.2 going down\r\n');
      await conn.close();
    });
    expectFailure(await send(server), { kind: 'reply', code: 'ERR_SMTP_SERVICE_UNAVAILABLE', replyCode: 421, retryable: true });
  });
});

describe('after the final 2xx', () => {
  it('QUIT never answered: still sent (the 250 to the dot is what counts, RFC 5321 §4.1.1.10)', async () => {
    const server = await serve([...scenarios.plainGreeting(), ...scenarios.ehlo(), ...scenarios.acceptMessage(), { expect: /^QUIT$/i }, { stall: true }]);
    expectSent(await send(server));
  });

  it('connection reset right after the final 250: still sent', async () => {
    const server = await serve([...scenarios.plainGreeting(), ...scenarios.ehlo(), ...scenarios.acceptMessage(), { reset: true }]);
    expectSent(await send(server));
  });
});
