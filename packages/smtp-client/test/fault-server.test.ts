import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { generateCertificates, type TestCertificates } from '@smtpkit/testkit';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { reply, scenarios, startFaultServer, type FaultServer } from '../src/testing.js';

/** A raw client socket that collects everything it receives, with bounded waits. */
class RawClient {
  text = '';
  segments: string[] = [];
  closed = false;
  error: (Error & { code?: string }) | undefined;
  private waiters: Array<() => void> = [];

  constructor(public socket: Socket | TLSSocket) {
    this.attach(socket);
  }

  static async open(port: number): Promise<RawClient> {
    const socket = netConnect({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawClient(socket);
  }

  attach(socket: Socket | TLSSocket): void {
    socket.on('data', (chunk: Buffer) => {
      const s = chunk.toString('latin1');
      this.segments.push(s);
      this.text += s;
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', (error) => {
      this.error = error;
      this.wake();
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Waits until `predicate` holds, bounded. */
  async until(predicate: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.text)}`);
      await new Promise<void>((resolve) => {
        // Also poll: some predicates look at server-side state, which sends no event here.
        const timer = setTimeout(resolve, Math.min(left, 10));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits for `text` to have been received in total (from the start of the connection). */
  async receive(text: string, timeoutMs?: number): Promise<void> {
    await this.until(() => this.text.includes(text), JSON.stringify(text), timeoutMs);
  }

  send(text: string): void {
    this.socket.write(text);
  }

  /** Client-side TLS over the current socket. */
  async startTls(ca: string): Promise<TLSSocket> {
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('close');
    const secure = await new Promise<TLSSocket>((resolve, reject) => {
      const s = tlsConnect({ socket: this.socket as Socket, servername: 'localhost', ca });
      s.once('secureConnect', () => resolve(s));
      s.once('error', reject);
    });
    this.socket = secure;
    this.text = '';
    this.segments = [];
    this.attach(secure);
    return secure;
  }
}

let certs: TestCertificates;
let server: FaultServer | undefined;
const clients: RawClient[] = [];

beforeAll(async () => {
  certs = await generateCertificates();
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.socket.destroy();
  await server?.close();
  server = undefined;
});

async function open(port: number): Promise<RawClient> {
  const c = await RawClient.open(port);
  clients.push(c);
  return c;
}

describe('startFaultServer: scripts', () => {
  it('plays a whole happy-path session and records every byte the client sent', async () => {
    server = await startFaultServer(scenarios.happyPath({ pipelining: true, size: 1000 }));
    expect(server.host).toBe('127.0.0.1');
    const c = await open(server.port);
    await c.receive('220 ');
    c.send('EHLO client.test\r\n');
    await c.receive('250 ENHANCEDSTATUSCODES\r\n');
    expect(c.text).toContain('250-fault.test greets you\r\n250-PIPELINING\r\n250-SIZE 1000\r\n');
    c.send('MAIL FROM:<a@client.test>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n');
    await c.receive('354 ');
    c.send('Subject: x\r\n\r\n..dot\r\n.\r\n');
    await c.receive('250 2.0.0 Ok: queued');
    c.send('QUIT\r\n');
    await c.receive('221 ');
    await c.until(() => c.closed, 'close');
    await server.close();
    const [conn] = server.connections;
    expect(conn?.commands).toEqual(['EHLO client.test', 'MAIL FROM:<a@client.test>', 'RCPT TO:<b@example.com>', 'DATA', 'QUIT']);
    expect(conn?.messages.map((m) => m.toString())).toEqual(['Subject: x\r\n\r\n..dot']);
    expect(conn?.scriptError).toBeUndefined();
    expect(server.received().toString()).toBe(
      'EHLO client.test\r\nMAIL FROM:<a@client.test>\r\nRCPT TO:<b@example.com>\r\nDATA\r\nSubject: x\r\n\r\n..dot\r\n.\r\nQUIT\r\n',
    );
  });

  it('accepts an empty DATA payload (a lone dot)', async () => {
    server = await startFaultServer([{ expectData: true }, { send: '250 ok\r\n' }]);
    const c = await open(server.port);
    c.send('.\r\n');
    await c.receive('250 ok');
    expect(server.connections[0]?.messages).toEqual([Buffer.alloc(0)]);
  });

  it('answers 500 and records a script error when a command does not match', async () => {
    server = await startFaultServer([{ expect: /^EHLO /i }, { send: '250 ok\r\n' }]);
    const c = await open(server.port);
    c.send('HELO client.test\r\n');
    await c.receive('500 5.5.1 fault server: unexpected command\r\n');
    await c.until(() => c.closed, 'close');
    await server.connections[0]?.done;
    expect(server.connections[0]?.scriptError?.message).toBe('expected a command matching /^EHLO /i, got "HELO client.test"');
  });

  it('ends a read after its timeout and records it', async () => {
    server = await startFaultServer([{ expect: 'EHLO', timeoutMs: 100 }]);
    const c = await open(server.port);
    await c.until(() => c.closed, 'close');
    await server.connections[0]?.done;
    expect(server.connections[0]?.scriptError?.message).toBe('no command line from the client within the read timeout');
  });

  it('bounds command lines', async () => {
    server = await startFaultServer(async (conn) => {
      await conn.readLine({ maxBytes: 10 });
    });
    const c = await open(server.port);
    c.send('x'.repeat(100));
    await c.until(() => c.closed, 'close');
    await server.connections[0]?.done;
    expect(server.connections[0]?.scriptError?.message).toBe('command line longer than 10 bytes');
  });

  it('records bare-LF lines as commands and keeps the exact bytes', async () => {
    server = await startFaultServer([{ expect: /^EHLO/ }, { send: '250 ok\r\n' }]);
    const c = await open(server.port);
    c.send('EHLO bare\n');
    await c.receive('250 ok');
    expect(server.connections[0]?.commands).toEqual(['EHLO bare']);
    expect(server.received().toString()).toBe('EHLO bare\n');
  });

  it('sends strings as UTF-8 and decodes command lines as UTF-8', async () => {
    server = await startFaultServer([{ send: '220 grüße\r\n' }, { expect: /^RCPT TO:<jörg@example\.com>$/ }, { send: '250 ok\r\n' }]);
    const c = await open(server.port);
    await c.receive('\r\n');
    expect(Buffer.from(c.text, 'latin1')).toEqual(Buffer.from('220 grüße\r\n', 'utf8'));
    c.socket.write(Buffer.from('RCPT TO:<jörg@example.com>\r\n', 'utf8'));
    await c.receive('250 ok');
    expect(server.connections[0]?.commands).toEqual(['RCPT TO:<jörg@example.com>']);
  });

  it('runs each connection through the script from the start and keeps their bytes apart', async () => {
    server = await startFaultServer([{ send: '220 hi\r\n' }, { expect: 'NOOP' }, { send: '250 ok\r\n' }]);
    const a = await open(server.port);
    const b = await open(server.port);
    await a.receive('220 hi');
    await b.receive('220 hi');
    a.send('NOOP\r\n');
    await a.receive('250 ok');
    b.send('NOOP a second time\r\n');
    await b.receive('250 ok');
    const conns = await server.waitForConnections(2);
    expect(conns.map((c) => c.index)).toEqual([0, 1]);
    expect(conns.map((c) => c.received.toString()).sort()).toEqual(['NOOP\r\n', 'NOOP a second time\r\n']);
  });
});

describe('startFaultServer: timing and segmentation', () => {
  it("splits a reply 'bytewise' into one-byte segments", async () => {
    const ehlo = reply(250, ['fault.test', 'PIPELINING', 'SIZE 10']);
    server = await startFaultServer([{ send: ehlo, split: 'bytewise' }]);
    const c = await open(server.port);
    await c.receive(ehlo);
    // Each write is flushed before the next and spaced by 1 ms, so the client sees many
    // segments; how many exactly is up to the kernel, so only a lower bound is asserted.
    expect(c.text).toBe(ehlo);
    expect(c.segments.length).toBeGreaterThan(1);
  });

  it('splits a reply at the given segment sizes', async () => {
    server = await startFaultServer([{ send: '250 one\r\n250 two\r\n', split: [3, 5], intervalMs: 30 }]);
    const c = await open(server.port);
    await c.receive('250 two\r\n');
    expect(c.segments).toEqual(['250', ' one\r', '\n250 two\r\n']);
  });

  it('drips one byte per interval', async () => {
    server = await startFaultServer([{ drip: '220 slow\r\n', intervalMs: 20 }]);
    const c = await open(server.port);
    await c.receive('220 slow\r\n');
    expect(c.segments).toEqual(['2', '2', '0', ' ', 's', 'l', 'o', 'w', '\r', '\n']);
  });

  it('waits before a send and stalls until the client leaves', async () => {
    server = await startFaultServer([{ send: '220 late\r\n', delayMs: 50 }, { expect: 'DATA' }, { stall: true }]);
    const c = await open(server.port);
    await c.receive('220 late');
    c.send('DATA\r\n');
    await server.waitForConnections(1);
    await c.until(() => server!.connections[0]!.commands.length === 1, 'the DATA line to be read');
    c.socket.end();
    await server.connections[0]?.done;
    expect(c.text).toBe('220 late\r\n');
    expect(server.connections[0]?.clientClosed).toBe(true);
    expect(server.connections[0]?.scriptError).toBeUndefined();
  });

  it('stops reading when a stall says reading: false, so the client\'s writes back up', async () => {
    server = await startFaultServer([{ stall: true, reading: false }]);
    const c = await open(server.port);
    await server.waitForConnections(1);
    const total = 32 * 1024 * 1024;
    const flushed = c.socket.write(Buffer.alloc(total, 0x61));
    expect(flushed).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(c.socket.writableLength).toBeGreaterThan(0);
    expect(server.received().length).toBeLessThan(total);
  });

  it('closes stalled connections on close()', async () => {
    server = await startFaultServer([{ stall: true }]);
    const c = await open(server.port);
    await server.waitForConnections(1);
    await server.close();
    await c.until(() => c.closed, 'close');
    await server.connections[0]?.done;
  });
});

describe('startFaultServer: faults', () => {
  it('closes the connection (FIN)', async () => {
    server = await startFaultServer([{ send: '421 4.3.2 bye\r\n' }, { close: true }]);
    const c = await open(server.port);
    await c.until(() => c.closed, 'close');
    expect(c.text).toBe('421 4.3.2 bye\r\n');
    expect(c.error).toBeUndefined();
  });

  it('resets the connection (RST)', async () => {
    server = await startFaultServer([{ send: '220 hi\r\n' }, { expect: 'EHLO' }, { reset: true }]);
    const c = await open(server.port);
    await c.receive('220 hi');
    c.send('EHLO x\r\n');
    await c.until(() => c.closed, 'close');
    expect(c.error?.code).toBe('ECONNRESET');
  });
});

describe('startFaultServer: TLS', () => {
  it('upgrades after STARTTLS and records plaintext and TLS bytes apart', async () => {
    server = await startFaultServer(
      [...scenarios.plainGreeting(), ...scenarios.ehlo({ starttls: true }), ...scenarios.startTls(), { expect: 'QUIT' }, { send: '221 bye\r\n' }],
      { tls: { key: certs.key, cert: certs.cert } },
    );
    const c = await open(server.port);
    await c.receive('220 ');
    c.send('EHLO client.test\r\n');
    await c.receive('250 ENHANCEDSTATUSCODES\r\n');
    expect(c.text).toContain('250-STARTTLS\r\n');
    c.send('STARTTLS\r\n');
    await c.receive('220 2.0.0 Ready to start TLS\r\n');
    const secure = await c.startTls(certs.caCert);
    expect(secure.authorized).toBe(true);
    c.send('EHLO client.test\r\n');
    await c.receive('250 ENHANCEDSTATUSCODES\r\n');
    expect(c.text).not.toContain('STARTTLS');
    c.send('QUIT\r\n');
    await c.receive('221 bye');
    const conn = server.connections[0]!;
    expect(conn.tls).toBe(true);
    expect(conn.chunks.filter((x) => !x.tls).map((x) => x.data.toString()).join('')).toBe('EHLO client.test\r\nSTARTTLS\r\n');
    expect(conn.chunks.filter((x) => x.tls).map((x) => x.data.toString()).join('')).toBe('EHLO client.test\r\nQUIT\r\n');
    expect(conn.discardedBeforeTls.length).toBe(0);
  });

  it('sends injected plaintext in the same segment as the 220, and drops plaintext pipelined after STARTTLS', async () => {
    server = await startFaultServer([{ expect: 'STARTTLS' }, { upgradeTls: true, reply: '220 go ahead\r\n', injectPlaintext: '250 injected\r\n' }], {
      tls: { key: certs.key, cert: certs.cert },
    });
    const c = await open(server.port);
    c.send('STARTTLS\r\nMAIL FROM:<smuggled@x>\r\n');
    await c.receive('250 injected\r\n');
    expect(c.segments).toEqual(['220 go ahead\r\n250 injected\r\n']);
    await c.startTls(certs.caCert);
    await server.waitForConnections(1);
    await c.until(() => server!.connections[0]!.tls, 'the server-side handshake');
    expect(server.connections[0]?.discardedBeforeTls.toString()).toBe('MAIL FROM:<smuggled@x>\r\n');
    expect(server.connections[0]?.commands).toEqual(['STARTTLS']);
  });

  it('records a handshake the client refused (self-signed certificate)', async () => {
    server = await startFaultServer([{ expect: 'STARTTLS' }, { upgradeTls: true }], {
      tls: { key: certs.selfSigned.key, cert: certs.selfSigned.cert },
    });
    const c = await open(server.port);
    c.send('STARTTLS\r\n');
    await c.receive('220 ');
    await expect(c.startTls(certs.caCert)).rejects.toThrow(/self.signed/);
    const conn = server.connections[0]!;
    await conn.done;
    expect(conn.tls).toBe(false);
    expect(conn.tlsError).toBeInstanceOf(Error);
  });

  it('speaks TLS from the first byte with implicitTls', async () => {
    server = await startFaultServer([...scenarios.plainGreeting(), { expect: 'NOOP' }, { send: '250 ok\r\n' }], {
      tls: { key: certs.key, cert: certs.cert },
      implicitTls: true,
    });
    const socket = tlsConnect({ port: server.port, host: '127.0.0.1', servername: 'localhost', ca: certs.caCert });
    const c = new RawClient(socket);
    clients.push(c);
    await c.receive('220 fault.test');
    expect(socket.authorized).toBe(true);
    c.send('NOOP\r\n');
    await c.receive('250 ok');
    expect(server.connections[0]?.tls).toBe(true);
    expect(server.connections[0]?.chunks.every((x) => x.tls)).toBe(true);
  });

  it('resets a TLS connection at the TCP level', async () => {
    server = await startFaultServer([{ reset: true }], { tls: { key: certs.key, cert: certs.cert }, implicitTls: true });
    const socket = tlsConnect({ port: server.port, host: '127.0.0.1', servername: 'localhost', ca: certs.caCert });
    const c = new RawClient(socket);
    clients.push(c);
    await c.until(() => c.closed, 'close');
    expect(c.error?.code).toBe('ECONNRESET');
  });

  it('refuses implicitTls without a certificate', async () => {
    await expect(startFaultServer([], { implicitTls: true })).rejects.toThrow('implicitTls needs tls');
  });
});

describe('startFaultServer: answerRemaining', () => {
  it('answers RSET/NOOP with 250, unknown commands with 503, and QUIT with 221 and a close', async () => {
    server = await startFaultServer([{ send: '220 hi\r\n' }, { answerRemaining: true }]);
    const c = await open(server.port);
    await c.receive('220 hi\r\n');
    c.send('RSET\r\n');
    await c.receive('250 2.0.0 Ok\r\n');
    c.send('MAIL FROM:<a@b>\r\n');
    await c.receive('503 5.5.1');
    c.send('NOOP\r\nQUIT\r\n');
    await c.receive('221 2.0.0 Bye\r\n');
    await c.until(() => c.closed, 'close');
    expect(c.text).toBe('220 hi\r\n250 2.0.0 Ok\r\n503 5.5.1 Error: bad sequence of commands\r\n250 2.0.0 Ok\r\n221 2.0.0 Bye\r\n');
    await server.connections[0]?.done;
    expect(server.connections[0]?.commands).toEqual(['RSET', 'MAIL FROM:<a@b>', 'NOOP', 'QUIT']);
    expect(server.connections[0]?.scriptError).toBeUndefined();
  });
});

describe('startFaultServer: programmatic scripts', () => {
  it('hands the connection to an async function (BDAT example)', async () => {
    server = await startFaultServer(async (conn) => {
      await conn.write('220 code\r\n');
      const line = await conn.readLine();
      const size = Number(/^BDAT (\d+) LAST$/i.exec(line)?.[1]);
      const chunk = await conn.readBytes(size);
      await conn.write(`250 got ${chunk.length} bytes: ${chunk.toString()}\r\n`, { split: [4] });
      await conn.close();
    });
    const c = await open(server.port);
    await c.receive('220 code');
    c.send('BDAT 5 LAST\r\nhello');
    await c.receive('250 got 5 bytes: hello\r\n');
    await c.until(() => c.closed, 'close');
    expect(server.connections[0]?.commands).toEqual(['BDAT 5 LAST']);
  });
});
