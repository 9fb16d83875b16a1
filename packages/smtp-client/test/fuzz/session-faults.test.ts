import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { handshake, resolveConnectOptions } from '../../src/connect.js';
import type { ConnectOptions, SendResult, Session } from '../../src/types.js';
import { fuzzParams } from './config.js';
import { FaultyServer, ResettableTransport } from './faulty-server.js';
import {
  assertTyped,
  bodyArb,
  bounded,
  DESYNC_KINDS,
  scenarioArb,
  TIMEOUTS,
  trackUnhandledRejections,
  wroteEndOfData,
  type Scenario,
} from './session-harness.js';

// Invariants of a session against any server behaviour (RFC 5321 §4.5.3.2 timeouts; aiosmtplib 5.1.2
// "a read timeout now closes the connection instead of leaving it in a desynced state"):
//  1. every call ends — in a result or a typed SmtpError — within its timeouts: nothing hangs;
//  2. nothing untyped is thrown and no promise rejection goes unhandled;
//  3. a send resolves only on a final 2xx to the end of its data;
//  4. after a timeout, a lost connection or a protocol error the session is unusable (no desync).

trackUnhandledRejections();

async function runScenario(sc: Scenario): Promise<void> {
  const server = new FaultyServer(sc.profile, new Map(sc.faults));
  const options: ConnectOptions = {
    host: 'mx.fuzz.example',
    tls: 'none',
    timeouts: TIMEOUTS,
    pipelining: sc.pipelining,
    chunking: sc.chunking,
    ...(sc.login ? { auth: { user: 'alice', pass: 'pw', method: sc.login }, allowInsecureAuth: true } : {}),
  };
  try {
    let session: Session;
    try {
      session = await bounded(handshake(server.transport, options, resolveConnectOptions(options), null), 'handshake');
    } catch (err) {
      assertTyped(err, 'handshake');
      expect(server.transport.destroyed || server.transport.writes.length >= 0).toBe(true);
      return;
    }
    for (const m of sc.messages) {
      const finalsBefore = server.finalCodes.length;
      let result: SendResult;
      try {
        result = await bounded(session.send({ from: 'a@example.com', to: m.to, data: m.body }), 'send');
      } catch (err) {
        const e = assertTyped(err, 'send');
        if (DESYNC_KINDS.has(e.kind)) expect(session.usable, `session still usable after ${e.kind}: ${e.message}`).toBe(false);
        if (!session.usable) break;
        continue;
      }
      // Invariant 3: a result only after the end of data went out and a 2xx came back for it.
      expect(result.reply.code).toBeGreaterThanOrEqual(200);
      expect(result.reply.code).toBeLessThan(300);
      expect(wroteEndOfData(server.transport.written)).toBe(true);
      if (!server.unsolicited) {
        const finals = server.finalCodes.slice(finalsBefore);
        expect(finals.length, 'a send resolved although the server never answered the end of its data').toBeGreaterThan(0);
        expect(finals.at(-1), 'a send resolved although the final reply to its data was not 2xx').toBe(result.reply.code);
      }
      expect(result.accepted.length).toBeGreaterThan(0);
    }
    // quit() never throws and always ends.
    await bounded(session.quit(), 'quit');
    expect(session.usable).toBe(false);
  } finally {
    server.dispose();
  }
}

/** The server ignores the protocol and answers each client write with bytes from the script. */
async function runRandomStream(chunks: Array<Uint8Array | 'close' | 'reset' | 'silence'>, body: string): Promise<void> {
  const t = new ResettableTransport();
  let i = 0;
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const next = () => {
    const c = chunks[i++];
    if (c === undefined || c === 'silence') return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (t.destroyed) return;
      if (c === 'close') t.close();
      else if (c === 'reset') t.reset();
      else t.push(c);
    }, 0);
    timers.add(timer);
  };
  t.onWrite = () => next();
  next(); // the "greeting"
  const options: ConnectOptions = { host: 'mx.fuzz.example', tls: 'opportunistic', timeouts: TIMEOUTS };
  try {
    const session = await bounded(handshake(t, options, resolveConnectOptions(options), null), 'handshake');
    try {
      const result = await bounded(session.send({ from: 'a@example.com', to: ['b@example.net'], data: body }), 'send');
      expect(result.reply.code).toBeGreaterThanOrEqual(200);
      expect(result.reply.code).toBeLessThan(300);
      expect(wroteEndOfData(t.written)).toBe(true);
    } catch (err) {
      const e = assertTyped(err, 'send');
      if (DESYNC_KINDS.has(e.kind)) expect(session.usable).toBe(false);
    }
    await bounded(session.quit(), 'quit');
  } catch (err) {
    assertTyped(err, 'handshake');
  } finally {
    for (const timer of timers) clearTimeout(timer);
  }
}

/** Server byte streams: fragments of real replies mixed with random bytes. */
const streamChunkArb: fc.Arbitrary<Uint8Array | 'close' | 'reset' | 'silence'> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('220 hi\r\n', '250 ok\r\n', '250-x\r\n250 PIPELINING\r\n', '250-x\r\n250-CHUNKING\r\n250 STARTTLS\r\n', '354 go\r\n', '221 bye\r\n', '421 4.3.2 shutting down\r\n', '550 5.1.1 no\r\n', '334 VXNlcm5hbWU6\r\n').map((s) => Buffer.from(s)) },
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 300 }) },
  { weight: 2, arbitrary: fc.string({ unit: fc.constantFrom('2', '5', '0', '-', ' ', '\r', '\n', 'a', '\0'), maxLength: 40 }).map((s) => Buffer.from(s, 'latin1')) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 9000 }).map((n) => Buffer.from(`250-${'x'.repeat(n)}\r\n`)) },
  { weight: 1, arbitrary: fc.constantFrom<'close' | 'reset' | 'silence'>('close', 'reset', 'silence') },
);

describe('fuzz: client sessions against faulty servers (in-memory transport)', () => {
  const p1 = fuzzParams('session vs faults at random replies', { numRuns: 150 });
  it(
    'a mostly correct server with faults at random replies: typed outcome, bounded time, sent only on a final 2xx',
    async () => {
      await fc.assert(fc.asyncProperty(scenarioArb, runScenario), p1);
    },
    p1.testTimeout,
  );

  const p2 = fuzzParams('session vs random server byte streams', { numRuns: 150 });
  it(
    'random server byte streams: typed outcome, bounded time, sent only after the end of data',
    async () => {
      await fc.assert(fc.asyncProperty(fc.array(streamChunkArb, { maxLength: 14 }), bodyArb, runRandomStream), p2);
    },
    p2.testTimeout,
  );
});
