import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseEhlo } from '../src/capabilities.js';
import { ClientTransaction } from '../src/client-transaction.js';
import { planTransaction } from '../src/pipelining.js';
import { parseReply } from '../src/reply-parser.js';
import type { TransactionOptions } from '../src/transaction-outcome.js';
import { fcParams } from './support.js';
import { drive } from './transaction-driver.js';

// Properties of ClientTransaction against a model server that follows the RFCs but answers each command as the
// generated decisions say: whatever it says, the client never leaves a transaction open, never sends data
// before 354, and reports every recipient as the server answered it.

const RCPT_REPLIES = ['250 2.1.5 Ok', '251 2.1.5 Will forward', '252 2.1.5 Will try', '550 5.1.1 Unknown', '451 4.3.0 Later', '452 4.5.3 Too many'];

const scenario = fc.record({
  pipelining: fc.boolean(),
  chunking: fc.boolean(),
  recipients: fc.integer({ min: 1, max: 5 }),
  mail: fc.constantFrom('250 2.1.0 Ok', '550 5.7.1 No', '451 4.3.0 Later'),
  rcpt: fc.array(fc.constantFrom(...RCPT_REPLIES), { minLength: 5, maxLength: 5 }),
  data: fc.constantFrom('354 Go ahead', '451 4.3.0 Later', '554 5.5.1 No'),
  final: fc.array(fc.constantFrom('250 2.0.0 Ok', '554 5.7.1 Spam', '452 4.2.2 Full'), { minLength: 5, maxLength: 5 }),
  chunk: fc.constantFrom('250 2.0.0 Ok', '552 5.3.4 Too big'),
  /** After how many replies the server says 421 instead (beyond the end: never). */
  closeAt: fc.integer({ min: 0, max: 40 }),
  allOrNothing: fc.boolean(),
  stopAfter: fc.constantFrom(undefined, 'mail' as const, 'rcpt' as const),
  lmtp: fc.boolean(),
  resetFirst: fc.boolean(),
  bodyInGroup: fc.constantFrom('none', 'whole', 'first'),
});

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

/** The model server: answers lines as `s` decides, and keeps the state the properties look at. */
function modelServer(s: Scenario) {
  const state = { open: false, accepted: 0, replies: 0, gotData: false, dataBefore354: false, closed: false, rcptIndex: 0, rcptAnswers: [] as string[] };
  let go = false;
  let pendingBdatLast: boolean | undefined;
  const say = (...replies: string[]): string[] => {
    const out: string[] = [];
    for (const r of replies) {
      if (state.closed) break;
      if (state.replies++ === s.closeAt) {
        state.closed = true;
        out.push('421 4.3.2 Closing');
        break;
      }
      out.push(r);
    }
    return out;
  };
  const finals = (): string[] => (s.lmtp ? s.final.slice(0, Math.max(state.accepted, 1)) : [s.final[0] as string]);
  const endMessage = (): string[] => {
    const out = state.accepted > 0 && state.open ? say(...finals()) : say('554 5.5.1 No valid recipients');
    state.open = false;
    state.accepted = 0;
    return out;
  };
  const answer = (line: string): string[] => {
    if (line === 'RSET') {
      state.open = false;
      state.accepted = 0;
      return say('250 2.0.0 Ok');
    }
    if (line.startsWith('MAIL')) {
      state.open = s.mail.startsWith('250');
      state.rcptIndex = 0;
      return say(s.mail);
    }
    if (line.startsWith('RCPT')) {
      const r = state.open ? (s.rcpt[state.rcptIndex] as string) : '503 5.5.1 Need MAIL';
      state.rcptAnswers[state.rcptIndex++] = r;
      if (r.startsWith('2')) state.accepted++;
      return say(r);
    }
    if (line === 'DATA') {
      go = state.open && state.accepted > 0 && s.data.startsWith('354');
      return say(go ? s.data : state.accepted > 0 ? s.data : '554 5.5.1 No valid recipients');
    }
    if (line === '<message>') {
      if (!go) state.dataBefore354 = true;
      go = false;
      return endMessage();
    }
    if (line.startsWith('BDAT')) {
      pendingBdatLast = line.endsWith('LAST');
      return [];
    }
    if (line.startsWith('<chunk')) {
      const last = pendingBdatLast;
      pendingBdatLast = undefined;
      if (!(state.open && state.accepted > 0)) return say('554 5.5.1 No valid recipients');
      if (last && s.chunk.startsWith('250')) return endMessage();
      if (last) {
        // RFC 2033 §4.2: an LMTP server answers the end of data once per accepted recipient, refusals included.
        const n = s.lmtp ? state.accepted : 1;
        state.open = false;
        state.accepted = 0;
        return say(...Array.from({ length: n }, () => s.chunk));
      }
      return say(s.chunk);
    }
    throw new Error(`model server: unexpected line ${line}`);
  };
  return { state, answer };
}

function options(s: Scenario): TransactionOptions {
  const bdat = s.chunking;
  const o: TransactionOptions = { body: bdat ? 'BDAT' : 'DATA', allOrNothing: s.allOrNothing, lmtp: s.lmtp, resetFirst: s.resetFirst };
  if (s.stopAfter) o.stopAfter = s.stopAfter;
  if (bdat && s.bodyInGroup === 'whole') o.wholeBody = new Uint8Array(7);
  if (bdat && s.bodyInGroup === 'first') o.firstChunk = new Uint8Array(3);
  return o;
}

describe('ClientTransaction against a model server (fast-check)', () => {
  it('ends every transaction cleanly and reports each recipient as the server answered', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const keywords = ['mx.example.net', ...(s.pipelining ? ['PIPELINING'] : []), ...(s.chunking ? ['CHUNKING'] : []), 'ENHANCEDSTATUSCODES'];
        const caps = parseEhlo(parseReply(keywords.map((k, i) => `250${i === keywords.length - 1 ? ' ' : '-'}${k}\r\n`).join('')));
        const to = Array.from({ length: s.recipients }, (_, i) => `r${i}@example.net`);
        const tx = new ClientTransaction(caps, { from: 'a@example.com', to }, options(s));
        const server = modelServer(s);
        const r = drive(tx, { answer: server.answer }, { bdatChunks: [4, 2] });
        // A conforming server never makes the client see a violation.
        expect(r.violation).toBeUndefined();
        const outcome = r.outcome!;
        if (server.state.closed) {
          expect(outcome.end).toBe('closing');
          return;
        }
        expect(outcome.sessionUsable).toBe(true);
        // Nothing is left open on the server, and no DATA body went before 354.
        expect(server.state.open).toBe(false);
        expect(server.state.dataBefore354).toBe(false);
        // Without PIPELINING: one command per write (a BDAT command and its data count as one).
        if (!s.pipelining) for (const w of r.writes) expect(w.filter((l) => !l.startsWith('<')).length).toBeLessThanOrEqual(1);
        // Each asked recipient as the server answered: 2yz accepted; 452 / 4.5.3 after an acceptance deferred.
        let acceptedBefore = 0;
        let deferring = false;
        outcome.recipients.forEach((rec, i) => {
          const said = server.state.rcptAnswers[i];
          if (said === undefined) {
            expect(['unsent', 'deferred']).toContain(rec.status);
            if (rec.status === 'deferred') expect(deferring).toBe(true);
            return;
          }
          if (said.startsWith('2')) acceptedBefore++;
          const overLimit = !said.startsWith('2') && acceptedBefore > 0 && said.startsWith('452');
          deferring ||= overLimit;
          if (!s.lmtp || outcome.end !== 'sent') {
            const want = said.startsWith('2') ? 'accepted' : overLimit ? 'deferred' : 'refused';
            if (!(s.lmtp && said.startsWith('2'))) expect(rec.status).toBe(want);
          }
        });
        const accepted = outcome.recipients.filter((x) => x.status === 'accepted').length;
        if (outcome.end === 'sent') {
          expect(accepted).toBeGreaterThan(0);
          expect(s.stopAfter).toBeUndefined();
          // All-or-nothing is about the envelope: every RCPT was accepted (LMTP may still refuse one after the data).
          if (s.allOrNothing) expect(server.state.rcptAnswers.filter((x) => x.startsWith('2'))).toHaveLength(s.recipients);
        }
        if (s.stopAfter) {
          expect(['checked', 'mail-refused']).toContain(outcome.end);
          expect(r.lines.some((l) => l === 'DATA' || l.startsWith('BDAT') || l.startsWith('<'))).toBe(false);
        }
        // Every reply the server gave was read, and no more.
        expect(r.unread).toBe(0);
      }),
      { ...fcParams('ClientTransaction against a model server', 500), interruptAfterTimeLimit: 20_000 },
    );
  });
});

describe('ClientTransaction and planTransaction', () => {
  it('with every reply positive, the machine writes exactly the groups planTransaction plans', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.boolean(), fc.integer({ min: 1, max: 6 }), (pipelining, useBdat, recipients) => {
        const keywords = ['mx.example.net', ...(pipelining ? ['PIPELINING'] : []), 'CHUNKING'];
        const caps = parseEhlo(parseReply(keywords.map((k, i) => `250${i === keywords.length - 1 ? ' ' : '-'}${k}\r\n`).join('')));
        const envelope = { from: 'a@example.com', to: Array.from({ length: recipients }, (_, i) => `r${i}@example.net`) };
        const plan = planTransaction(caps, envelope, { useBdat, smtputf8: false });
        const tx = new ClientTransaction(caps, envelope, { body: useBdat ? 'BDAT' : 'DATA' });
        const r = drive(tx, { answer: (line) => (line === 'DATA' ? ['354 Go'] : line.startsWith('BDAT') ? [] : ['250 Ok']) });
        expect(r.outcome?.end).toBe('sent');
        const envelopeWrites = r.writes.filter((w) => !w[0]?.startsWith('<') && !w[0]?.startsWith('BDAT'));
        expect(envelopeWrites).toEqual(plan.groups.map((g) => g.map((c) => c.logText)));
      }),
      fcParams('ClientTransaction writes planTransaction groups', 100),
    );
  });
});
