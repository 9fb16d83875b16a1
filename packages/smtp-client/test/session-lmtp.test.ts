import { describe, expect, it } from 'vitest';
import { heloCapabilities, parseEhlo } from '@smtpkit/wire';
import { RecipientsRejectedError } from '../src/errors.js';
import { SmtpSession } from '../src/session.js';
import { DEFAULT_TIMEOUTS } from '../src/timeouts.js';
import { Transcript } from '../src/transcript.js';
import type { SendOptions, SendResult } from '../src/types.js';
import { actualWrites, expectedClientBytes, expectedWrites, parseScript, scriptedTransport } from './helpers/scripted.js';

// The transaction side of LMTP (RFC 2033) on a session built with `protocol: 'lmtp'`, over a scripted server:
// after the end of data one reply per accepted recipient, in RCPT order (§4.2); a recipient refused there is
// in `rejected`; a send is sent when one recipient got 2xx after the data, else it throws
// RecipientsRejectedError. The next queued envelope still shares the write of the end of data (RFC 2920 §3.1).

const SCRIPT = `
S: 220 lmtp.example.net LMTP
W: LHLO
C: LHLO localhost
S: 250-lmtp.example.net
S: 250-PIPELINING
S: 250 ENHANCEDSTATUSCODES
W: envelope 1
C: MAIL FROM:<a@example.com>
C: RCPT TO:<b@example.net>
C: RCPT TO:<c@example.net>
C: RCPT TO:<nobody@example.net>
C: DATA
S: 250 2.1.0 Ok
S: 250 2.1.5 Ok
S: 250 2.1.5 Ok
S: 550 5.1.1 <nobody@example.net> User doesn't exist
S: 354 Start mail input
W: body 1 and envelope 2
C: Subject: one
C: 
C: first
C: .
C: MAIL FROM:<a@example.com>
C: RCPT TO:<d@example.net>
C: RCPT TO:<e@example.net>
C: DATA
S: 250 2.0.0 <b@example.net> Saved
S: 552 5.2.2 <c@example.net> Mailbox full
S: 250 2.1.0 Ok
S: 250 2.1.5 Ok
S: 250 2.1.5 Ok
S: 354 Start mail input
W: body 2 and envelope 3
C: Subject: two
C: 
C: second
C: .
C: MAIL FROM:<a@example.com>
C: RCPT TO:<f@example.net>
C: RCPT TO:<g@example.net>
C: DATA
S: 452 4.2.2 <d@example.net> Mailbox full
S: 451 4.3.0 <e@example.net> Temporary failure
S: 250 2.1.0 Ok
S: 250 2.1.5 Ok
S: 250 2.1.5 Ok
S: 354 Start mail input
W: body 3
C: Subject: three
C: 
C: third
C: .
S: 250 2.0.0 <f@example.net> Saved
S: 550 5.7.1 <g@example.net> Rejected by sieve
W: QUIT
C: QUIT
S: 221 2.0.0 Bye
`;

const MIXED = `
S: 220 lmtp.example.net LMTP
C: LHLO localhost
S: 250-lmtp.example.net
S: 250 PIPELINING
C: MAIL FROM:<a@example.com>
C: RCPT TO:<d@example.net>
C: RCPT TO:<e@example.net>
C: DATA
S: 250 2.1.0 Ok
S: 250 2.1.5 Ok
S: 250 2.1.5 Ok
S: 354 Start mail input
C: Subject: two
C: 
C: second
C: .
S: 452 4.2.2 <d@example.net> Mailbox full
S: 550 5.1.1 <e@example.net> No such user
C: QUIT
S: 221 2.0.0 Bye
`;

const send = (to: string[], subject: string, text: string): SendOptions => ({
  from: 'a@example.com',
  to,
  data: `Subject: ${subject}\r\n\r\n${text}\r\n`,
});

async function lmtpSession(text = SCRIPT) {
  const script = parseScript(text);
  const fake = scriptedTransport(script);
  const session = new SmtpSession({
    transport: fake.transport,
    transcript: new Transcript(),
    timeouts: { ...DEFAULT_TIMEOUTS, mail: 2000, rcpt: 2000, dataInit: 2000, dataDone: 2000, command: 2000 },
    pipelining: 'auto',
    chunking: 'auto',
    capabilities: heloCapabilities({ code: 250, lines: [''], text: '' }),
    protocol: 'lmtp',
  });
  // LHLO is the handshake's (RFC 2033 §4.1); here by hand, to reach the transaction side.
  await session.step('greeting', (signal) => session.readReply(signal, 'greeting'));
  session.capabilities = parseEhlo(await session.command({ verb: 'LHLO', domain: 'localhost' }, 'ehlo'));
  return { script, fake, session };
}

describe("a session with protocol: 'lmtp'", () => {
  it('maps the replies after the data per recipient, with the next envelope written ahead of each', async () => {
    const { script, fake, session } = await lmtpSession();
    expect(session.protocol).toBe('lmtp');
    const settled = await Promise.allSettled([
      session.send(send(['b@example.net', 'c@example.net', 'nobody@example.net'], 'one', 'first')),
      session.send(send(['d@example.net', 'e@example.net'], 'two', 'second')),
      session.send(send(['f@example.net', 'g@example.net'], 'three', 'third')),
    ]);
    await session.quit();

    // One delivered, one refused at RCPT, one refused after the data: sent, with both refusals as data.
    const one = (settled[0] as PromiseFulfilledResult<SendResult>).value;
    expect(one.accepted).toEqual(['b@example.net']);
    expect(one.reply.text).toBe('2.0.0 <b@example.net> Saved');
    expect(one.rejected.map((r) => [r.address, r.reply.code, r.error.command])).toEqual([
      ['c@example.net', 552, 'DATA'],
      ['nobody@example.net', 550, 'RCPT TO:<nobody@example.net>'],
    ]);

    // Every recipient refused after the data, each with a 4yz: RecipientsRejectedError, retryable.
    const two = (settled[1] as PromiseRejectedResult).reason as RecipientsRejectedError;
    expect(two).toBeInstanceOf(RecipientsRejectedError);
    expect(two).toMatchObject({ code: 'ERR_SMTP_RECIPIENTS_REJECTED', retryable: true, replyCode: 452 });
    expect(two.rejected.map((r) => [r.address, r.reply.code])).toEqual([
      ['d@example.net', 452],
      ['e@example.net', 451],
    ]);

    const three = (settled[2] as PromiseFulfilledResult<SendResult>).value;
    expect(three.accepted).toEqual(['f@example.net']);
    expect(three.rejected.map((r) => [r.address, r.reply.code])).toEqual([['g@example.net', 550]]);

    expect(fake.mismatches).toEqual([]);
    expect(fake.transport.written.toString('latin1')).toBe(expectedClientBytes(script));
    expect(actualWrites(fake.transport)).toEqual(expectedWrites(script));
    expect(fake.remaining()).toBe(0);
  });

  it('every recipient refused after the data, one with a 5yz: RecipientsRejectedError, not retryable', async () => {
    const { script, fake, session } = await lmtpSession(MIXED);
    const error = await session.send(send(['d@example.net', 'e@example.net'], 'two', 'second')).catch((e: unknown) => e);
    await session.quit();
    expect(error).toBeInstanceOf(RecipientsRejectedError);
    expect(error).toMatchObject({ code: 'ERR_SMTP_RECIPIENTS_REJECTED', retryable: false, replyCode: 452 });
    expect((error as RecipientsRejectedError).rejected.map((r) => [r.address, r.reply.code])).toEqual([
      ['d@example.net', 452],
      ['e@example.net', 550],
    ]);
    expect(session.usable).toBe(false); // quit closed it; the refusals did not end it
    expect(fake.mismatches).toEqual([]);
    expect(fake.transport.written.toString('latin1')).toBe(expectedClientBytes(script));
    expect(fake.remaining()).toBe(0);
  });
});
