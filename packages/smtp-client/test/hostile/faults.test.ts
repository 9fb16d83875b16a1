// Hostile faults: 421 at every stage, closes and resets, 4xx/5xx at every command, partial and
// total recipient refusal, SIZE. Never "sent" without the final 2xx; nothing sent after a refusal
// that it should not send.
import { describe, expect, it } from 'vitest';
import { RecipientsRejectedError } from '../../src/index.js';
import { ehloLines, reply, scenarios, type FaultStep } from '../../src/testing.js';
import { clientBytes, expectFailure, expectSent, send, serve, TO, useHostileHooks } from './harness.js';

useHostileHooks();

const GREET: FaultStep[] = [...scenarios.plainGreeting(), ...scenarios.ehlo()];
const MAIL_OK: FaultStep[] = [{ expect: /^MAIL FROM:/i }, { send: '250 2.1.0 Ok\r\n' }];
const RCPT_OK: FaultStep[] = [{ expect: /^RCPT TO:/i }, { send: '250 2.1.5 Ok\r\n' }];
const DATA_OK: FaultStep[] = [{ expect: /^DATA$/i }, { send: '354 go\r\n' }];

describe('421 service closing (RFC 5321 §3.8)', () => {
  it('421 as the greeting: reply error 421, retryable, nothing sent', async () => {
    const server = await serve([{ send: '421 4.3.2 fault.test busy\r\n' }, { close: true }]);
    expectFailure(await send(server), { kind: 'reply', replyCode: 421, retryable: true });
    expect(clientBytes(server)).toBe('');
  });

  it('421 after the greeting (to EHLO): ERR_SMTP_SERVICE_UNAVAILABLE, no MAIL', async () => {
    const server = await serve([...scenarios.plainGreeting(), { expect: /^EHLO /i }, { send: '421 4.3.2 going down\r\n' }, { close: true }]);
    expectFailure(await send(server), { kind: 'reply', code: 'ERR_SMTP_SERVICE_UNAVAILABLE', replyCode: 421, enhancedStatus: '4.3.2', retryable: true });
    expect(clientBytes(server)).not.toMatch(/MAIL/);
  });

  it('421 to MAIL: ERR_SMTP_SERVICE_UNAVAILABLE, no RCPT', async () => {
    const server = await serve([...GREET, { expect: /^MAIL FROM:/i }, { send: '421 4.3.2 going down\r\n' }, { close: true }]);
    expectFailure(await send(server), { kind: 'reply', code: 'ERR_SMTP_SERVICE_UNAVAILABLE', replyCode: 421, retryable: true });
    expect(clientBytes(server)).not.toMatch(/RCPT|DATA/);
  });

  it('421 to RCPT: ERR_SMTP_SERVICE_UNAVAILABLE, no DATA', async () => {
    const server = await serve([...GREET, ...MAIL_OK, { expect: /^RCPT TO:/i }, { send: '421 4.3.2 going down\r\n' }, { close: true }]);
    expectFailure(await send(server), { kind: 'reply', code: 'ERR_SMTP_SERVICE_UNAVAILABLE', replyCode: 421, retryable: true });
    expect(clientBytes(server)).not.toMatch(/DATA/);
  });

  it('421 after the final dot: ERR_SMTP_SERVICE_UNAVAILABLE, never reported sent', async () => {
    const server = await serve([...GREET, ...MAIL_OK, ...RCPT_OK, ...DATA_OK, { expectData: true }, { send: '421 4.3.2 going down\r\n' }, { close: true }]);
    expectFailure(await send(server), { kind: 'reply', code: 'ERR_SMTP_SERVICE_UNAVAILABLE', replyCode: 421, retryable: true });
  });

  it('421 to a pipelined MAIL, then the connection closes: 421 wins over the close, no body sent', async () => {
    const server = await serve([
      ...scenarios.plainGreeting(),
      ...scenarios.ehlo({ pipelining: true }),
      { expect: /^MAIL FROM:/i },
      { send: '421 4.3.2 going down\r\n' },
      { close: true },
    ]);
    expectFailure(await send(server), { kind: 'reply', replyCode: 421, retryable: true });
    expect(clientBytes(server)).not.toMatch(/\r\n\r\nbody line/);
  });
});

describe('connection faults', () => {
  it('close right after 354 (during DATA): connection error, retryable, never reported sent', async () => {
    const server = await serve([...GREET, ...MAIL_OK, ...RCPT_OK, ...DATA_OK, { close: true }]);
    expectFailure(await send(server), { kind: 'connection', retryable: true });
  });

  it('close after reading the body, before the final reply: connection error, never reported sent', async () => {
    const server = await serve([...GREET, ...MAIL_OK, ...RCPT_OK, ...DATA_OK, { expectData: true }, { close: true }]);
    expectFailure(await send(server), { kind: 'connection', code: 'ERR_SMTP_CONNECTION', retryable: true });
  });

  it('reset by peer after MAIL: connection error, retryable, no RCPT', async () => {
    const server = await serve([...GREET, { expect: /^MAIL FROM:/i }, { reset: true }]);
    expectFailure(await send(server), { kind: 'connection', code: 'ERR_SMTP_CONNECTION', retryable: true });
    expect(clientBytes(server)).not.toMatch(/RCPT/);
  });

  it('reset by peer after the final dot: connection error, never reported sent', async () => {
    const server = await serve([...GREET, ...MAIL_OK, ...RCPT_OK, ...DATA_OK, { expectData: true }, { reset: true }]);
    expectFailure(await send(server), { kind: 'connection', code: 'ERR_SMTP_CONNECTION', retryable: true });
  });

  it('close during the greeting (half a line, then FIN): connection error, nothing sent', async () => {
    const server = await serve([{ send: '220 fault.te' }, { close: true }]);
    expectFailure(await send(server), { kind: 'connection', code: 'ERR_SMTP_CONNECTION', retryable: true });
    expect(clientBytes(server)).toBe('');
  });
});

type Stage = 'MAIL' | 'RCPT' | 'DATA' | 'dot';
const REFUSALS: Array<{ stage: Stage; code: number; text: string; retryable: boolean }> = [];
for (const stage of ['MAIL', 'RCPT', 'DATA', 'dot'] as const) {
  REFUSALS.push(
    { stage, code: 451, text: '4.3.0 local error in processing', retryable: true },
    { stage, code: 452, text: '4.3.1 insufficient system storage', retryable: true },
    { stage, code: 554, text: '5.7.1 transaction failed', retryable: false },
  );
}

/** A script answering normally up to `stage`, refusing there, then answering RSET/QUIT. */
function refusing(stage: Stage, refusal: string): FaultStep[] {
  const steps: FaultStep[] = [...GREET];
  const order: Stage[] = ['MAIL', 'RCPT', 'DATA', 'dot'];
  for (const s of order) {
    const ok = s === 'MAIL' ? MAIL_OK : s === 'RCPT' ? RCPT_OK : s === 'DATA' ? DATA_OK : [];
    if (s === stage) {
      steps.push(s === 'dot' ? { expectData: true } : { expect: new RegExp(`^${s}`, 'i') }, { send: refusal });
      break;
    }
    steps.push(...ok);
  }
  steps.push({ answerRemaining: true });
  return steps;
}

describe('4xx/5xx at each command', () => {
  it.each(REFUSALS)('$code at $stage: reply error $code (retryable: $retryable), nothing sent after it but RSET/QUIT', async ({ stage, code, text, retryable }) => {
    const server = await serve(refusing(stage, `${code} ${text}\r\n`));
    const o = await send(server);
    const error = expectFailure(o, { kind: 'reply', replyCode: code, enhancedStatus: text.split(' ')[0], retryable });
    if (stage === 'RCPT') {
      expect(error).toBeInstanceOf(RecipientsRejectedError);
      expect(error.code).toBe('ERR_SMTP_RECIPIENTS_REJECTED');
      expect((error as RecipientsRejectedError).rejected.map((r) => [r.address, r.reply.code])).toEqual([[TO, code]]);
    } else {
      expect(error.code).toBe('ERR_SMTP_REPLY');
    }
    const bytes = clientBytes(server);
    if (stage === 'MAIL') expect(bytes).not.toMatch(/RCPT|DATA/);
    if (stage === 'RCPT' || stage === 'DATA') expect(bytes).not.toMatch(/body line/);
    // After the refusal the client may only reset or leave.
    expect(server.connections[0]?.commands.slice(stage === 'MAIL' ? 2 : stage === 'RCPT' ? 3 : 4).every((c) => /^(RSET|QUIT)$/i.test(c))).toBe(true);
    expect(server.connections[0]?.scriptError).toBeUndefined();
  });
});

describe('recipients', () => {
  it('one of two recipients rejected 550 5.1.1: sent to the other, the rejection reported as data', async () => {
    const server = await serve([
      ...GREET,
      ...MAIL_OK,
      { expect: /^RCPT TO:<bad@example\.com>/i },
      { send: '550 5.1.1 <bad@example.com>: Recipient address rejected: User unknown\r\n' },
      { expect: /^RCPT TO:<rcpt@example\.com>/i },
      { send: '250 2.1.5 Ok\r\n' },
      ...DATA_OK,
      { expectData: true },
      { send: '250 2.0.0 Ok: queued\r\n' },
      ...scenarios.quit(),
    ]);
    const result = expectSent(await send(server, { to: ['bad@example.com', TO] }));
    expect(result.accepted).toEqual([TO]);
    expect(result.rejected).toHaveLength(1);
    expect(result.rejected[0]).toMatchObject({ address: 'bad@example.com', reply: { code: 550 }, error: { kind: 'reply', replyCode: 550, enhancedStatus: '5.1.1', retryable: false } });
  });

  it('all recipients rejected (pipelined): RecipientsRejectedError, DATA refused by the server, no body sent', async () => {
    const server = await serve([
      ...scenarios.plainGreeting(),
      ...scenarios.ehlo({ pipelining: true }),
      { expect: /^MAIL FROM:/i },
      { expect: /^RCPT TO:/i },
      { expect: /^RCPT TO:/i },
      { expect: /^DATA$/i },
      { send: '250 2.1.0 Ok\r\n550 5.1.1 unknown\r\n550 5.1.1 unknown\r\n554 5.5.1 Error: no valid recipients\r\n' },
      { answerRemaining: true },
    ]);
    const error = expectFailure(await send(server, { to: ['a@example.com', 'b@example.com'] }), {
      kind: 'reply',
      code: 'ERR_SMTP_RECIPIENTS_REJECTED',
      replyCode: 550,
      enhancedStatus: '5.1.1',
      retryable: false,
    });
    expect((error as RecipientsRejectedError).rejected.map((r) => r.address)).toEqual(['a@example.com', 'b@example.com']);
    expect(clientBytes(server)).not.toMatch(/body line/);
  });

  it('all recipients rejected, then 354 anyway (RFC 2920 §3.1 violation): protocol error, no body sent', async () => {
    const server = await serve([
      ...scenarios.plainGreeting(),
      ...scenarios.ehlo({ pipelining: true }),
      { expect: /^MAIL FROM:/i },
      { expect: /^RCPT TO:/i },
      { expect: /^DATA$/i },
      { send: '250 2.1.0 Ok\r\n550 5.1.1 unknown\r\n354 go ahead anyway\r\n' },
      { expectData: true, timeoutMs: 1500 },
      { send: '250 2.0.0 queued (should never happen)\r\n' },
    ]);
    expectFailure(await send(server), { kind: 'protocol', code: 'ERR_SMTP_PROTOCOL' });
    expect(clientBytes(server)).not.toMatch(/body line/);
  });
});

describe('pipelined groups (RFC 2920)', () => {
  const PIPELINED: FaultStep[] = [...scenarios.plainGreeting(), ...scenarios.ehlo({ pipelining: true })];
  const GROUP_OF_TWO: FaultStep[] = [{ expect: /^MAIL FROM:/i }, { expect: /^RCPT TO:/i }, { expect: /^RCPT TO:/i }, { expect: /^DATA$/i }];

  it('one of two pipelined recipients rejected, DATA 354: sent to the other, rejection reported', async () => {
    const server = await serve([
      ...PIPELINED,
      ...GROUP_OF_TWO,
      { send: '250 2.1.0 Ok\r\n550 5.1.1 unknown user\r\n250 2.1.5 Ok\r\n354 go\r\n' },
      { expectData: true },
      { send: '250 2.0.0 queued\r\n' },
      ...scenarios.quit(),
    ]);
    const result = expectSent(await send(server, { to: ['bad@example.com', TO] }));
    expect(result.accepted).toEqual([TO]);
    expect(result.rejected.map((r) => [r.address, r.reply.code, r.error.enhancedStatus])).toEqual([['bad@example.com', 550, '5.1.1']]);
  });

  it('MAIL refused but DATA answered 354 (RFC 2920 §3.1 violation): protocol error, no body sent', async () => {
    const server = await serve([
      ...PIPELINED,
      { expect: /^MAIL FROM:/i },
      { expect: /^RCPT TO:/i },
      { expect: /^DATA$/i },
      { send: '550 5.7.1 sender refused\r\n250 2.1.5 Ok\r\n354 go\r\n' },
      { expectData: true, timeoutMs: 1500 },
      { send: '250 2.0.0 queued (should never happen)\r\n' },
    ]);
    expectFailure(await send(server), { kind: 'protocol', code: 'ERR_SMTP_PROTOCOL' });
    expect(clientBytes(server)).not.toMatch(/body line/);
  });

  it('the reply to DATA never comes after the envelope replies: timeout during dataInit, no body sent', async () => {
    const server = await serve([
      ...PIPELINED,
      { expect: /^MAIL FROM:/i },
      { expect: /^RCPT TO:/i },
      { expect: /^DATA$/i },
      { send: '250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n' },
      { stall: true },
    ]);
    const error = expectFailure(await send(server), { kind: 'timeout', code: 'ERR_SMTP_TIMEOUT', retryable: true });
    expect(error.message).toMatch(/dataInit/);
    expect(clientBytes(server)).not.toMatch(/body line/);
  });
});

describe('reply text', () => {
  it('UTF-8 and invalid 8-bit bytes in reply text: sent, the text decoded without throwing', async () => {
    const server = await serve([
      { send: Buffer.concat([Buffer.from('220 fault.test grüßt ', 'utf8'), Buffer.from([0xff, 0x0d, 0x0a])]) },
      ...scenarios.ehlo(),
      ...scenarios.acceptMessage({ queued: '250 2.0.0 Ok: queued as Zürich\r\n' }),
      ...scenarios.quit(),
    ]);
    const result = expectSent(await send(server));
    expect(result.reply.code).toBe(250);
  });
});

describe('SIZE (RFC 1870)', () => {
  it('message larger than the advertised SIZE: input error before MAIL, nothing sent after EHLO but QUIT', async () => {
    const server = await serve([
      ...scenarios.plainGreeting(),
      { expect: /^EHLO /i },
      { send: reply(250, ehloLines({ size: 50 })) },
      { answerRemaining: true },
    ]);
    expectFailure(await send(server), { kind: 'input', code: 'ERR_SMTP_SIZE_EXCEEDED', retryable: false });
    expect(clientBytes(server)).toMatch(/^EHLO [^\r\n]+\r\n(QUIT\r\n)?$/);
  });

  it('552 to MAIL with SIZE= (server limit lower than advertised): reply error 552, no RCPT', async () => {
    const server = await serve([
      ...scenarios.plainGreeting(),
      { expect: /^EHLO /i },
      { send: reply(250, ehloLines({ size: 0 })) },
      { expect: /^MAIL FROM:<[^>]*> SIZE=\d+/i },
      { send: '552 5.3.4 Message size exceeds fixed limit\r\n' },
      { answerRemaining: true },
    ]);
    expectFailure(await send(server), { kind: 'reply', code: 'ERR_SMTP_REPLY', replyCode: 552, enhancedStatus: '5.3.4', retryable: false });
    expect(clientBytes(server)).not.toMatch(/RCPT|DATA/);
  });
});
