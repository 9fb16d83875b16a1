// Shared test helpers: an inbox on OS-chosen ports, JSON calls to its API, raw HTTP for header tests.
import { request } from 'node:http';
import { connect } from 'node:net';
import { startInbox } from '../src/index.js';
import type { Inbox, InboxOptions } from '../src/index.js';

export async function testInbox(options: InboxOptions = {}): Promise<Inbox> {
  return startInbox({ smtpPort: 0, httpPort: 0, ...options });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- responses are checked field by field
export async function getJson<T = any>(inbox: Inbox, path: string): Promise<T> {
  const res = await fetch(new URL(path, inbox.url));
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** A raw HTTP request with any headers (fetch will not send an arbitrary Host). */
export function rawHttp(port: number, path: string, headers: Record<string, string>, method = 'GET'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers, setHost: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * A raw-socket SMTP client: writes each step after the previous reply arrived (or all at once with
 * `pipelined`), and returns every reply text. For senders that do what no library would (bare LF …).
 */
export function rawSmtp(port: number, steps: Array<string | Buffer>, options: { pipelined?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    let i = 0;
    let greeted = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`raw SMTP client timed out; got ${JSON.stringify(received)}`));
    }, 20_000);
    socket.on('data', (c) => {
      received += c.toString('utf8');
      if (!greeted) {
        if (!received.includes('\r\n')) return;
        greeted = true;
        if (options.pipelined) {
          socket.write(Buffer.concat(steps.map((s) => Buffer.from(s))));
          i = steps.length;
          return;
        }
      }
      if (i < steps.length && received.endsWith('\r\n') && !/(^|\n)\d{3}-[^\n]*\r\n$/.test(received)) socket.write(steps[i++] as string | Buffer);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(received);
    });
    socket.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}
