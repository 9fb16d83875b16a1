// A tiny raw-socket SMTP speaker for these tests: the client package is not used here, so a
// server problem cannot hide behind a client problem.
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { expect } from 'vitest';

export interface RawReply {
  code: number;
  lines: string[];
}

export class Dialogue {
  private buffer = '';
  private waiters: Array<() => void> = [];
  private closed = false;

  private constructor(private socket: Socket | TLSSocket) {
    this.attach();
  }

  static open(port: number): Promise<Dialogue> {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ port, host: '127.0.0.1' });
      socket.once('connect', () => resolve(new Dialogue(socket)));
      socket.once('error', reject);
    });
  }

  /** Connects to a Unix-domain socket (LMTP). */
  static openUnix(path: string): Promise<Dialogue> {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ path });
      socket.once('connect', () => resolve(new Dialogue(socket)));
      socket.once('error', reject);
    });
  }

  /** Connects with implicit TLS (RFC 8314), verifying against `ca` as `localhost`. */
  static openTls(port: number, ca: string): Promise<Dialogue> {
    return new Promise((resolve, reject) => {
      const socket = tlsConnect({ port, host: '127.0.0.1', servername: 'localhost', ca });
      socket.once('secureConnect', () => resolve(new Dialogue(socket)));
      socket.once('error', reject);
    });
  }

  private attach(): void {
    this.socket.setEncoding('latin1');
    this.socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      this.wake();
    });
    this.socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    this.socket.on('error', () => undefined);
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Reads one (possibly multi-line) reply, bounded by timeoutMs. */
  async reply(timeoutMs = 5000): Promise<RawReply> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const lines: string[] = [];
      let offset = 0;
      for (;;) {
        const end = this.buffer.indexOf('\r\n', offset);
        if (end === -1) break;
        const line = this.buffer.slice(offset, end);
        offset = end + 2;
        lines.push(line);
        if (line[3] !== '-') {
          this.buffer = this.buffer.slice(offset);
          return { code: Number(line.slice(0, 3)), lines: lines.map((l) => l.slice(4)) };
        }
      }
      if (this.closed) throw new Error(`connection closed while waiting for a reply (had ${JSON.stringify(this.buffer)})`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no complete reply within ${timeoutMs} ms (had ${JSON.stringify(this.buffer)})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Sends one command line and reads its reply. */
  async command(line: string): Promise<RawReply> {
    this.socket.write(line + '\r\n');
    return this.reply();
  }

  write(text: string): void {
    this.socket.write(text);
  }

  /** Upgrades to TLS after a 220 to STARTTLS, verifying against `ca` as `localhost`. */
  async startTls(ca: string): Promise<TLSSocket> {
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('close');
    const secure = await new Promise<TLSSocket>((resolve, reject) => {
      const s = tlsConnect({ socket: this.socket as Socket, servername: 'localhost', ca });
      s.once('secureConnect', () => resolve(s));
      s.once('error', reject);
    });
    this.socket = secure;
    this.buffer = '';
    this.attach();
    return secure;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Runs EHLO … QUIT for one message and returns the final reply to the dot. */
export async function sendOne(d: Dialogue, from: string, to: string[], body: string): Promise<RawReply> {
  expect((await d.command(`MAIL FROM:<${from}>`)).code).toBe(250);
  for (const rcpt of to) expect((await d.command(`RCPT TO:<${rcpt}>`)).code).toBe(250);
  expect((await d.command('DATA')).code).toBe(354);
  const crlf = body.replace(/\r?\n/g, '\r\n');
  d.write(crlf + (crlf.endsWith('\r\n') ? '' : '\r\n') + '.\r\n');
  return d.reply();
}

