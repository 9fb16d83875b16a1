import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureOutput, isRunning, stopChild } from './process.js';
import { killQuietly, onExit, removeQuietly } from './cleanup.js';
import type { TestCertificates } from './certificates.js';
import { pollUntil } from './poll.js';

const PYTHON = '/usr/bin/python3';

/** Options for {@link startAiosmtpd}. */
export interface AiosmtpdOptions {
  /** Offer STARTTLS with `certs.key`/`certs.cert`. */
  certs?: TestCertificates;
  /** Refuse MAIL before STARTTLS (needs certs). */
  requireTls?: boolean;
  /** Advertised SIZE and enforced limit in octets (default 33 554 432, aiosmtpd's). */
  dataSizeLimit?: number;
  /** Offer SMTPUTF8 (default true). */
  smtputf8?: boolean;
  /** Bound on startup (default 15 000 ms). */
  startTimeoutMs?: number;
}

/** One message aiosmtpd received. */
export interface AiosmtpdMessage {
  from: string;
  to: string[];
  /** The DATA bytes as received, after dot-unstuffing, without the terminating dot. */
  raw: Buffer;
}

/** A running aiosmtpd (Python) server. */
export interface AiosmtpdServer {
  port: number;
  host: '127.0.0.1';
  /** PID of the python3 process. */
  pid: number;
  /** Every message received so far, oldest first. */
  messages(): Promise<AiosmtpdMessage[]>;
  /** Polls until at least `n` messages arrived; rejects after `timeoutMs` (default 10 000). */
  waitForMessages(n: number, timeoutMs?: number): Promise<AiosmtpdMessage[]>;
  /** Kills it (bounded) and removes its directory. */
  stop(): Promise<void>;
}

// A small handler: each message is written as NNNNNN.eml (raw bytes) and NNNNNN.json (envelope),
// the .json last and by rename, so a reader never sees half a message.
const SERVER_PY = String.raw`
import asyncio, json, os, ssl, sys
from aiosmtpd.smtp import SMTP

out_dir, cert, key, require_tls, size_limit, smtputf8 = sys.argv[1:7]

class Recorder:
    def __init__(self):
        self.count = 0
    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        base = os.path.join(out_dir, '%06d' % self.count)
        with open(base + '.eml', 'wb') as f:
            f.write(envelope.original_content or b'')
        with open(base + '.json.tmp', 'w') as f:
            json.dump({'from': envelope.mail_from, 'to': envelope.rcpt_tos}, f)
        os.rename(base + '.json.tmp', base + '.json')
        return '250 2.0.0 OK queued as %d' % self.count

async def main():
    context = None
    if cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
    recorder = Recorder()
    loop = asyncio.get_running_loop()
    factory = lambda: SMTP(recorder, hostname='localhost', decode_data=False, enable_SMTPUTF8=smtputf8 == '1',
                           data_size_limit=int(size_limit), tls_context=context, require_starttls=require_tls == '1')
    server = await loop.create_server(factory, host='127.0.0.1', port=0)
    print('listening %d' % server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
`;

/**
 * Starts aiosmtpd (Debian's python3-aiosmtpd) on 127.0.0.1 and a port it picks itself,
 * with a handler that records every message for {@link AiosmtpdServer.messages}.
 * Throws when /usr/bin/python3 or the aiosmtpd module is missing.
 *
 * @example
 * const server = await startAiosmtpd();
 * // … send to 127.0.0.1:server.port …
 * const [message] = await server.waitForMessages(1);
 * await server.stop();
 */
export async function startAiosmtpd(options: AiosmtpdOptions = {}): Promise<AiosmtpdServer> {
  if (!existsSync(PYTHON)) throw new Error(`aiosmtpd needs ${PYTHON} (Debian python3 with python3-aiosmtpd)`);
  if (options.requireTls && !options.certs) throw new Error('startAiosmtpd: requireTls needs certs');
  const dir = await mkdtemp(join(tmpdir(), 'smtpkit-aiosmtpd-'));
  const out = join(dir, 'messages');
  await mkdir(out);
  await writeFile(join(dir, 'server.py'), SERVER_PY);
  let certFile = '';
  let keyFile = '';
  if (options.certs) {
    certFile = join(dir, 'server.crt');
    keyFile = join(dir, 'server.key');
    await writeFile(certFile, options.certs.cert);
    await writeFile(keyFile, options.certs.key, { mode: 0o600 });
  }
  const child = spawn(
    PYTHON,
    [
      join(dir, 'server.py'),
      out,
      certFile,
      keyFile,
      options.requireTls ? '1' : '0',
      String(options.dataSizeLimit ?? 33_554_432),
      options.smtputf8 === false ? '0' : '1',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const output = captureOutput(child);
  const forget = onExit(() => {
    killQuietly(child.pid, 'SIGKILL');
    removeQuietly(dir);
  });
  const cleanup = async (): Promise<void> => {
    await stopChild(child);
    await rm(dir, { recursive: true, force: true });
    forget();
  };
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`aiosmtpd did not start within ${options.startTimeoutMs ?? 15_000} ms: ${output()}`)),
        options.startTimeoutMs ?? 15_000,
      );
      let seen = '';
      child.stdout.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
        const match = /listening (\d+)/.exec(seen);
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      });
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(new Error(`aiosmtpd could not be started: ${error.message}`));
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`aiosmtpd exited during startup (${code}): ${output() || 'is python3-aiosmtpd installed?'}`));
      });
    });
  } catch (error) {
    await cleanup();
    throw error;
  }

  const messages = async (): Promise<AiosmtpdMessage[]> => {
    const names = (await readdir(out)).filter((name) => name.endsWith('.json')).sort();
    const found: AiosmtpdMessage[] = [];
    for (const name of names) {
      const envelope = JSON.parse(await readFile(join(out, name), 'utf8')) as { from: string; to: string[] };
      const raw = await readFile(join(out, name.replace(/\.json$/, '.eml')));
      found.push({ from: envelope.from, to: envelope.to, raw });
    }
    return found;
  };

  return {
    port,
    host: '127.0.0.1',
    pid: child.pid ?? -1,
    messages,
    waitForMessages: (n, timeoutMs = 10_000) =>
      pollUntil(
        async () => {
          const found = await messages();
          if (found.length < n && !isRunning(child)) throw new Error(`aiosmtpd exited: ${output()}`);
          return found;
        },
        (found) => found.length >= n,
        { timeoutMs, fail: (found) => new Error(`expected ${n} message(s) at aiosmtpd, found ${found.length} after ${timeoutMs} ms`) },
      ),
    stop: cleanup,
  };
}
