// Hostile timing: late, missing, dripping and stalled replies. Every case must end within the
// client's own (short) step timeouts with a typed timeout error, or succeed when within them.
import { describe, expect, it } from 'vitest';
import { scenarios } from '../../src/testing.js';
import { clientBytes, expectFailure, expectSent, send, serve, SHORT_TIMEOUTS, useHostileHooks } from './harness.js';

useHostileHooks();

describe('hostile timing', () => {
  it('greeting after a delay shorter than the greeting timeout: sent', async () => {
    const server = await serve([
      { send: '220 fault.test slow but fine\r\n', delayMs: 300 },
      ...scenarios.ehlo(),
      ...scenarios.acceptMessage(),
      ...scenarios.quit(),
    ]);
    expectSent(await send(server, { timeouts: { ...SHORT_TIMEOUTS, greeting: 1500 } }));
  });

  it('no greeting at all: timeout during greeting (with the implicit-TLS hint), nothing sent', async () => {
    const server = await serve([{ stall: true }]);
    const error = expectFailure(await send(server), { kind: 'timeout', code: 'ERR_SMTP_TIMEOUT', retryable: true });
    expect(error.message).toMatch(/greeting/);
    expect(error.hint).toMatch(/implicit/);
    expect(clientBytes(server)).toBe('');
  });

  it('greeting dripped one byte every 400 ms against a 1 s greeting timeout: timeout, nothing sent', async () => {
    const server = await serve([{ drip: '220 fault.test a very slow greeting line\r\n', intervalMs: 400 }]);
    const error = expectFailure(await send(server), { kind: 'timeout', code: 'ERR_SMTP_TIMEOUT' });
    expect(error.message).toMatch(/greeting/);
    expect(clientBytes(server)).toBe('');
  });

  it('EHLO reply dripped one byte a second against a 1 s EHLO timeout: timeout, no MAIL', async () => {
    const server = await serve([...scenarios.plainGreeting(), { expect: /^EHLO /i }, { drip: '250-fault.test\r\n250 PIPELINING\r\n', intervalMs: 1000 }]);
    const error = expectFailure(await send(server), { kind: 'timeout', code: 'ERR_SMTP_TIMEOUT' });
    expect(error.message).toMatch(/ehlo/);
    expect(clientBytes(server)).not.toMatch(/MAIL/);
  });

  it('stall after 354 without reading the body (writes back up): timeout during the data block, never sent', async () => {
    const server = await serve([
      ...scenarios.plainGreeting(),
      ...scenarios.ehlo(),
      { expect: /^MAIL FROM:/i },
      { send: '250 ok\r\n' },
      { expect: /^RCPT TO:/i },
      { send: '250 ok\r\n' },
      { expect: /^DATA$/i },
      { send: '354 go\r\n' },
      { stall: true, reading: false },
    ]);
    // 32 MiB cannot fit in the loopback socket buffers, so the client's writes must block.
    const line = 'x'.repeat(998) + '\r\n';
    const body = 'Subject: big\r\n\r\n' + line.repeat(32 * 1024);
    const error = expectFailure(await send(server, { data: body }), { kind: 'timeout', code: 'ERR_SMTP_TIMEOUT', retryable: true });
    expect(error.message).toMatch(/dataBlock/);
  });

  it('stall after 354 while reading the body: timeout waiting for the final reply, never sent', async () => {
    const server = await serve([
      ...scenarios.plainGreeting(),
      ...scenarios.ehlo(),
      { expect: /^MAIL FROM:/i },
      { send: '250 ok\r\n' },
      { expect: /^RCPT TO:/i },
      { send: '250 ok\r\n' },
      { expect: /^DATA$/i },
      { send: '354 go\r\n' },
      { stall: true },
    ]);
    const error = expectFailure(await send(server), { kind: 'timeout', code: 'ERR_SMTP_TIMEOUT' });
    expect(error.message).toMatch(/dataDone/);
  });

  it('stall after the final dot: timeout during dataDone, never sent, nothing after the dot', async () => {
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
      { stall: true },
    ]);
    const error = expectFailure(await send(server), { kind: 'timeout', code: 'ERR_SMTP_TIMEOUT', retryable: true });
    expect(error.message).toMatch(/dataDone/);
    // After a timeout the session is dead (no RSET/QUIT that could be read out of step).
    expect(clientBytes(server).endsWith('\r\n.\r\n')).toBe(true);
  });

  it('stall after MAIL: timeout during mail, no RCPT', async () => {
    const server = await serve([...scenarios.plainGreeting(), ...scenarios.ehlo(), { expect: /^MAIL FROM:/i }, { stall: true }]);
    const error = expectFailure(await send(server), { kind: 'timeout', code: 'ERR_SMTP_TIMEOUT' });
    expect(error.message).toMatch(/mail/);
    expect(clientBytes(server)).not.toMatch(/RCPT|DATA/);
  });
});
