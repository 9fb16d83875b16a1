import { createServer, type AddressInfo, type Server } from 'node:net';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { smtpClient } from '../src/lab.js';

const LAB = fileURLToPath(new URL('../dist/lab.js', import.meta.url));

/** A raw TCP server playing the lab dialogue line by line and recording every byte the client sends. */
function labServer(replies: { greeting?: string; afterData?: string } = {}): Promise<{ server: Server; port: number; received: () => string }> {
  const chunks: Buffer[] = [];
  const server = createServer((socket) => {
    socket.write(replies.greeting ?? '220 lab.example ESMTP\r\n');
    let buffered = '';
    let inData = false;
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      buffered += chunk.toString('latin1');
      for (;;) {
        if (inData) {
          const end = buffered.indexOf('\r\n.\r\n');
          if (end < 0) return;
          buffered = buffered.slice(end + 5);
          inData = false;
          socket.write('250 2.0.0 queued\r\n');
          continue;
        }
        const eol = buffered.indexOf('\r\n');
        if (eol < 0) return;
        const line = buffered.slice(0, eol);
        buffered = buffered.slice(eol + 2);
        const verb = line.split(' ')[0]!.toUpperCase();
        if (verb === 'DATA') {
          socket.write(replies.afterData ?? '354 End data with <CR><LF>.<CR><LF>\r\n');
          inData = !replies.afterData;
        } else if (verb === 'QUIT') {
          socket.end('221 2.0.0 Bye\r\n');
        } else {
          socket.write('250 OK\r\n');
        }
      }
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, port: (server.address() as AddressInfo).port, received: () => Buffer.concat(chunks).toString('latin1') }),
    ),
  );
}

const EXPECTED =
  'HELO Alice\r\n' +
  'MAIL FROM:<alice@crepes.fr>\r\n' +
  'RCPT TO:<bob@hamburger.edu>\r\n' +
  'DATA\r\n' +
  '\r\n I love computer networks!' +
  '\r\n.\r\n' +
  'QUIT\r\n';

let open: Server | undefined;
afterEach(() => new Promise<void>((r) => (open ? open.close(() => r()) : r())));

describe('lab client', () => {
  it('puts exactly the lab dialogue on the wire', async () => {
    const s = await labServer();
    open = s.server;
    await smtpClient(s.port, '127.0.0.1');
    expect(s.received()).toBe(EXPECTED);
  });

  it('runs as `node dist/lab.js PORT` and prints nothing', async () => {
    const s = await labServer();
    open = s.server;
    const child = spawn(process.execPath, [LAB, String(s.port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    const code = await new Promise((r) => child.on('close', r));
    expect(code).toBe(0);
    expect(out).toBe('');
    expect(s.received()).toBe(EXPECTED);
  });

  it('rejects, naming the step, when the greeting is not 220', async () => {
    const s = await labServer({ greeting: '554 no service\r\n' });
    open = s.server;
    await expect(smtpClient(s.port)).rejects.toThrow(/220 reply not received/);
  });

  it('rejects when DATA is not answered with 354', async () => {
    const s = await labServer({ afterData: '503 5.5.1 no valid recipients\r\n' });
    open = s.server;
    await expect(smtpClient(s.port)).rejects.toThrow(/354 reply not received .*503/);
  });
});
