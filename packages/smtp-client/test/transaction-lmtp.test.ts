import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientTransaction } from '@smtpkit/wire';
import { startDovecotLmtp, type DovecotLmtp } from './helpers/dovecot-lmtp.js';
import { RawConversation } from './helpers/raw-conversation.js';

// LMTP (RFC 2033) through wire's ClientTransaction, over a bare socket, against a private Dovecot LMTP server:
// LHLO, then after the end of data one reply per accepted recipient, in RCPT order (§4.2), with DATA and BDAT.

const message = (subject: string) => Buffer.from(`From: a@example.com\r\nSubject: ${subject}\r\n\r\nHello over LMTP.\r\n`, 'latin1');
const statuses = (o: { recipients: Array<{ status: string }> }) => o.recipients.map((r) => r.status);

describe('ClientTransaction with lmtp against Dovecot LMTP', () => {
  let lmtp: DovecotLmtp;
  const open: RawConversation[] = [];
  beforeAll(async () => {
    lmtp = await startDovecotLmtp();
  }, 60_000);
  afterAll(async () => {
    for (const c of open) c.destroy();
    await lmtp?.stop();
  });

  async function conversation(): Promise<RawConversation> {
    const c = await RawConversation.open(lmtp.port, 'LHLO');
    open.push(c);
    expect(c.caps?.pipelining && c.caps.chunking).toBe(true);
    return c;
  }

  it.each<[string, { body?: 'BDAT' }]>([
    ['DATA', {}],
    ['BDAT, the whole message in the envelope group', { body: 'BDAT' }],
  ])('%s: an unknown user refused at RCPT, then one reply per accepted recipient after the data', async (name, options) => {
    const c = await conversation();
    const data = message(`lmtp ${name}`);
    const tx = new ClientTransaction(
      c.caps!,
      { from: 'a@example.com', to: ['bob@example.net', 'nobody@example.net', 'carol@example.net'] },
      { lmtp: true, ...options, ...(options.body === 'BDAT' ? { wholeBody: data } : {}) },
    );
    const outcome = await c.run(tx, { data });
    // bob delivered; nobody unknown at RCPT; carol accepted at RCPT, her delivery failed after the data.
    expect(outcome.end, await lmtp.log()).toBe('sent');
    expect(statuses(outcome)).toEqual(['accepted', 'refused', 'refused']);
    expect(outcome.recipients[1]?.reply?.code).toBe(550);
    expect(outcome.recipients[2]?.reply?.code).toBeGreaterThanOrEqual(400);
    expect(outcome.recipients[2]?.command).toMatch(/^(DATA|BDAT \d+ LAST)$/);
    // Exactly the replies owed were read: the session answers the next command at once.
    await c.quit();
    const stored = await lmtp.delivered('bob@example.net');
    expect(stored.some((m) => m.includes(`Subject: lmtp ${name}`))).toBe(true);
  });

  it('streamed BDAT: one reply per chunk, then one per recipient after LAST', async () => {
    const c = await conversation();
    const data = message('lmtp streamed');
    const tx = new ClientTransaction(c.caps!, { from: 'a@example.com', to: ['bob@example.net'] }, { lmtp: true, body: 'BDAT' });
    const outcome = await c.run(tx, { rest: data, chunkSize: 16 });
    expect(outcome.end).toBe('sent');
    expect(c.lines.filter((l) => l.startsWith('BDAT')).length).toBe(Math.ceil(data.length / 16));
    const check = await c.run(new ClientTransaction(c.caps!, { from: 'a@example.com', to: ['bob@example.net'] }, { lmtp: true, stopAfter: 'rcpt' }), {});
    expect(check.end).toBe('checked');
    await c.quit();
  });
});
