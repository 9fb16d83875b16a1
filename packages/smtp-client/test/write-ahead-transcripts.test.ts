import { describe, expect, it } from 'vitest';
import { isSmtpError, type SmtpError } from '@smtpkit/wire';
import type { SendOptions } from '../src/types.js';
import { expectScriptFollowed, openScript, type ScriptedSession } from './helpers/golden.js';

// Golden transcripts of the per-message path: the exact bytes the client writes, and where each write starts
// and ends (`W:` lines), for sends queued together on one session (RFC 2920 §3.1, RFC 3030 §4.2).

const body = (subject: string, text: string) => `Subject: ${subject}\r\n\r\n${text}\r\n`;
const send = (to: string[], subject: string, text: string, extra: Partial<SendOptions> = {}): SendOptions => ({
  from: 'a@example.com',
  to,
  data: body(subject, text),
  ...extra,
});

/** Settles every promise; what each one gave, in order. */
function outcomes<T>(ps: Promise<T>[]): Promise<Array<{ ok: true; value: T } | { ok: false; error: SmtpError }>> {
  return Promise.all(ps.map((p) => p.then((value) => ({ ok: true as const, value }), (error: SmtpError) => ({ ok: false as const, error }))));
}

/**
 * Three sends queued in one tick (to b, `second`, d), then QUIT unless the session is expected to die: what each
 * send gave, once all are settled.
 */
async function queueThree(f: ScriptedSession, second: string, quit = true) {
  const done = outcomes([
    f.session.send(send(['b@example.net'], 'one', 'first')),
    f.session.send(send([second], 'two', 'second')),
    f.session.send(send(['d@example.net'], 'three', 'third')),
  ]);
  const closed = quit ? f.session.quit() : undefined;
  const settled = await done;
  await closed;
  return settled;
}

/** The result of a send that must have succeeded. */
function sent<T>(o: { ok: true; value: T } | { ok: false; error: SmtpError } | undefined): T {
  if (!o?.ok) throw new Error(`the send failed: ${o?.error.message}`);
  return o.value;
}

describe('write-ahead golden transcripts (exact bytes and write boundaries)', () => {
  it('three DATA sends queued together: each end of data shares a write with the next envelope', async () => {
    const f = await openScript('pipelined-three-data.txt');
    const results = (await queueThree(f, 'c@example.net')).map(sent);
    expect(results.map((r) => [r.accepted, r.reply.text])).toEqual([
      [['b@example.net'], '2.0.0 Ok: queued as 1'],
      [['c@example.net'], '2.0.0 Ok: queued as 2'],
      [['d@example.net'], '2.0.0 Ok: queued as 3'],
    ]);
    expectScriptFollowed(f);
  });

  it('three one-write BDAT sends queued together: one write, each queued one behind an RSET', async () => {
    const f = await openScript('pipelined-three-bdat.txt');
    const results = (await queueThree(f, 'c@example.net')).map(sent);
    expect(results.map((r) => [r.accepted, r.bytes, r.reply.text])).toEqual([
      [['b@example.net'], 23, '2.0.0 Ok: 23 bytes queued as 1'],
      [['c@example.net'], 24, '2.0.0 Ok: 24 bytes queued as 2'],
      [['d@example.net'], 25, '2.0.0 Ok: 25 bytes queued as 3'],
    ]);
    expectScriptFollowed(f);
  });

  it('a refused envelope among pipelined DATA sends: RSET on its own, not sent, the next send starts afresh', async () => {
    const f = await openScript('pipelined-refused-envelope.txt');
    const [one, two, three] = await queueThree(f, 'nobody@example.net');
    expect(one?.ok && one.value.accepted).toEqual(['b@example.net']);
    expect(two?.ok).toBe(false);
    expect(!two?.ok && two?.error).toMatchObject({ code: 'ERR_SMTP_RECIPIENTS_REJECTED', replyCode: 550, enhancedStatus: '5.1.1', retryable: false });
    expect(three?.ok && three.value.reply.text).toBe('2.0.0 Ok: queued as 3');
    expect(f.session.usable).toBe(false); // quit closed it
    expectScriptFollowed(f);
  });

  it('a refused envelope among one-write BDAT sends: no RSET of its own, the next one carries it', async () => {
    const f = await openScript('pipelined-refused-envelope-bdat.txt');
    const [one, two, three] = await queueThree(f, 'nobody@example.net');
    expect(one?.ok && one.value.reply.text).toBe('2.0.0 Ok: 23 bytes queued as 1');
    expect(!two?.ok && two?.error).toMatchObject({ code: 'ERR_SMTP_RECIPIENTS_REJECTED', replyCode: 550 });
    expect(three?.ok && three.value.reply.text).toBe('2.0.0 Ok: 25 bytes queued as 3');
    expectScriptFollowed(f);
  });

  it("partial: 'all-or-nothing': DATA after every RCPT reply; one refused recipient means RSET and nothing sent", async () => {
    const f = await openScript('all-or-nothing.txt');
    const sent = await f.session.send(send(['b@example.net', 'c@example.net'], 'one', 'first', { partial: 'all-or-nothing' }));
    expect(sent.accepted).toEqual(['b@example.net', 'c@example.net']);
    const error = await f.session
      .send(send(['b@example.net', 'nobody@example.net'], 'two', 'second', { partial: 'all-or-nothing' }))
      .catch((e: unknown) => e);
    expect(isSmtpError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'ERR_SMTP_RECIPIENTS_REJECTED', replyCode: 550 });
    expect((error as { rejected: Array<{ address: string }> }).rejected.map((r) => r.address)).toEqual(['nobody@example.net']);
    expect(f.session.usable).toBe(true);
    await f.session.quit();
    expectScriptFollowed(f);
  });

  it("stopAfter 'rcpt': MAIL and every RCPT in one write, then RSET; refused recipients are data", async () => {
    const f = await openScript('stop-after-rcpt.txt');
    const check = await f.session.checkEnvelope({ from: 'a@example.com', to: ['b@example.net', 'nobody@example.net'] });
    expect(check.mail.code).toBe(250);
    expect(check.accepted).toEqual(['b@example.net']);
    expect(check.rejected.map((r) => [r.address, r.reply.code])).toEqual([['nobody@example.net', 550]]);
    await f.session.quit();
    expectScriptFollowed(f);
  });

  it("stopAfter 'mail': MAIL alone, then RSET", async () => {
    const f = await openScript('stop-after-mail.txt');
    const check = await f.session.checkEnvelope({ from: 'a@example.com', to: ['b@example.net'], stopAfter: 'mail' });
    expect(check).toMatchObject({ mail: { code: 250 }, accepted: [], rejected: [] });
    await f.session.quit();
    expectScriptFollowed(f);
  });

  it('421 in the middle of a pipelined group: retryable, session dead, nothing more written', async () => {
    const f = await openScript('421-mid-group.txt');
    const error = await f.session.send(send(['b@example.net', 'c@example.net'], 'one', 'first')).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_SMTP_SERVICE_UNAVAILABLE', replyCode: 421, retryable: true });
    expect(f.session.usable).toBe(false);
    await f.session.quit();
    expectScriptFollowed(f);
  });

  it('421 to an envelope written ahead: the message before it is sent, the ones after it are not', async () => {
    const f = await openScript('421-after-end-of-data.txt');
    const [one, two, three] = await queueThree(f, 'c@example.net', false);
    expect(one?.ok && one.value.reply.text).toBe('2.0.0 Ok: queued as 1');
    expect(!two?.ok && two?.error).toMatchObject({ code: 'ERR_SMTP_SERVICE_UNAVAILABLE', replyCode: 421, retryable: true });
    expect(!three?.ok && three?.error).toMatchObject({ code: 'ERR_SMTP_SESSION_UNUSABLE', retryable: true });
    await f.session.quit();
    expectScriptFollowed(f);
  });
});
