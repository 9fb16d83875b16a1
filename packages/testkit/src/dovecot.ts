import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from './free-port.js';
import { captureOutput, isRunning, stopChild } from './process.js';
import { killQuietly, onExit, removeQuietly } from './cleanup.js';
import { dovecotConf, oauth2Conf, passwdLine, type DovecotOptions, type DovecotUser } from './dovecot-config.js';
import { compareMaildirNames, readMaildir } from './maildir.js';
import { pollUntil } from './poll.js';

export type { DovecotOAuth2Options, DovecotOptions, DovecotUser } from './dovecot-config.js';

const DOVECOT = '/usr/sbin/dovecot';
const NOBODY = { uid: 65534, gid: 65534 };

/** One message delivered by LMTP, as stored in the recipient's Maildir. */
export interface DovecotMessage {
  /** The account it was delivered to. */
  user: string;
  /** The stored file, byte for byte (Dovecot prepends Return-Path and Delivered-To). */
  raw: Buffer;
  file: string;
}

/** A running private Dovecot. */
export interface DovecotServer {
  host: '127.0.0.1';
  /** Its directory: dovecot.conf, users, base/ (sockets), state/, mail/, dovecot.log. */
  dir: string;
  /** PID of the dovecot master process. */
  pid: number;
  /** Submission port (plain, STARTTLS when `certs` was given). */
  submissionPort?: number;
  /** Submission over implicit TLS (RFC 8314), only with `certs`. */
  submissionsPort?: number;
  /** LMTP over TCP. */
  lmtpPort?: number;
  /** LMTP over a Unix socket (path). */
  lmtpSocket?: string;
  /** Every message delivered so far (all users, or one), oldest first. */
  messages(user?: string): Promise<DovecotMessage[]>;
  /** Polls until at least `n` messages are delivered (to `user`, if given); rejects after `timeoutMs` (default 10 000). */
  waitForMessages(n: number, options?: { user?: string; timeoutMs?: number }): Promise<DovecotMessage[]>;
  /** The instance's log so far. */
  log(): Promise<string>;
  /** Polls the log until `pattern` appears; rejects after `timeoutMs` (default 5 000) with the log's tail. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Stops the instance (SIGTERM to the master, bounded, then SIGKILL) and removes its directory. */
  stop(): Promise<void>;
}

const DEFAULT_USERS: DovecotUser[] = [
  { user: 'alice@example.com', password: 'alice-password' },
  { user: 'bob@example.com', password: 'bob-password' },
];

/**
 * Starts a private Dovecot 2.3 (`dovecot -F -c DIR/dovecot.conf`) on 127.0.0.1 with free ports, from a
 * configuration written here: its own base_dir, state_dir and log under a temp dir, never the system instance.
 * Throws with a clear message when Dovecot (or the submission / LMTP package) is not installed.
 *
 * @example
 * const sink = await startSmtpSink();
 * const dovecot = await startDovecot({ submission: { relayPort: sink.port }, certs: await generateCertificates() });
 * // … AUTH PLAIN alice@example.com / alice-password on 127.0.0.1:dovecot.submissionPort …
 * await dovecot.stop();
 */
export async function startDovecot(options: DovecotOptions): Promise<DovecotServer> {
  checkInstalled(options);
  if (process.getuid?.() !== 0) throw new Error('startDovecot: the private Dovecot master must run as root (it drops to nobody/dovenull)');
  const users = options.users ?? DEFAULT_USERS;
  for (const u of users) {
    if (!/^[A-Za-z0-9._%+-]+(@[A-Za-z0-9.-]+)?$/.test(u.user)) throw new Error(`startDovecot: invalid user name ${JSON.stringify(u.user)}`);
    if (/[:\r\n]/.test(u.password)) throw new Error(`startDovecot: the password of ${u.user} contains ':' or a line break`);
    if (u.quota !== undefined && !/^\d+[BKMGT]?$/.test(u.quota)) throw new Error(`startDovecot: invalid quota ${JSON.stringify(u.quota)} for ${u.user}`);
  }

  const dir = await mkdtemp(join(tmpdir(), 'smtpkit-dovecot-'));
  let child: ChildProcess | undefined;
  try {
    // The login processes run as dovenull and the mail processes as nobody: the tree must be traversable.
    await chmod(dir, 0o755);
    for (const sub of ['base', 'state']) await mkdir(join(dir, sub), { mode: 0o755 });
    await mkdir(join(dir, 'mail'), { mode: 0o755 });
    await chown(join(dir, 'mail'), NOBODY.uid, NOBODY.gid);
    await writeFile(join(dir, 'users'), users.map(passwdLine).join(''), { mode: 0o644 });
    if (options.certs) {
      await writeFile(join(dir, 'server.key'), options.certs.key, { mode: 0o600 });
      await writeFile(join(dir, 'server.crt'), options.certs.cert + options.certs.caCert);
    }
    if (options.oauth2) await writeFile(join(dir, 'oauth2.conf'), oauth2Conf(options.oauth2), { mode: 0o600 });

    const ports = {
      submission: options.submission ? await freePort() : undefined,
      submissions: options.submission && options.certs ? await freePort() : undefined,
      lmtp: options.lmtp ? await freePort() : undefined,
    };
    await writeFile(join(dir, 'dovecot.conf'), dovecotConf(dir, options, ports));

    child = spawn(DOVECOT, ['-F', '-c', join(dir, 'dovecot.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
    const started = child;
    const output = captureOutput(started);
    let spawnError: Error | undefined;
    started.once('error', (error) => (spawnError = error));
    const check = (): void => {
      if (spawnError) throw new Error(`dovecot could not be started: ${spawnError.message}`);
      if (!isRunning(started)) throw new Error(`dovecot exited during startup (${started.exitCode ?? started.signalCode}): ${output()}`);
    };
    const timeoutMs = options.startTimeoutMs ?? 20_000;
    try {
      for (const port of [ports.submission, ports.submissions, ports.lmtp]) {
        if (port !== undefined) await waitForPort(port, '127.0.0.1', { timeoutMs, intervalMs: 25, check });
      }
      if (options.lmtp) {
        const socket = join(dir, 'base', 'lmtp');
        const exists = async (): Promise<boolean> => {
          check();
          return stat(socket).then(() => true, () => false);
        };
        await pollUntil(exists, Boolean, {
          timeoutMs,
          fail: () => new Error(`dovecot created no ${socket} within ${timeoutMs} ms`),
        });
      }
    } catch (error) {
      const log = await readFile(join(dir, 'dovecot.log'), 'utf8').catch(() => '');
      throw new Error(`${(error as Error).message}\n${output()}\n${log.slice(-4000)}`, { cause: error });
    }

    const pid = started.pid ?? -1;
    const forget = onExit(() => {
      killQuietly(pid, 'SIGKILL');
      removeQuietly(dir);
    });
    const mail = join(dir, 'mail');
    const log = (): Promise<string> => readFile(join(dir, 'dovecot.log'), 'utf8').catch(() => '');
    return {
      host: '127.0.0.1',
      dir,
      pid,
      submissionPort: ports.submission,
      submissionsPort: ports.submissions,
      lmtpPort: ports.lmtp,
      lmtpSocket: options.lmtp ? join(dir, 'base', 'lmtp') : undefined,
      messages: (user) => readMaildirs(mail, user),
      waitForMessages: (n, { user, timeoutMs = 10_000 } = {}) =>
        pollUntil(() => readMaildirs(mail, user), (found) => found.length >= n, {
          timeoutMs,
          fail: async (found) =>
            new Error(`expected ${n} delivered message(s)${user ? ` for ${user}` : ''}, found ${found.length} after ${timeoutMs} ms\n${(await log()).slice(-3000)}`),
        }),
      log,
      waitForLog: (pattern, timeoutMs = 5000) =>
        pollUntil(log, (text) => pattern.test(text), {
          timeoutMs,
          fail: (text) => new Error(`dovecot log did not show ${String(pattern)} within ${timeoutMs} ms\n${text.slice(-3000)}`),
        }),
      stop: async () => {
        await stopChild(started, 5000);
        forget();
        await rm(dir, { recursive: true, force: true, maxRetries: 3 });
      },
    };
  } catch (error) {
    if (child) await stopChild(child, 5000).catch(() => undefined);
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    throw error;
  }
}

function checkInstalled(options: DovecotOptions): void {
  const install = (pkg: string): string =>
    `install it with \`DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${pkg}\` (keep its system service from starting)`;
  if (!options.submission && !options.lmtp) throw new Error('startDovecot: enable `submission`, `lmtp` or both');
  if (!existsSync(DOVECOT)) throw new Error(`Dovecot is not installed (no ${DOVECOT}): ${install('dovecot-core')}`);
  if (options.submission && !existsSync('/usr/lib/dovecot/submission')) {
    throw new Error(`Dovecot's submission service is not installed: ${install('dovecot-submissiond')}`);
  }
  if (options.lmtp && !existsSync('/usr/lib/dovecot/lmtp')) throw new Error(`Dovecot's LMTP service is not installed: ${install('dovecot-lmtpd')}`);
}

async function readMaildirs(base: string, onlyUser?: string): Promise<DovecotMessage[]> {
  const found: Array<DovecotMessage & { name: string }> = [];
  for (const user of onlyUser ? [onlyUser] : await readdir(base).catch(() => [] as string[])) {
    for (const { name, raw, file } of await readMaildir(join(base, user))) found.push({ user, raw, file, name });
  }
  found.sort((a, b) => compareMaildirNames(a.name, b.name));
  return found.map(({ user, raw, file }) => ({ user, raw, file }));
}
