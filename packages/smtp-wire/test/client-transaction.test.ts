import { describe, expect, it } from 'vitest';
import { parseEhlo } from '../src/capabilities.js';
import type { Capabilities } from '../src/capabilities.js';
import { ClientTransaction } from '../src/client-transaction.js';
import { isSmtpError } from '../src/errors.js';
import type { Envelope } from '../src/pipelining.js';
import { parseReply } from '../src/reply-parser.js';
import type { TransactionEnd, TransactionOptions } from '../src/transaction-outcome.js';
import { splitsInTwo } from './support.js';
import { drive, replyBytes, type DriveResult } from './transaction-driver.js';

const ehlo = (...keywords: string[]): Capabilities =>
  parseEhlo(parseReply(['mx.example.net', ...keywords].map((k, i, all) => `250${i === all.length - 1 ? ' ' : '-'}${k}\r\n`).join('')));

const PIPE = ehlo('PIPELINING', 'ENHANCEDSTATUSCODES', 'DSN');
const PIPE_CHUNK = ehlo('PIPELINING', 'CHUNKING', 'ENHANCEDSTATUSCODES');
const PLAIN = ehlo('ENHANCEDSTATUSCODES');
const PLAIN_CHUNK = ehlo('CHUNKING');

const MAIL = 'MAIL FROM:<a@example.com>';
const RCPT = (who: string) => `RCPT TO:<${who}@example.net>`;
const whole = new Uint8Array(5).fill(0x79);

interface Case {
  name: string;
  caps: Capabilities;
  to?: string[];
  envelope?: Partial<Envelope>;
  options?: TransactionOptions;
  /** A transaction that starts with RSET is written behind this one. */
  followed?: boolean;
  bdatChunks?: number[];
  server: string[];
  client: string[];
  /** Lines per write, when the case pins them. */
  writes?: string[][];
  end: TransactionEnd | 'violation';
  /** Recipient statuses, space-separated, in envelope order. */
  recipients?: string;
  usable?: boolean;
}

const OK_MAIL = '250 2.1.0 Ok';
const OK_RCPT = '250 2.1.5 Ok';
const GO = '354 End data with <CR><LF>.<CR><LF>';
const QUEUED = '250 2.0.0 Ok: queued';
const UNKNOWN = '550 5.1.1 User unknown';
const TOO_MANY = '452 4.5.3 Too many recipients';

const CASES: Case[] = [
  {
    name: 'PIPELINING, DATA: the envelope and DATA in one write, the body after 354',
    caps: PIPE,
    server: [OK_MAIL, OK_RCPT, GO, QUEUED],
    client: [MAIL, RCPT('b'), 'DATA', '<message>'],
    writes: [[MAIL, RCPT('b'), 'DATA'], ['<message>']],
    end: 'sent',
    recipients: 'accepted',
  },
  {
    name: 'a refused recipient among accepted ones is data; the message goes to the rest',
    caps: PIPE,
    to: ['b', 'x', 'c'],
    server: [OK_MAIL, OK_RCPT, UNKNOWN, OK_RCPT, GO, QUEUED],
    client: [MAIL, RCPT('b'), RCPT('x'), RCPT('c'), 'DATA', '<message>'],
    end: 'sent',
    recipients: 'accepted refused accepted',
  },
  {
    name: 'every 2yz is positive: 251 and 252 accept a recipient (RFC 5321 §4.2.1)',
    caps: PIPE,
    to: ['b', 'c'],
    server: [OK_MAIL, '251 2.1.5 User not local; will forward', '252 2.1.5 Cannot VRFY user, but will accept', GO, QUEUED],
    client: [MAIL, RCPT('b'), RCPT('c'), 'DATA', '<message>'],
    end: 'sent',
    recipients: 'accepted accepted',
  },
  {
    name: 'no recipient accepted: DATA is refused, then RSET',
    caps: PIPE,
    server: [OK_MAIL, UNKNOWN, '554 5.5.1 Error: no valid recipients', '250 2.0.0 Ok'],
    client: [MAIL, RCPT('b'), 'DATA', 'RSET'],
    writes: [[MAIL, RCPT('b'), 'DATA'], ['RSET']],
    end: 'recipients-refused',
    recipients: 'refused',
  },
  {
    name: '354 although no recipient was accepted is a violation (RFC 2920 §3.1)',
    caps: PIPE,
    server: [OK_MAIL, UNKNOWN, GO],
    client: [MAIL, RCPT('b'), 'DATA'],
    end: 'violation',
  },
  {
    name: 'MAIL refused in a group: the rest is refused too, nothing follows, no RSET',
    caps: PIPE,
    server: ['550 5.7.1 Sender blocked', '503 5.5.1 Need MAIL', '503 5.5.1 Need MAIL'],
    client: [MAIL, RCPT('b'), 'DATA'],
    end: 'mail-refused',
    recipients: 'refused',
  },
  {
    name: 'without PIPELINING: MAIL refused, no RCPT is sent',
    caps: PLAIN,
    server: ['550 5.7.1 Sender blocked'],
    client: [MAIL],
    end: 'mail-refused',
    recipients: 'unsent',
  },
  {
    name: 'without PIPELINING: one command per write, each after the previous reply',
    caps: PLAIN,
    to: ['b', 'c'],
    server: [OK_MAIL, OK_RCPT, UNKNOWN, GO, QUEUED],
    client: [MAIL, RCPT('b'), RCPT('c'), 'DATA', '<message>'],
    writes: [[MAIL], [RCPT('b')], [RCPT('c')], ['DATA'], ['<message>']],
    end: 'sent',
    recipients: 'accepted refused',
  },
  {
    name: 'all-or-nothing: DATA waits for every RCPT reply',
    caps: PIPE,
    to: ['b', 'c'],
    options: { allOrNothing: true },
    server: [OK_MAIL, OK_RCPT, OK_RCPT, GO, QUEUED],
    client: [MAIL, RCPT('b'), RCPT('c'), 'DATA', '<message>'],
    writes: [[MAIL, RCPT('b'), RCPT('c')], ['DATA'], ['<message>']],
    end: 'sent',
    recipients: 'accepted accepted',
  },
  {
    name: 'all-or-nothing: one refused recipient means RSET and nothing sent',
    caps: PIPE,
    to: ['b', 'x'],
    options: { allOrNothing: true },
    server: [OK_MAIL, OK_RCPT, UNKNOWN, '250 2.0.0 Ok'],
    client: [MAIL, RCPT('b'), RCPT('x'), 'RSET'],
    end: 'recipients-refused',
    recipients: 'accepted refused',
  },
  {
    name: "stopAfter 'rcpt': MAIL and every RCPT, then RSET",
    caps: PIPE,
    to: ['b', 'x'],
    options: { stopAfter: 'rcpt' },
    server: [OK_MAIL, OK_RCPT, UNKNOWN, '250 2.0.0 Ok'],
    client: [MAIL, RCPT('b'), RCPT('x'), 'RSET'],
    writes: [[MAIL, RCPT('b'), RCPT('x')], ['RSET']],
    end: 'checked',
    recipients: 'accepted refused',
  },
  {
    name: "stopAfter 'mail': MAIL alone, then RSET",
    caps: PIPE,
    options: { stopAfter: 'mail' },
    server: [OK_MAIL, '250 2.0.0 Ok'],
    client: [MAIL, 'RSET'],
    end: 'checked',
    recipients: 'unsent',
  },
  {
    name: "stopAfter 'rcpt' with MAIL refused: no RSET",
    caps: PIPE,
    options: { stopAfter: 'rcpt' },
    server: ['553 5.7.1 Sender refused', '503 5.5.1 Need MAIL'],
    client: [MAIL, RCPT('b')],
    end: 'mail-refused',
  },
  {
    name: 'a 421 in the middle of a group ends the transaction and the session (RFC 5321 §3.8)',
    caps: PIPE,
    to: ['b', 'c'],
    server: [OK_MAIL, '421 4.3.2 Service shutting down'],
    client: [MAIL, RCPT('b'), RCPT('c'), 'DATA'],
    end: 'closing',
    usable: false,
  },
  {
    name: 'DATA refused after an accepted recipient: RSET',
    caps: PIPE,
    server: [OK_MAIL, OK_RCPT, '451 4.3.0 Try later', '250 2.0.0 Ok'],
    client: [MAIL, RCPT('b'), 'DATA', 'RSET'],
    end: 'data-refused',
    recipients: 'accepted',
  },
  {
    name: 'the final reply refuses the message: no RSET, the reply ended the transaction (RFC 5321 §4.1.1.4)',
    caps: PIPE,
    server: [OK_MAIL, OK_RCPT, GO, '554 5.7.1 Spam'],
    client: [MAIL, RCPT('b'), 'DATA', '<message>'],
    end: 'message-refused',
  },
  {
    name: 'BDAT: the whole message in the envelope group (RFC 3030 §4.2)',
    caps: PIPE_CHUNK,
    options: { body: 'BDAT', wholeBody: whole },
    server: [OK_MAIL, OK_RCPT, '250 2.0.0 Ok: 5 bytes queued'],
    client: [MAIL, RCPT('b'), 'BDAT 5 LAST', '<chunk 5 bytes>'],
    writes: [[MAIL, RCPT('b'), 'BDAT 5 LAST', '<chunk 5 bytes>']],
    end: 'sent',
    recipients: 'accepted',
  },
  {
    name: 'BDAT in the group, no recipient accepted: the chunk is refused, then RSET',
    caps: PIPE_CHUNK,
    options: { body: 'BDAT', wholeBody: whole },
    server: [OK_MAIL, UNKNOWN, '554 5.5.1 Error: no valid recipients', '250 2.0.0 Ok'],
    client: [MAIL, RCPT('b'), 'BDAT 5 LAST', '<chunk 5 bytes>', 'RSET'],
    end: 'recipients-refused',
  },
  {
    name: 'BDAT in the group, no recipient accepted, followed by a transaction that resets: no RSET',
    caps: PIPE_CHUNK,
    options: { body: 'BDAT', wholeBody: whole },
    followed: true,
    server: [OK_MAIL, UNKNOWN, '554 5.5.1 Error: no valid recipients'],
    client: [MAIL, RCPT('b'), 'BDAT 5 LAST', '<chunk 5 bytes>'],
    end: 'recipients-refused',
  },
  {
    name: 'BDAT taken although no recipient was accepted is a violation (RFC 3030 §2)',
    caps: PIPE_CHUNK,
    options: { body: 'BDAT', wholeBody: whole },
    server: [OK_MAIL, UNKNOWN, '250 2.0.0 Ok'],
    client: [MAIL, RCPT('b'), 'BDAT 5 LAST', '<chunk 5 bytes>'],
    end: 'violation',
  },
  {
    name: 'BDAT in the group refused after an accepted recipient: RSET',
    caps: PIPE_CHUNK,
    options: { body: 'BDAT', wholeBody: whole },
    server: [OK_MAIL, OK_RCPT, '552 5.3.4 Message too big', '250 2.0.0 Ok'],
    client: [MAIL, RCPT('b'), 'BDAT 5 LAST', '<chunk 5 bytes>', 'RSET'],
    end: 'message-refused',
  },
  {
    name: 'the RSET prefix of a transaction written behind another',
    caps: PIPE_CHUNK,
    options: { body: 'BDAT', wholeBody: whole, resetFirst: true },
    server: ['250 2.0.0 Ok', OK_MAIL, OK_RCPT, '250 2.0.0 Ok: queued'],
    client: ['RSET', MAIL, RCPT('b'), 'BDAT 5 LAST', '<chunk 5 bytes>'],
    writes: [['RSET', MAIL, RCPT('b'), 'BDAT 5 LAST', '<chunk 5 bytes>']],
    end: 'sent',
  },
  {
    name: 'a refused RSET prefix ends the session',
    caps: PIPE_CHUNK,
    options: { body: 'BDAT', wholeBody: whole, resetFirst: true },
    server: ['500 5.5.1 What?'],
    client: ['RSET', MAIL, RCPT('b'), 'BDAT 5 LAST', '<chunk 5 bytes>'],
    end: 'reset-refused',
    usable: false,
  },
  {
    name: 'BDAT streamed after the RCPT replies, lock-step chunks',
    caps: PIPE_CHUNK,
    options: { body: 'BDAT' },
    bdatChunks: [10, 5],
    server: [OK_MAIL, OK_RCPT, '250 2.0.0 10 octets received', '250 2.0.0 Ok: queued'],
    client: [MAIL, RCPT('b'), 'BDAT 10', '<chunk 10 bytes>', 'BDAT 5 LAST', '<chunk 5 bytes>'],
    writes: [[MAIL, RCPT('b')], ['BDAT 10', '<chunk 10 bytes>'], ['BDAT 5 LAST', '<chunk 5 bytes>']],
    end: 'sent',
  },
  {
    name: 'the first chunk of a larger message in the envelope group (RFC 3030 §4.2)',
    caps: PIPE_CHUNK,
    options: { body: 'BDAT', firstChunk: new Uint8Array(4) },
    bdatChunks: [10],
    server: [OK_MAIL, OK_RCPT, '250 2.0.0 4 octets received', '250 2.0.0 Ok: queued'],
    client: [MAIL, RCPT('b'), 'BDAT 4', '<chunk 4 bytes>', 'BDAT 10 LAST', '<chunk 10 bytes>'],
    writes: [[MAIL, RCPT('b'), 'BDAT 4', '<chunk 4 bytes>'], ['BDAT 10 LAST', '<chunk 10 bytes>']],
    end: 'sent',
  },
  {
    name: 'a refused chunk stops the transfer, then RSET',
    caps: PIPE_CHUNK,
    options: { body: 'BDAT' },
    bdatChunks: [10, 5],
    server: [OK_MAIL, OK_RCPT, '552 5.3.4 Message too big', '250 2.0.0 Ok'],
    client: [MAIL, RCPT('b'), 'BDAT 10', '<chunk 10 bytes>', 'RSET'],
    end: 'message-refused',
  },
  {
    name: 'without PIPELINING, a whole BDAT message goes on its own after the RCPT replies',
    caps: PLAIN_CHUNK,
    options: { body: 'BDAT', wholeBody: whole },
    server: ['250 Ok', '250 Ok', '250 Ok: queued'],
    client: [MAIL, RCPT('b'), 'BDAT 5 LAST', '<chunk 5 bytes>'],
    writes: [[MAIL], [RCPT('b')], ['BDAT 5 LAST', '<chunk 5 bytes>']],
    end: 'sent',
  },
  {
    name: 'over the server recipient limit: 452 after an acceptance defers, it does not refuse (RFC 5321 §4.5.3.1.10)',
    caps: PIPE,
    to: ['b', 'c', 'd'],
    server: [OK_MAIL, OK_RCPT, TOO_MANY, TOO_MANY, GO, QUEUED],
    client: [MAIL, RCPT('b'), RCPT('c'), RCPT('d'), 'DATA', '<message>'],
    end: 'sent',
    recipients: 'accepted deferred deferred',
  },
  {
    name: '452 before any acceptance is a refusal; a 4.5.3 with another code after one is a deferral',
    caps: PIPE,
    to: ['b', 'c', 'd'],
    server: [OK_MAIL, TOO_MANY, OK_RCPT, '451 4.5.3 Too many recipients this hour', GO, QUEUED],
    client: [MAIL, RCPT('b'), RCPT('c'), RCPT('d'), 'DATA', '<message>'],
    end: 'sent',
    recipients: 'refused accepted deferred',
  },
  {
    name: 'over the limit without PIPELINING: the remaining recipients are not asked, and are deferred',
    caps: PLAIN,
    to: ['b', 'c', 'd'],
    server: [OK_MAIL, OK_RCPT, TOO_MANY, GO, QUEUED],
    client: [MAIL, RCPT('b'), RCPT('c'), 'DATA', '<message>'],
    end: 'sent',
    recipients: 'accepted deferred deferred',
  },
  {
    name: 'all-or-nothing and a deferred recipient: nothing is sent',
    caps: PIPE,
    to: ['b', 'c'],
    options: { allOrNothing: true },
    server: [OK_MAIL, OK_RCPT, TOO_MANY, '250 2.0.0 Ok'],
    client: [MAIL, RCPT('b'), RCPT('c'), 'RSET'],
    end: 'recipients-refused',
    recipients: 'accepted deferred',
  },
  {
    name: 'LMTP: one reply per accepted recipient after the end of data, in RCPT order (RFC 2033 §4.2)',
    caps: PIPE,
    to: ['b', 'x', 'c'],
    options: { lmtp: true },
    server: [OK_MAIL, OK_RCPT, UNKNOWN, OK_RCPT, GO, '250 2.0.0 <b@example.net> delivered', '452 4.2.2 <c@example.net> mailbox full'],
    client: [MAIL, RCPT('b'), RCPT('x'), RCPT('c'), 'DATA', '<message>'],
    end: 'sent',
    recipients: 'accepted refused refused',
  },
  {
    name: 'LMTP: every recipient refused after the data: not sent',
    caps: PIPE,
    to: ['b', 'c'],
    options: { lmtp: true },
    server: [OK_MAIL, OK_RCPT, OK_RCPT, GO, '452 4.2.2 full', '550 5.2.1 disabled'],
    client: [MAIL, RCPT('b'), RCPT('c'), 'DATA', '<message>'],
    end: 'message-refused',
    recipients: 'refused refused',
  },
  {
    name: 'LMTP with BDAT LAST in the group: one reply per accepted recipient (RFC 3030 with RFC 2033)',
    caps: PIPE_CHUNK,
    to: ['b', 'x', 'c'],
    options: { lmtp: true, body: 'BDAT', wholeBody: whole },
    server: [OK_MAIL, OK_RCPT, UNKNOWN, OK_RCPT, '250 2.0.0 b ok', '250 2.0.0 c ok'],
    client: [MAIL, RCPT('b'), RCPT('x'), RCPT('c'), 'BDAT 5 LAST', '<chunk 5 bytes>'],
    end: 'sent',
    recipients: 'accepted refused accepted',
  },
  {
    name: 'LMTP with streamed BDAT: a single reply per chunk, per recipient after LAST',
    caps: PIPE_CHUNK,
    to: ['b', 'c'],
    options: { lmtp: true, body: 'BDAT' },
    bdatChunks: [10, 5],
    server: [OK_MAIL, OK_RCPT, OK_RCPT, '250 2.0.0 10 octets', '250 2.0.0 b ok', '250 2.0.0 c ok'],
    client: [MAIL, RCPT('b'), RCPT('c'), 'BDAT 10', '<chunk 10 bytes>', 'BDAT 5 LAST', '<chunk 5 bytes>'],
    end: 'sent',
    recipients: 'accepted accepted',
  },
  {
    name: 'ORCPT per recipient, encoded once with the shared NOTIFY (RFC 3461 §4.2)',
    caps: PIPE,
    to: ['b', 'c'],
    envelope: { rcptParams: { notify: ['FAILURE'] }, orcpt: ['b@example.net', undefined] },
    server: [OK_MAIL, OK_RCPT, OK_RCPT, GO, QUEUED],
    client: [MAIL, `${RCPT('b')} NOTIFY=FAILURE ORCPT=rfc822;b@example.net`, `${RCPT('c')} NOTIFY=FAILURE`, 'DATA', '<message>'],
    end: 'sent',
  },
  {
    name: 'a 421 to the RSET after a failure',
    caps: PIPE,
    server: [OK_MAIL, UNKNOWN, '554 5.5.1 no valid recipients', '421 4.3.2 Bye'],
    client: [MAIL, RCPT('b'), 'DATA', 'RSET'],
    end: 'closing',
    usable: false,
  },
];

function transaction(c: Case): ClientTransaction {
  const to = (c.to ?? ['b']).map((w) => `${w}@example.net`);
  const tx = new ClientTransaction(c.caps, { from: 'a@example.com', to, ...c.envelope }, c.options);
  if (c.followed) tx.followedByReset();
  return tx;
}

function summary(r: DriveResult) {
  return {
    lines: r.lines,
    end: r.violation !== undefined ? 'violation' : r.outcome?.end,
    recipients: r.outcome?.recipients.map((x) => x.status).join(' '),
    usable: r.outcome?.sessionUsable,
    unread: r.unread,
  };
}

describe('ClientTransaction: (capabilities, envelope, options, replies) → (client lines, outcome)', () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const r = drive(transaction(c), { chunks: [replyBytes(c.server)] }, c.bdatChunks ? { bdatChunks: c.bdatChunks } : {});
    const s = summary(r);
    expect(s.lines).toEqual(c.client);
    if (c.writes) expect(r.writes).toEqual(c.writes);
    expect(s.end).toBe(c.end);
    if (c.recipients !== undefined) expect(s.recipients).toBe(c.recipients);
    if (c.end !== 'violation') expect(s.usable).toBe(c.usable ?? true);
    expect(s.unread).toBe(0);
  });

  it.each(CASES.map((c) => [c.name, c] as const))('split at every offset: %s', (_name, c) => {
    const bytes = replyBytes(c.server);
    const whole = summary(drive(transaction(c), { chunks: [bytes] }, c.bdatChunks ? { bdatChunks: c.bdatChunks } : {}));
    for (const [k, chunks] of splitsInTwo(bytes)) {
      const split = summary(drive(transaction(c), { chunks }, c.bdatChunks ? { bdatChunks: c.bdatChunks } : {}));
      expect(split, `split at ${k}`).toEqual(whole);
    }
  });
});

describe('ClientTransaction: misuse and violations', () => {
  const env: Envelope = { from: 'a@example.com', to: ['b@example.net'] };

  it('refuses bad input before anything is written', () => {
    expect(() => new ClientTransaction(PIPE, { ...env, to: [] })).toThrow(/at least one recipient/);
    expect(() => new ClientTransaction(PIPE, { ...env, to: ['b@example.net\r\nDATA'] })).toThrow();
    expect(() => new ClientTransaction(PIPE, env, { body: 'BDAT' })).toThrow(/CHUNKING/);
    expect(() => new ClientTransaction(PIPE_CHUNK, env, { wholeBody: whole })).toThrow(/body: BDAT/);
    expect(() => new ClientTransaction(PIPE_CHUNK, env, { body: 'BDAT', wholeBody: whole, firstChunk: whole })).toThrow(/not both/);
    expect(() => new ClientTransaction(PLAIN, { ...env, orcpt: ['b@example.net'] })).toThrow(/DSN/);
    expect(() => new ClientTransaction(PIPE, { ...env, orcpt: [] })).toThrow(/orcpt has 0 entries/);
  });

  it('a reply with no command awaiting it is a violation; calls out of turn are errors', () => {
    const tx = new ClientTransaction(PIPE_CHUNK, env, { body: 'BDAT' });
    expect(() => tx.receive(parseReply('250 Ok\r\n'))).toThrow(/before start/);
    tx.start();
    expect(() => tx.start()).toThrow(/already/);
    expect(() => tx.bdatChunk(whole, true)).toThrow(/no BDAT chunk is due/);
    tx.receive(parseReply('250 Ok\r\n'));
    expect(tx.receive(parseReply('250 Ok\r\n'))).toEqual({ type: 'body', via: 'BDAT' });
    const stray = tx.receive(parseReply('250 Ok\r\n'));
    expect(stray.type).toBe('violation');
    if (stray.type === 'violation') expect(isSmtpError(stray.error) && stray.error.kind).toBe('protocol');
    expect(() => tx.receive(parseReply('250 Ok\r\n'))).toThrow(/after the end/);
  });

  it('counts what it waits for, and says what the next reply answers (for its deadline)', () => {
    const tx = new ClientTransaction(PIPE_CHUNK, env, { body: 'BDAT', resetFirst: true });
    expect(tx.awaiting).toBeUndefined();
    tx.start();
    expect(tx.outstanding).toBe(3);
    const seen: Array<typeof tx.awaiting> = [];
    for (let i = 0; i < 3; i++) {
      seen.push(tx.awaiting);
      tx.receive(parseReply('250 Ok\r\n'));
    }
    expect(seen).toEqual(['RSET', 'MAIL', 'RCPT']);
    expect(tx.awaiting).toBeUndefined();
    tx.bdatChunk(whole, false);
    expect(tx.awaiting).toBe('BDAT');
    tx.bdatChunk(whole, false);
    tx.bdatChunk(whole, true);
    expect(tx.outstanding).toBe(3);
    expect(tx.receive(parseReply('250 Ok\r\n'))).toEqual({ type: 'read' });
    expect(tx.awaiting).toBe('BDAT');
    expect(tx.receive(parseReply('250 Ok\r\n'))).toEqual({ type: 'read' });
    expect(tx.awaiting).toBe('END');
    const done = tx.receive(parseReply('250 Ok: queued\r\n'));
    expect(done.type === 'done' && done.outcome.end).toBe('sent');
  });
});
