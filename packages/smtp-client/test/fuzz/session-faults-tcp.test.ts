import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { connect } from '../../src/connect.js';
import { startFaultServer, type FaultConnection, type FaultServer } from '../../src/testing.js';
import type { ConnectOptions, Session } from '../../src/types.js';
import { fuzzParams } from './config.js';
import type { Fault } from './faulty-server.js';
import { assertTyped, bounded, DESYNC_KINDS, scenarioArb, TIMEOUTS, trackUnhandledRejections, type Scenario } from './session-harness.js';

// The same invariants as session-faults.test.ts, over real sockets on 127.0.0.1: the fault server
// closes with FIN, resets with RST, stalls, drips and splits at the TCP level, so the node:net
// transport's error paths (ECONNRESET, EPIPE, half-close) are the ones exercised.

trackUnhandledRejections();

let current: Scenario | undefined;
/** Codes the server wrote in answer to the end of a message's data, per run. */
let finals: number[] = [];
/** Set when a fault may have put a reply nobody asked for into the stream (then only weaker checks hold). */
let flags = { unsolicited: false };

async function play(conn: FaultConnection): Promise<void> {
  const sc = current as Scenario;
  // This run's records: a connection of an earlier run that is still winding down writes to its own.
  const myFinals = finals;
  const myFlags = flags;
  const faults = new Map<number, Fault>(sc.faults);
  let index = 0;
  /** Write one reply with the fault planned for it; false when the connection is over. */
  const reply = async (text: string, isFinal = false): Promise<boolean> => {
    const fault = faults.get(index++);
    let wire = `${text}\r\n`;
    if (fault?.type === 'code') wire = wire.replace(/^\d{3}/gm, String(fault.code));
    const delivered = fault?.type !== 'close' && fault?.type !== 'reset' && fault?.type !== 'stall' && fault?.type !== 'garbage';
    // Recorded before writing: the client may read the reply before the server's write callback runs.
    if (isFinal && delivered) myFinals.push(Number(wire.slice(0, 3)));
    switch (fault?.type) {
      case 'close':
        await conn.close();
        return false;
      case 'reset':
        await conn.reset();
        return false;
      case 'stall':
        await conn.waitForClose(3000);
        return false;
      case 'garbage':
        myFlags.unsolicited = true;
        await conn.write(fault.bytes);
        return true;
      case 'split':
        await conn.write(wire, { split: fault.cuts.map((c) => (c % 7) + 1) });
        break;
      case 'drip':
        await conn.write(wire, { split: 'bytewise', intervalMs: 1 });
        break;
      case 'extra':
        myFlags.unsolicited = true;
        await conn.write(Buffer.concat([Buffer.from(wire, 'latin1'), fault.bytes]));
        break;
      case 'late':
        myFlags.unsolicited = true;
        await conn.delay(fault.ms);
        await conn.write(wire);
        break;
      default:
        await conn.write(wire);
    }
    return true;
  };
  const p = sc.profile;
  const ehlo = ['fuzz.example', 'SIZE 10000000', ...(p.pipelining ? ['PIPELINING'] : []), ...(p.chunking ? ['CHUNKING'] : []), ...(p.eightBitMime ? ['8BITMIME'] : []), ...(p.auth ? ['AUTH PLAIN LOGIN'] : [])];
  if (!(await reply('220 fuzz.example ESMTP'))) return;
  for (let n = 0; n < 40; n++) {
    const line = await conn.readLine({ timeoutMs: 3000 });
    const verb = (line.split(' ')[0] ?? '').toUpperCase();
    let ok = true;
    if (verb === 'EHLO') ok = await reply(p.noEhlo ? '502 5.5.1 no EHLO' : ehlo.map((l, i) => `250${i === ehlo.length - 1 ? ' ' : '-'}${l}`).join('\r\n'));
    else if (verb === 'HELO' || verb === 'MAIL' || verb === 'RCPT' || verb === 'RSET' || verb === 'NOOP') ok = await reply('250 2.0.0 ok');
    else if (verb === 'DATA') {
      ok = await reply('354 go ahead');
      if (ok) {
        await conn.readData({ timeoutMs: 3000 });
        ok = await reply('250 2.0.0 queued', true);
      }
    } else if (verb === 'BDAT') {
      const m = /^BDAT (\d+)( LAST)?$/i.exec(line);
      if (!m) ok = await reply('501 5.5.4 bad BDAT');
      else {
        await conn.readBytes(Number(m[1]), { timeoutMs: 3000 });
        ok = await reply('250 2.0.0 ok', m[2] !== undefined);
      }
    } else if (/^AUTH LOGIN$/i.test(line)) {
      ok = (await reply('334 VXNlcm5hbWU6')) && (await conn.readLine({ timeoutMs: 3000 })) !== undefined && (await reply('334 UGFzc3dvcmQ6'));
      if (ok) {
        await conn.readLine({ timeoutMs: 3000 });
        ok = await reply('235 2.7.0 ok');
      }
    } else if (verb === 'AUTH') ok = await reply('235 2.7.0 ok');
    else if (verb === 'QUIT') {
      await reply('221 bye');
      await conn.close();
      return;
    } else ok = await reply('500 5.5.2 what?');
    if (!ok) return;
  }
}

describe('fuzz: client sessions against faulty servers (TCP on 127.0.0.1, fault server)', () => {
  let server: FaultServer;
  beforeAll(async () => {
    server = await startFaultServer(play, { lingerMs: 200, readTimeoutMs: 3000 });
  });
  afterAll(async () => {
    await server.close();
  });

  const params = fuzzParams('session vs faults over TCP', { numRuns: 80 });
  it(
    'faults at random replies over TCP: typed outcome, bounded time, sent only on a final 2xx',
    async () => {
      await fc.assert(
        fc.asyncProperty(scenarioArb, async (sc) => {
          current = sc;
          finals = [];
          flags = { unsolicited: false };
          const options: ConnectOptions = {
            host: server.host,
            port: server.port,
            tls: 'none',
            timeouts: { ...TIMEOUTS, connect: 2000 },
            pipelining: sc.pipelining,
            chunking: sc.chunking,
            ...(sc.login ? { auth: { user: 'alice', pass: 'pw', method: sc.login }, allowInsecureAuth: true } : {}),
          };
          let session: Session;
          try {
            session = await bounded(connect(options), 'connect');
          } catch (err) {
            assertTyped(err, 'connect');
            return;
          }
          for (const m of sc.messages) {
            const before = finals.length;
            try {
              const result = await bounded(session.send({ from: 'a@example.com', to: m.to, data: m.body }), 'send');
              expect(result.reply.code).toBeGreaterThanOrEqual(200);
              expect(result.reply.code).toBeLessThan(300);
              if (!flags.unsolicited) expect(finals.slice(before).at(-1)).toBe(result.reply.code);
            } catch (err) {
              const e = assertTyped(err, 'send');
              if (DESYNC_KINDS.has(e.kind)) expect(session.usable).toBe(false);
              if (!session.usable) break;
            }
          }
          await bounded(session.quit(), 'quit');
        }),
        params,
      );
    },
    params.testTimeout,
  );
});
