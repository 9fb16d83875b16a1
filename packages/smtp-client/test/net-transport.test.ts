import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { openNetTransport, type NetTransport } from '../src/net-transport.js';
import { Transcript } from '../src/transcript.js';

let server: Server | undefined;
let transport: NetTransport | undefined;
afterEach(async () => {
  transport?.destroy();
  transport = undefined;
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** A loopback server that runs `script` on its one connection; resolves with the port. */
async function serve(script: (socket: Socket) => void): Promise<number> {
  const s = createServer(script);
  server = s;
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return (s.address() as { port: number }).port;
}

const never = new AbortController().signal;

describe('NetTransport reads', () => {
  it('holds a bounded number of unread chunks, pauses the socket, and loses and reorders nothing', async () => {
    const chunks = 300;
    const port = await serve((socket) => {
      // One chunk per write, each after the previous one left: they arrive as separate reads.
      let i = 0;
      const next = (): void => {
        if (i === chunks) return void socket.end();
        socket.write(`${String(i++).padStart(4, '0')};`, () => setTimeout(next, 1));
      };
      next();
    });
    transport = await openNetTransport({ host: '127.0.0.1', port }, never, new Transcript());
    // Nobody reads until the sender had time to send everything it could.
    await new Promise((r) => setTimeout(r, 1500));
    expect(transport.bufferedChunks).toBeGreaterThan(0);
    expect(transport.bufferedChunks).toBeLessThanOrEqual(64);
    let text = '';
    for (let reads = 0; reads < chunks * 2; reads++) {
      const chunk = await transport.read(never);
      if (chunk === null) break;
      text += Buffer.from(chunk).toString('latin1');
    }
    expect(text).toBe(Array.from({ length: chunks }, (_, i) => `${String(i).padStart(4, '0')};`).join(''));
  });

  it('a chunk handed out stays as it was while later data arrives', async () => {
    const port = await serve((socket) => {
      socket.write('first\r\n', () => setTimeout(() => socket.end('second\r\n'), 20));
    });
    transport = await openNetTransport({ host: '127.0.0.1', port }, never, new Transcript());
    const first = await transport.read(never);
    const rest: string[] = [];
    for (let chunk = await transport.read(never); chunk !== null; chunk = await transport.read(never)) {
      rest.push(Buffer.from(chunk).toString('latin1'));
    }
    expect(Buffer.from(first as Uint8Array).toString('latin1')).toBe('first\r\n');
    expect(rest.join('')).toBe('second\r\n');
  });
});
