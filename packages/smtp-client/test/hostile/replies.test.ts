// Hostile replies: odd segmentation, odd but legal forms, and malformed replies.
// Each case states the exact outcome; strictness is the default (STYLE.md §1).
import { describe, expect, it } from 'vitest';
import { ehloLines, reply, scenarios } from '../../src/testing.js';
import { clientBytes, expectFailure, expectSent, MESSAGE, send, serve, TO, useHostileHooks } from './harness.js';

useHostileHooks();

const PIPELINED_EHLO = reply(250, ehloLines({ pipelining: true, size: 100_000, eightBitMime: true }));

describe('hostile replies', () => {
  it('multi-line EHLO arriving one byte per segment: sent', async () => {
    const server = await serve([
      ...scenarios.plainGreeting(),
      { expect: /^EHLO /i },
      { send: PIPELINED_EHLO, split: 'bytewise' },
      ...scenarios.acceptMessage({ pipelined: true }),
      ...scenarios.quit(),
    ]);
    const result = expectSent(await send(server));
    expect(result.accepted).toEqual([TO]);
    expect(server.connections[0]?.scriptError).toBeUndefined();
    expect(server.connections[0]?.messages.map(String)).toEqual([MESSAGE.slice(0, -2)]);
  });

  it('greeting and several replies in one segment (pipelined MAIL/RCPT/DATA answered at once): sent', async () => {
    const server = await serve([
      { send: '220-fault.test first greeting line\r\n220 second greeting line\r\n' },
      ...scenarios.ehlo({ pipelining: true }),
      ...scenarios.acceptMessage({ pipelined: true, recipients: 2 }),
      ...scenarios.quit(),
    ]);
    const result = expectSent(await send(server, { to: [TO, 'second@example.com'] }));
    expect(result.accepted).toEqual([TO, 'second@example.com']);
    expect(server.connections[0]?.scriptError).toBeUndefined();
  });

  it('replies to pipelined commands arriving split across segments: sent', async () => {
    const server = await serve([
      ...scenarios.plainGreeting(),
      ...scenarios.ehlo({ pipelining: true }),
      { expect: /^MAIL FROM:/i },
      { expect: /^RCPT TO:/i },
      { expect: /^DATA$/i },
      // Splits fall inside codes, inside the CRLF, and across reply boundaries.
      { send: '250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go ahead\r\n', split: [2, 11, 3, 1, 9, 5] },
      { expectData: true },
      { send: '250 2.0.0 queued\r\n', split: [1, 1] },
      ...scenarios.quit(),
    ]);
    expectSent(await send(server));
    expect(server.connections[0]?.scriptError).toBeUndefined();
  });

  it('"250" with no text (RFC 5321 §4.2: the text is optional): sent, final reply has empty text', async () => {
    const server = await serve([
      { send: '220\r\n' },
      { expect: /^EHLO /i },
      { send: '250\r\n' },
      { expect: /^MAIL FROM:/i },
      { send: '250\r\n' },
      { expect: /^RCPT TO:/i },
      { send: '250\r\n' },
      { expect: /^DATA$/i },
      { send: '354\r\n' },
      { expectData: true },
      { send: '250\r\n' },
      ...scenarios.quit(),
    ]);
    const result = expectSent(await send(server));
    expect(result.reply).toMatchObject({ code: 250, lines: [''], text: '' });
  });

  it('mismatched codes inside a multi-line EHLO reply: protocol error, no MAIL sent', async () => {
    const server = await serve([
      ...scenarios.plainGreeting(),
      { expect: /^EHLO /i },
      { send: '250-fault.test\r\n251-PIPELINING\r\n250 SIZE 1000\r\n' },
      { answerRemaining: true },
    ]);
    const error = expectFailure(await send(server), { kind: 'protocol', code: 'ERR_SMTP_PROTOCOL' });
    expect(error.replyCode).toBeUndefined();
    expect(clientBytes(server)).toMatch(/^EHLO [^\r\n]+\r\n/);
    expect(clientBytes(server)).not.toMatch(/MAIL|RCPT|DATA/);
  });

  it('non-numeric reply code in the greeting: protocol error, nothing sent', async () => {
    const server = await serve([{ send: 'abc fault.test ESMTP\r\n' }, { answerRemaining: true }]);
    expectFailure(await send(server), { kind: 'protocol', code: 'ERR_SMTP_PROTOCOL', replyCode: undefined });
    expect(clientBytes(server)).not.toMatch(/EHLO|HELO|MAIL/);
  });

  it('a 1 MiB reply line: ERR_SMTP_REPLY_TOO_LONG (bounded buffer), no MAIL sent', async () => {
    const server = await serve([
      ...scenarios.plainGreeting(),
      { expect: /^EHLO /i },
      { send: '250 ' + 'x'.repeat(1024 * 1024) + '\r\n' },
      { answerRemaining: true },
    ]);
    expectFailure(await send(server), { kind: 'protocol', code: 'ERR_SMTP_REPLY_TOO_LONG' });
    expect(clientBytes(server)).not.toMatch(/MAIL|RCPT|DATA/);
  });

  it('bare-LF line endings: protocol error (strict by default), nothing sent', async () => {
    const server = await serve([{ send: '220 fault.test ESMTP\n' }, { answerRemaining: true }]);
    expectFailure(await send(server), { kind: 'protocol', code: 'ERR_SMTP_PROTOCOL' });
    expect(clientBytes(server)).not.toMatch(/EHLO|MAIL/);
  });

  it('bare LF inside the final reply to the dot: protocol error, never reported sent', async () => {
    const server = await serve([
      ...scenarios.plainGreeting(),
      ...scenarios.ehlo(),
      { expect: /^MAIL FROM:/i },
      { send: '250 ok\r\n' },
      { expect: /^RCPT TO:/i },
      { send: '250 ok\r\n' },
      { expect: /^DATA$/i },
      { send: '354 go\r\n' },
      { expectData: true },
      { send: '250 queued\n' },
      { answerRemaining: true },
    ]);
    expectFailure(await send(server), { kind: 'protocol', code: 'ERR_SMTP_PROTOCOL' });
  });

  it('an extra unsolicited reply after EHLO: protocol error before MAIL (replies would be off by one)', async () => {
    const server = await serve([
      ...scenarios.plainGreeting(),
      { expect: /^EHLO /i },
      { send: reply(250, ehloLines()) + '250 2.0.0 unsolicited\r\n' },
      { expect: /^MAIL FROM:/i },
      { send: '250 2.1.0 Ok\r\n' },
      { expect: /^RCPT TO:/i },
      { send: '250 2.1.5 Ok\r\n' },
      { expect: /^DATA$/i },
      { send: '354 go\r\n' },
      { expectData: true },
      { send: '554 5.6.0 rejected\r\n' },
      { answerRemaining: true },
    ]);
    expectFailure(await send(server), { kind: 'protocol', code: 'ERR_SMTP_PROTOCOL' });
    expect(clientBytes(server)).not.toMatch(/MAIL FROM/);
  });

  it('an unsolicited reply sent before the final reply to the dot: never reported sent on the stray 250', async () => {
    // The stray 250 arrives while the client is still writing the body; the real answer is 554.
    const server = await serve(async (conn) => {
      await conn.write('220 fault.test\r\n');
      await conn.readLine();
      await conn.write(reply(250, ehloLines()));
      await conn.readLine();
      await conn.write('250 ok\r\n');
      await conn.readLine();
      await conn.write('250 ok\r\n');
      await conn.readLine();
      await conn.write('354 go\r\n250 2.0.0 stray early success\r\n');
      await conn.readData();
      await conn.write('554 5.6.0 message refused\r\n');
      await conn.answerRemaining();
    });
    const o = await send(server);
    expectFailure(o, { kind: 'protocol', code: 'ERR_SMTP_PROTOCOL' });
  });
});
