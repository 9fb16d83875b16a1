import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostfix, type PostfixServer } from '@smtpkit/testkit';
import { ClientTransaction } from '@smtpkit/wire';
import { RawConversation } from './helpers/raw-conversation.js';

// wire's ClientTransaction driven over a bare socket against a private Postfix smtpd (PIPELINING, CHUNKING,
// ENHANCEDSTATUSCODES, a recipient limit of 2): the rules of the state machine against a real server.

const message = (subject: string, lines = 3) =>
  Buffer.from(`From: a@example.com\r\nSubject: ${subject}\r\n\r\n${`${'0123456789abcdef'.repeat(4)}\r\n`.repeat(lines)}`, 'latin1');
/** A message as the Maildir keeps it: Postfix's local delivery writes lines ending in LF. */
const stored = (raw: Buffer | undefined) => raw?.toString('latin1').replaceAll('\r\n', '\n');
const statuses = (o: { recipients: Array<{ status: string }> }) => o.recipients.map((r) => r.status);

describe('ClientTransaction against Postfix smtpd', () => {
  let postfix: PostfixServer;
  const open: RawConversation[] = [];
  beforeAll(async () => {
    postfix = await startPostfix({ chunking: true, pipelining: true, extraMainCf: { smtpd_recipient_limit: '2' } });
  }, 60_000);
  afterAll(async () => {
    for (const c of open) c.destroy();
    await postfix?.stop();
  });

  async function conversation(): Promise<RawConversation> {
    const c = await RawConversation.open(postfix.port);
    open.push(c);
    expect(c.caps?.pipelining && c.caps.chunking).toBe(true);
    return c;
  }

  it('over the recipient limit: 452 4.5.3 defers, and a further transaction takes the rest (RFC 5321 §4.5.3.1.10)', async () => {
    const c = await conversation();
    const to = ['one@example.com', 'two@example.com', 'three@example.com'];
    const data = message('limit');
    const first = await c.run(new ClientTransaction(c.caps!, { from: 'a@example.com', to }), { data });
    expect(first.end).toBe('sent');
    expect(statuses(first)).toEqual(['accepted', 'accepted', 'deferred']);
    expect(first.recipients[2]?.reply).toMatchObject({ code: 452, enhanced: { klass: 4, subject: 5, detail: 3 } });
    const deferred = first.recipients.filter((r) => r.status === 'deferred').map((r) => r.address);
    const second = await c.run(new ClientTransaction(c.caps!, { from: 'a@example.com', to: deferred }), { data });
    expect(second.end).toBe('sent');
    await c.quit();
    const delivered = await postfix.waitForMessages(3);
    expect(delivered.map((m) => m.recipient).sort()).toEqual([...to].sort());
    for (const m of delivered) expect(m.raw.toString('latin1')).toContain('Subject: limit');
  });

  it('BDAT: the whole message in the envelope group, a refused recipient beside an accepted one', async () => {
    const c = await conversation();
    const data = message('whole in the group');
    const tx = new ClientTransaction(c.caps!, { from: 'a@example.com', to: ['bob@example.com', 'mallory@elsewhere.invalid'] }, { body: 'BDAT', wholeBody: data });
    const outcome = await c.run(tx, {});
    expect(outcome.end).toBe('sent');
    expect(statuses(outcome)).toEqual(['accepted', 'refused']);
    expect(outcome.recipients[1]?.reply?.code).toBeGreaterThanOrEqual(500);
    expect(c.lines[1]).toBe(`MAIL FROM:<a@example.com> | RCPT TO:<bob@example.com> | RCPT TO:<mallory@elsewhere.invalid> | BDAT ${data.length} LAST`);
    await c.quit();
    const [m] = (await postfix.waitForMessages(4)).filter((x) => x.raw.toString('latin1').includes('Subject: whole in the group'));
    // Postfix adds its own header fields (Received, Message-ID, Date); the body arrives as it was sent.
    expect(stored(m?.raw)?.split('\n\n').slice(1).join('\n\n')).toBe(stored(data)?.split('\n\n').slice(1).join('\n\n'));
  });

  it('BDAT: the first chunk of a larger message in the envelope group, the rest streamed (RFC 3030 §4.2)', async () => {
    const c = await conversation();
    const data = message('first chunk in the group', 400);
    const first = data.subarray(0, 1000);
    const tx = new ClientTransaction(c.caps!, { from: 'a@example.com', to: ['carol@example.com'] }, { body: 'BDAT', firstChunk: first });
    const outcome = await c.run(tx, { rest: data.subarray(1000), chunkSize: 700 });
    expect(outcome.end).toBe('sent');
    expect(c.lines[1]).toBe('MAIL FROM:<a@example.com> | RCPT TO:<carol@example.com> | BDAT 1000');
    expect(c.lines.filter((l) => l.startsWith('BDAT')).at(-1)).toMatch(/ LAST </);
    await c.quit();
    const [m] = (await postfix.waitForMessages(5)).filter((x) => x.raw.toString('latin1').includes('Subject: first chunk in the group'));
    // Postfix adds its own header fields (Received, Message-ID, Date); the body arrives as it was sent.
    expect(stored(m?.raw)?.split('\n\n').slice(1).join('\n\n')).toBe(stored(data)?.split('\n\n').slice(1).join('\n\n'));
  });

  it('no recipient accepted: BDAT in the group is refused, RSET, and the session goes on', async () => {
    const c = await conversation();
    const data = message('nobody');
    const refused = await c.run(
      new ClientTransaction(c.caps!, { from: 'a@example.com', to: ['mallory@elsewhere.invalid'] }, { body: 'BDAT', wholeBody: data }),
      {},
    );
    expect(refused.end).toBe('recipients-refused');
    expect(c.lines.at(-1)).toBe('RSET');
    const check = await c.run(new ClientTransaction(c.caps!, { from: 'a@example.com', to: ['bob@example.com', 'x@elsewhere.invalid'] }, { stopAfter: 'rcpt' }), {});
    expect(check.end).toBe('checked');
    expect(statuses(check)).toEqual(['accepted', 'refused']);
    await c.quit();
  });
});
