import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readFile, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from './free-port.js';
import { captureOutput, isRunning, run, stopChild, waitForExit } from './process.js';
import { killQuietly, onExit, removeQuietly } from './cleanup.js';
import { compareMaildirNames, readMaildir } from './maildir.js';
import { pollUntil } from './poll.js';
import { NOBODY, mainCf, masterCf, type PostfixOptions } from './postfix-config.js';

export type { PostfixOptions } from './postfix-config.js';

/** One delivered message as stored in the Maildir. */
export interface DeliveredMessage {
  /** The envelope recipient (from X-Original-To, else Delivered-To, else the Maildir path). */
  recipient: string;
  /** The stored file, byte for byte (Postfix prepends Return-Path, Delivered-To, Received…). */
  raw: Buffer;
  /** The Maildir file it was read from. */
  file: string;
}

/** A running private Postfix smtpd. */
export interface PostfixServer {
  port: number;
  host: '127.0.0.1';
  /** Its configuration directory (main.cf, master.cf, queue, mail, postfix.log). */
  dir: string;
  /** PID of its master(8) process. */
  masterPid: number;
  /** Every message delivered so far, oldest first. */
  messages(): Promise<DeliveredMessage[]>;
  /** Polls until at least `n` messages are delivered; rejects after `timeoutMs` (default 10 000). */
  waitForMessages(n: number, timeoutMs?: number): Promise<DeliveredMessage[]>;
  /** The instance's log so far (maillog_file), for failure messages. */
  log(): Promise<string>;
  /** Stops the instance (bounded) and removes its directory. */
  stop(): Promise<void>;
}

const POSTFIX = '/usr/sbin/postfix';
const DEFAULT_DOMAINS = ['example.com', 'example.net', 'example.org'];

/**
 * Starts a private Postfix smtpd on 127.0.0.1 and a free port, from a configuration
 * directory written here, as a child process (`postfix -c DIR start-fg`).
 * Throws with a clear message when Postfix is not installed.
 *
 * @example
 * const postfix = await startPostfix({ tls: 'may', certs: await generateCertificates() });
 * // … send to `user@example.com` on postfix.port …
 * const [message] = await postfix.waitForMessages(1);
 * await postfix.stop();
 */
export async function startPostfix(options: PostfixOptions = {}): Promise<PostfixServer> {
  if (!existsSync(POSTFIX) || !existsSync('/usr/lib/postfix/sbin/smtpd')) {
    throw new Error(
      'Postfix is not installed (no /usr/sbin/postfix or /usr/lib/postfix/sbin/smtpd): ' +
        'install it with `DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postfix`',
    );
  }
  const tls = options.tls ?? 'none';
  if (tls !== 'none' && !options.certs) throw new Error(`startPostfix: tls '${tls}' needs certs (generateCertificates())`);
  const owner = lookupUser('postfix');
  const domains = options.domains ?? DEFAULT_DOMAINS;
  for (const domain of domains) {
    if (!/^[a-z0-9.-]+$/i.test(domain)) throw new Error(`startPostfix: invalid test domain ${JSON.stringify(domain)}`);
  }

  const dir = await mkdtemp(join(tmpdir(), 'smtpkit-postfix-'));
  let child: ChildProcess | undefined;
  try {
    await chmod(dir, 0o755);
    const data = join(dir, 'data');
    const mail = join(dir, 'mail');
    await createQueue(join(dir, 'queue'), owner);
    await mkdir(data, { mode: 0o700 });
    await chown(data, owner.uid, owner.gid);
    await mkdir(mail, { mode: 0o755 });
    await chown(mail, NOBODY, NOBODY);
    await writeFile(join(dir, 'vmailbox'), domains.map((d) => `@${d} ${d}/catchall/\n`).join(''));
    if (options.certs) {
      await writeFile(join(dir, 'server.key'), options.certs.key, { mode: 0o600 });
      await writeFile(join(dir, 'server.crt'), options.certs.cert + options.certs.caCert);
      await writeFile(join(dir, 'client-ca.crt'), options.certs.caCert);
    }

    const port = await freePort();
    await writeFile(join(dir, 'main.cf'), mainCf(dir, domains, tls, options));
    await writeFile(join(dir, 'master.cf'), masterCf(port));
    // Postfix waits (300 ms at a time) for a table or main.cf modified within the last
    // second to settle before it trusts it; files dated a minute back are read at once.
    const past = new Date(Date.now() - 60_000);
    for (const name of ['main.cf', 'master.cf', 'vmailbox']) await utimes(join(dir, name), past, past);

    child = spawn(POSTFIX, ['-c', dir, 'start-fg'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const output = captureOutput(child);
    const started = child;
    let spawnError: Error | undefined;
    started.once('error', (error) => (spawnError = error));
    await waitForPort(port, '127.0.0.1', {
      timeoutMs: options.startTimeoutMs ?? 20_000,
      intervalMs: 25,
      check: () => {
        if (spawnError) throw new Error(`postfix could not be started: ${spawnError.message}`);
        if (!isRunning(started)) {
          throw new Error(`postfix exited during startup (${started.exitCode ?? started.signalCode}): ${output()}`);
        }
      },
    }).catch(async (error: unknown) => {
      const log = await readFile(join(dir, 'postfix.log'), 'utf8').catch(() => '');
      throw new Error(`${(error as Error).message}\n${output()}\n${log.slice(-4000)}`, { cause: error });
    });

    const masterPid = await readMasterPid(dir);
    // master(8) stops its children on SIGTERM; the directory goes with it.
    const forget = onExit(() => {
      killQuietly(masterPid);
      killQuietly(started.pid);
      removeQuietly(dir);
    });
    const server: PostfixServer = {
      port,
      host: '127.0.0.1',
      dir,
      masterPid,
      messages: () => readMaildirs(mail),
      waitForMessages: (n, timeoutMs = 10_000) =>
        pollUntil(() => readMaildirs(mail), (found) => found.length >= n, {
          timeoutMs,
          fail: async (found) => {
            const log = await readFile(join(dir, 'postfix.log'), 'utf8').catch(() => '');
            return new Error(`expected ${n} delivered message(s), found ${found.length} after ${timeoutMs} ms\n${log.slice(-3000)}`);
          },
        }),
      log: () => readFile(join(dir, 'postfix.log'), 'utf8').catch(() => ''),
      stop: async () => {
        await stopPostfix(dir, started);
        forget();
      },
    };
    return server;
  } catch (error) {
    if (child) await stopPostfix(dir, child).catch(() => undefined);
    else await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

async function stopPostfix(dir: string, child: ChildProcess): Promise<void> {
  if (isRunning(child)) {
    await run(POSTFIX, ['-c', dir, 'stop'], { timeoutMs: 10_000 }).catch(() => undefined);
    if (!(await waitForExit(child, 5000))) {
      await run(POSTFIX, ['-c', dir, 'abort'], { timeoutMs: 5000 }).catch(() => undefined);
      killMasterPid(dir);
      await stopChild(child, 2000);
    }
  }
  // A master that outlived its parent `postfix` process (should not happen with start-fg).
  killMasterPid(dir);
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
}

/**
 * Creates the queue tree as `postfix check` would (from /etc/postfix/postfix-files) and drops a
 * `quick-start` marker, so `postfix start-fg` skips its integrity checks: about two seconds less.
 */
async function createQueue(queue: string, owner: { uid: number; gid: number }): Promise<void> {
  const postdrop = lookupGroup('postdrop');
  await mkdir(queue, { mode: 0o755 });
  await chmod(queue, 0o755);
  const owned: Array<[string, number, number]> = [
    ...['active', 'bounce', 'corrupt', 'defer', 'deferred', 'flush', 'hold', 'incoming', 'private', 'saved', 'trace'].map(
      (name): [string, number, number] => [name, owner.gid, 0o700],
    ),
    ['maildrop', postdrop, 0o730],
    ['public', postdrop, 0o710],
  ];
  for (const [name, gid, mode] of owned) {
    const path = join(queue, name);
    await mkdir(path);
    await chown(path, owner.uid, gid);
    await chmod(path, mode);
  }
  await mkdir(join(queue, 'pid'), { mode: 0o755 });
  await writeFile(join(queue, 'quick-start'), '');
}

/** master(8) writes its PID file before it opens the listeners; retried briefly all the same. */
async function readMasterPid(dir: string): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const text = await readFile(join(dir, 'queue', 'pid', 'master.pid'), 'utf8').catch(() => '');
    const pid = Number.parseInt(text.trim(), 10);
    if (Number.isInteger(pid) && pid > 1) return pid;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`postfix is listening but wrote no ${join(dir, 'queue', 'pid', 'master.pid')}`);
}

function killMasterPid(dir: string): void {
  try {
    const pid = Number.parseInt(readFileSync(join(dir, 'queue', 'pid', 'master.pid'), 'utf8').trim(), 10);
    if (Number.isInteger(pid) && pid > 1) process.kill(pid, 'SIGKILL');
  } catch {
    // no pid file or no such process: nothing left to stop
  }
}

async function readMaildirs(base: string): Promise<DeliveredMessage[]> {
  const found: Array<DeliveredMessage & { name: string }> = [];
  for (const domain of await readdir(base).catch(() => [] as string[])) {
    for (const user of await readdir(join(base, domain)).catch(() => [] as string[])) {
      for (const { name, raw, file } of await readMaildir(join(base, domain, user))) {
        const recipient = headerValue(raw, 'x-original-to') ?? headerValue(raw, 'delivered-to') ?? `${user}@${domain}`;
        found.push({ recipient, raw, file, name });
      }
    }
  }
  found.sort((a, b) => compareMaildirNames(a.name, b.name));
  return found.map(({ recipient, raw, file }) => ({ recipient, raw, file }));
}

/** The first value of a header among the header lines at the top of a stored message. */
function headerValue(raw: Buffer, name: string): string | undefined {
  const end = raw.indexOf('\n\n');
  const head = raw.subarray(0, end === -1 ? Math.min(raw.length, 65536) : end).toString('latin1');
  for (const line of head.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).toLowerCase() === name) return line.slice(colon + 1).trim();
  }
  return undefined;
}

function lookupGroup(name: string): number {
  for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
    const fields = line.split(':');
    if (fields[0] === name) return Number(fields[2]);
  }
  throw new Error(`startPostfix: no '${name}' group; is Postfix installed?`);
}

function lookupUser(name: string): { uid: number; gid: number } {
  const passwd = readFileSync('/etc/passwd', 'utf8');
  for (const line of passwd.split('\n')) {
    const fields = line.split(':');
    if (fields[0] === name) return { uid: Number(fields[2]), gid: Number(fields[3]) };
  }
  throw new Error(`startPostfix: no '${name}' user; is Postfix installed?`);
}
