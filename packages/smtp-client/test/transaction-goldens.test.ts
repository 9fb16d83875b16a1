import { describe, expect, it } from 'vitest';
import {
  ClientTransaction,
  DataEncoder,
  ReplyParser,
  parseEhlo,
  type Reply,
  type TransactionEnd,
  type TransactionOptions,
} from '@smtpkit/wire';
import { expectedWrites, loadScript } from './helpers/scripted.js';

// wire's ClientTransaction against the client's golden transcripts: driven with a golden's server replies,
// the machine writes the same bytes the client wrote today, in groups the client's writes are made of (the
// client joins consecutive groups into one write ahead of the replies; it never splits one).

const body = (subject: string, text: string) => `Subject: ${subject}\r\n\r\n${text}\r\n`;

interface Planned {
  to: string[];
  body: string;
  options?: TransactionOptions;
  /** A transaction that starts with RSET was written behind this one. */
  followed?: boolean;
}

const send = (to: string[], subject: string, text: string, options?: TransactionOptions, followed = false): Planned => ({
  to: to.map((w) => `${w}@example.net`),
  body: body(subject, text),
  ...(options ? { options } : {}),
  followed,
});
const bdat = (p: Planned, extra: TransactionOptions = {}): Planned => ({
  ...p,
  options: { ...p.options, body: 'BDAT', wholeBody: Buffer.from(p.body, 'latin1'), ...extra },
});

const GOLDENS: Array<{ file: string; sends: Planned[]; ends: TransactionEnd[] }> = [
  {
    file: 'pipelined-three-data.txt',
    sends: [send(['b'], 'one', 'first'), send(['c'], 'two', 'second'), send(['d'], 'three', 'third')],
    ends: ['sent', 'sent', 'sent'],
  },
  {
    file: 'pipelined-three-bdat.txt',
    sends: [
      bdat(send(['b'], 'one', 'first')),
      bdat(send(['c'], 'two', 'second'), { resetFirst: true }),
      bdat(send(['d'], 'three', 'third'), { resetFirst: true }),
    ],
    ends: ['sent', 'sent', 'sent'],
  },
  {
    file: 'pipelined-refused-envelope.txt',
    sends: [send(['b'], 'one', 'first'), send(['nobody'], 'two', 'second'), send(['d'], 'three', 'third')],
    ends: ['sent', 'recipients-refused', 'sent'],
  },
  {
    file: 'pipelined-refused-envelope-bdat.txt',
    sends: [
      bdat(send(['b'], 'one', 'first')),
      bdat(send(['nobody'], 'two', 'second', undefined, true), { resetFirst: true }),
      bdat(send(['d'], 'three', 'third'), { resetFirst: true }),
    ],
    ends: ['sent', 'recipients-refused', 'sent'],
  },
  {
    file: 'all-or-nothing.txt',
    sends: [send(['b', 'c'], 'one', 'first', { allOrNothing: true }), send(['b', 'nobody'], 'two', 'second', { allOrNothing: true })],
    ends: ['sent', 'recipients-refused'],
  },
  { file: 'stop-after-rcpt.txt', sends: [send(['b', 'nobody'], '', '', { stopAfter: 'rcpt' })], ends: ['checked'] },
  { file: 'stop-after-mail.txt', sends: [send(['b'], '', '', { stopAfter: 'mail' })], ends: ['checked'] },
  { file: '421-mid-group.txt', sends: [send(['b', 'c'], 'one', 'first')], ends: ['closing'] },
  {
    file: '421-after-end-of-data.txt',
    sends: [send(['b'], 'one', 'first'), send(['c'], 'two', 'second'), send(['d'], 'three', 'third')],
    ends: ['sent', 'closing'],
  },
  {
    file: 'pipelined-partial-rcpt.txt',
    sends: [{ to: ['b@example.net', 'nobody@example.net', 'c@example.net'], body: body('partial', 'body') }],
    ends: ['sent'],
  },
  { file: '421-mid-session.txt', sends: [send(['b'], 'one', 'first'), send(['b'], 'two', 'second')], ends: ['sent', 'closing'] },
];

/** The golden's server replies, and its client bytes as writes, without the EHLO and QUIT around the transactions. */
function golden(file: string) {
  const script = loadScript(file);
  const parser = new ReplyParser();
  const replies = parser.push(Buffer.from(script.filter((l) => l.dir === 'S').map((l) => `${l.text}\r\n`).join(''), 'utf8'));
  // A golden without W: lines pins no write boundaries: its C lines stand in for writes, for the bytes only.
  const pinned = expectedWrites(script);
  const writes = pinned ?? script.filter((l) => l.dir === 'C').map((l) => `${l.text}\r\n`);
  const quit = writes[writes.length - 1] === 'QUIT\r\n';
  return {
    caps: parseEhlo(replies[1] as Reply),
    replies: replies.slice(2, quit ? -1 : undefined),
    writes: writes.slice(1, quit ? -1 : undefined),
    pinned: pinned !== undefined,
  };
}

/** Runs the planned transactions one after another on the golden's replies: the bytes of each write or body. */
function run(file: string, sends: Planned[]) {
  const g = golden(file);
  const units: string[] = [];
  const ends: TransactionEnd[] = [];
  let next = 0;
  const reply = (): Reply => {
    const r = g.replies[next++];
    if (!r) throw new Error(`${file}: no reply left after ${JSON.stringify(units)}`);
    return r;
  };
  for (const p of sends) {
    const tx = new ClientTransaction(g.caps, { from: 'a@example.com', to: p.to }, p.options);
    if (p.followed) tx.followedByReset();
    let action = tx.start();
    for (let step = 0; action.type !== 'done'; step++) {
      if (step > 100) throw new Error('no end');
      if (action.type === 'write' || action.type === 'reset') {
        units.push(action.commands.map((c) => Buffer.concat([c.bytes, c.data ?? new Uint8Array(0)]).toString('latin1')).join(''));
      } else if (action.type === 'body') {
        const encoder = new DataEncoder();
        units.push(Buffer.concat([encoder.push(Buffer.from(p.body, 'latin1')), encoder.end()]).toString('latin1'));
      } else if (action.type === 'violation') {
        throw action.error;
      }
      action = tx.receive(reply());
    }
    ends.push(action.outcome.end);
    if (!action.outcome.sessionUsable) break;
  }
  return { g, units, ends, unread: g.replies.length - next };
}

/** True when `writes` is `units` cut into runs of consecutive units (each write joins one or more groups). */
function joinsOf(writes: string[], units: string[]): boolean {
  let u = 0;
  for (const w of writes) {
    let joined = '';
    while (joined.length < w.length && u < units.length) joined += units[u++];
    if (joined !== w) return false;
  }
  return u === units.length;
}

describe("ClientTransaction agrees with the client's golden transcripts", () => {
  it.each(GOLDENS.map((c) => [c.file, c] as const))('%s', (file, c) => {
    const { g, units, ends, unread } = run(file, c.sends);
    expect(units.join('')).toBe(g.writes.join(''));
    if (g.pinned) expect(joinsOf(g.writes, units)).toBe(true);
    expect(ends).toEqual(c.ends);
    expect(unread).toBe(0);
  });
});
