import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../src/index.js';
import { startRawServer, type RawServer } from './helpers/raw-server.js';

let server: RawServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const CHUNK = 64 * 1024;
const TOTAL_CHUNKS = 512; // 32 MiB

/** A body produced on demand, with a record of how far ahead of the server the client pulled it. */
function body(stats: { pulled: number }) {
  const line = Buffer.from(`${'x'.repeat(78)}\r\n`);
  const chunk = Buffer.alloc(CHUNK);
  for (let i = 0; i < CHUNK; i += line.length) line.copy(chunk, i, 0, Math.min(line.length, CHUNK - i));
  // Keep every chunk a whole number of lines so the DATA line limit holds.
  const whole = chunk.subarray(0, CHUNK - (CHUNK % line.length));
  return {
    size: whole.length * TOTAL_CHUNKS,
    async *[Symbol.asyncIterator]() {
      for (let i = 0; i < TOTAL_CHUNKS; i++) {
        stats.pulled += whole.length;
        yield whole;
      }
    },
  };
}

describe('backpressure', () => {
  it('a body larger than every buffer is pulled only as fast as the server reads it', async () => {
    let serverRead = 0;
    let maxLead = 0;
    const stats = { pulled: 0 };
    server = await startRawServer(async (c) => {
      c.send('220 slow.test ESMTP\r\n');
      await c.waitFor(/EHLO/);
      c.send('250 slow.test\r\n');
      await c.waitFor(/MAIL FROM/);
      c.send('250 ok\r\n');
      await c.waitFor(/RCPT TO/);
      c.send('250 ok\r\n');
      await c.waitFor(/DATA\r\n/);
      c.send('354 go\r\n');
      // Read in small sips: pause, resume, pause… while the client keeps writing.
      c.socket.removeAllListeners('data');
      let tail = '';
      c.socket.on('data', (d: Buffer) => {
        serverRead += d.length;
        maxLead = Math.max(maxLead, stats.pulled - serverRead);
        tail = (tail + d.toString('latin1')).slice(-5);
        c.socket.pause();
        setImmediate(() => c.socket.resume());
        if (tail === '\r\n.\r\n') c.send('250 queued\r\n');
      });
      await c.closed;
    });
    const s = await connect({ host: '127.0.0.1', port: server.port, tls: 'none' });
    const data = body(stats);
    const r = await s.send({ from: 'a@example.com', to: ['b@example.net'], data });
    expect(r.bytes).toBe(data.size);
    expect(stats.pulled).toBe(data.size);
    // Socket buffers on both sides hold a few MiB at most; the rest waited for 'drain'.
    expect(maxLead).toBeLessThan(data.size / 2);
    s.destroy();
  }, 60_000);
});
