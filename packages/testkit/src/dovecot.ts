import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { freePort, waitForPort } from './free-port.js';
import { captureOutput, isRunning, stopChild } from './process.js';
import { killQuietly, onExit, removeQuietly } from './cleanup.js';
import type { TestCertificates } from './certificates.js';

const DOVECOT = '/usr/sbin/dovecot';
const NOBODY = { uid: 65534, gid: 65534 };

/** One account of the private instance (a `passwd-file` line with a `{PLAIN}` password). */
export interface DovecotUser {
  /** The login name, also the LMTP recipient address, e.g. `alice@example.com`. */
  user: string;
  /** Stored as `{PLAIN}`, so PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1 and SCRAM-SHA-256 all work. */
  password: string;
  /**
   * A storage quota for LMTP delivery, as Dovecot writes it (`'1K'`, `'10M'`): a message that does not fit gets
   * `452 4.2.2` for this recipient only (`quota_full_tempfail = yes`), while the others get 250.
   */
  quota?: string;
}

/** The `oauth2` passdb: tokens (XOAUTH2, OAUTHBEARER) checked by RFC 7662 introspection at a provider. */
export interface DovecotOAuth2Options {
  /** The provider's introspection endpoint, e.g. `http://127.0.0.1:PORT/token/introspection`. */
  introspectionUrl: string;
  /** Sent as `client_id` / `client_secret` in the POST body (RFC 7662 §2.1 leaves client authentication open). */
  clientId?: string;
  clientSecret?: string;
  /** The introspection field whose value must equal the SASL user name (default `sub`). */
  usernameAttribute?: string;
  /** Further `oauth2.conf` settings, `name = value` (e.g. `scope`). */
  extra?: Record<string, string>;
}

/** Options for {@link startDovecot}. At least one of `submission` and `lmtp` is needed. */
export interface DovecotOptions {
  /**
   * Run the submission service (RFC 6409), relaying every accepted message to `relayHost:relayPort`
   * (a local sink the caller started). With `certs` it offers STARTTLS and listens for implicit TLS as well.
   */
  submission?: { relayPort: number; relayHost?: string };
  /** Run LMTP (RFC 2033) on a free TCP port and on a Unix socket, delivering into a Maildir per user. */
  lmtp?: boolean;
  /** The server certificate (`certs.key`/`certs.cert`); without it there is no TLS at all. */
  certs?: TestCertificates;
  /** The accounts (default: `alice@example.com` / `alice-password` and `bob@example.com` / `bob-password`). */
  users?: DovecotUser[];
  /** Enable the `oauth2` passdb for XOAUTH2 and OAUTHBEARER (`introspection_mode = post`). */
  oauth2?: DovecotOAuth2Options;
  /** SASL mechanisms offered (default: plain login cram-md5 scram-sha-1 scram-sha-256, plus xoauth2 oauthbearer with `oauth2`). */
  mechanisms?: string[];
  /** Log every SMTP/LMTP command as parsed (`log_debug = category=smtp-server`) and auth decisions. */
  verbose?: boolean;
  /** Extra dovecot.conf text appended at the end (escape hatch for one-off tests). */
  extraConf?: string;
  /** Bound on startup (default 20 000 ms). */
  startTimeoutMs?: number;
}

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
const PASSWORD_MECHANISMS = ['plain', 'login', 'cram-md5', 'scram-sha-1', 'scram-sha-256'];

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
      if (options.lmtp) await waitForFile(join(dir, 'base', 'lmtp'), timeoutMs, check);
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
      waitForMessages: async (n, { user, timeoutMs = 10_000 } = {}) => {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const found = await readMaildirs(mail, user);
          if (found.length >= n) return found;
          if (Date.now() >= deadline) {
            throw new Error(`expected ${n} delivered message(s)${user ? ` for ${user}` : ''}, found ${found.length} after ${timeoutMs} ms\n${(await log()).slice(-3000)}`);
          }
          await delay(25);
        }
      },
      log,
      waitForLog: async (pattern, timeoutMs = 5000) => {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const text = await log();
          if (pattern.test(text)) return text;
          if (Date.now() >= deadline) throw new Error(`dovecot log did not show ${String(pattern)} within ${timeoutMs} ms\n${text.slice(-3000)}`);
          await delay(25);
        }
      },
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

/** passwd-file(5) line: user:password:uid:gid:gecos:home:shell:extra fields. */
function passwdLine(u: DovecotUser): string {
  const extra = u.quota ? `userdb_quota_rule=*:storage=${u.quota}` : '';
  return `${u.user}:{PLAIN}${u.password}::::::${extra}\n`;
}

function oauth2Conf(o: DovecotOAuth2Options): string {
  const url = new URL(o.introspectionUrl);
  if (url.hostname !== '127.0.0.1' && url.hostname !== 'localhost') {
    throw new Error(`startDovecot: the introspection URL must be on this machine, got ${url.hostname}`);
  }
  const settings: Record<string, string> = {
    introspection_mode: 'post',
    introspection_url: o.introspectionUrl,
    username_attribute: o.usernameAttribute ?? 'sub',
    active_attribute: 'active',
    active_value: 'true',
    ...(o.clientId !== undefined ? { client_id: o.clientId } : {}),
    ...(o.clientSecret !== undefined ? { client_secret: o.clientSecret } : {}),
    ...o.extra,
  };
  return Object.entries(settings).map(([k, v]) => `${k} = ${v}\n`).join('');
}

function dovecotConf(
  dir: string,
  options: DovecotOptions,
  ports: { submission?: number; submissions?: number; lmtp?: number },
): string {
  const protocols = [...(options.submission ? ['submission'] : []), ...(options.lmtp ? ['lmtp'] : [])];
  const mechanisms = options.mechanisms ?? [...PASSWORD_MECHANISMS, ...(options.oauth2 ? ['xoauth2', 'oauthbearer'] : [])];
  const lines = [
    `protocols = ${protocols.join(' ')}`,
    'listen = 127.0.0.1',
    `base_dir = ${join(dir, 'base')}`,
    `state_dir = ${join(dir, 'state')}`,
    `log_path = ${join(dir, 'dovecot.log')}`,
    `instance_name = ${basename(dir)}`,
    'hostname = localhost',
    'login_greeting = smtpkit test Dovecot',
    'login_log_format_elements = user=<%u> method=%m rip=%r lip=%l lport=%{lport} %c session=<%{session}>',
    options.certs ? `ssl = yes\nssl_cert = <${join(dir, 'server.crt')}\nssl_key = <${join(dir, 'server.key')}` : 'ssl = no',
    `auth_mechanisms = ${mechanisms.join(' ')}`,
    'auth_failure_delay = 0',
    'disable_plaintext_auth = no',
    // Submission never opens a mailbox, but without mail_location the first AUTH fails with 451.
    `mail_location = maildir:${join(dir, 'mail')}/%u`,
    'mail_uid = nobody',
    'mail_gid = nogroup',
    'mail_plugins = quota',
    'lmtp_rcpt_check_quota = yes',
    // 452 4.2.2 (retry later) rather than 552 for a full mailbox, so one recipient fails temporarily.
    'quota_full_tempfail = yes',
    ...(options.verbose ? ['log_debug = category=smtp-server', 'auth_verbose = yes', 'auth_debug = yes'] : []),
    ...(options.submission
      ? [`submission_relay_host = ${options.submission.relayHost ?? '127.0.0.1'}`, `submission_relay_port = ${options.submission.relayPort}`]
      : []),
    ...(options.oauth2
      ? ['passdb {', '  driver = oauth2', '  mechanisms = xoauth2 oauthbearer', `  args = ${join(dir, 'oauth2.conf')}`, '}']
      : []),
    'passdb {',
    '  driver = passwd-file',
    `  args = scheme=PLAIN username_format=%u ${join(dir, 'users')}`,
    '}',
    'userdb {',
    '  driver = passwd-file',
    `  args = username_format=%u ${join(dir, 'users')}`,
    `  default_fields = uid=nobody gid=nogroup home=${join(dir, 'mail')}/%u`,
    '}',
    // Users that only sign in with a token have no passwd-file line; submission still needs a userdb answer.
    ...(options.oauth2 ? ['userdb {', '  driver = static', `  args = uid=nobody gid=nogroup home=${join(dir, 'mail')}/%u`, '}'] : []),
    'plugin {',
    '  quota = maildir:User quota',
    '}',
    ...(options.submission
      ? [
          'service submission-login {',
          `  inet_listener submission {\n    port = ${ports.submission}\n  }`,
          ...(ports.submissions ? [`  inet_listener submissions {\n    port = ${ports.submissions}\n    ssl = yes\n  }`] : []),
          '}',
        ]
      : []),
    // Without this, anvil delays every login after a failed one from 127.0.0.1 (up to 15 s).
    'service anvil {\n  unix_listener anvil-auth-penalty {\n    mode = 0\n  }\n}',
    ...(options.lmtp
      ? ['service lmtp {', `  inet_listener lmtp {\n    port = ${ports.lmtp}\n  }`, '  unix_listener lmtp {\n    mode = 0666\n  }', '}']
      : []),
    options.extraConf ?? '',
  ];
  return lines.join('\n') + '\n';
}

async function waitForFile(path: string, timeoutMs: number, check: () => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    check();
    if (await stat(path).then(() => true, () => false)) return;
    if (Date.now() >= deadline) throw new Error(`dovecot created no ${path} within ${timeoutMs} ms`);
    await delay(25);
  }
}

async function readMaildirs(base: string, onlyUser?: string): Promise<DovecotMessage[]> {
  const found: Array<DovecotMessage & { order: [number, number] }> = [];
  const users = onlyUser ? [onlyUser] : await readdir(base).catch(() => [] as string[]);
  for (const user of users) {
    for (const sub of ['new', 'cur']) {
      const folder = join(base, user, sub);
      for (const name of await readdir(folder).catch(() => [] as string[])) {
        const file = join(folder, name);
        const raw = await readFile(file).catch(() => undefined);
        if (!raw) continue;
        // Dovecot names files SECONDS.MmicrosecondsPpid.host,S=…
        const micro = /\.M(\d+)/.exec(name);
        found.push({ user, raw, file, order: [Number.parseInt(name, 10) || 0, micro ? Number(micro[1]) : 0] });
      }
    }
  }
  found.sort((a, b) => a.order[0] - b.order[0] || a.order[1] - b.order[1]);
  return found.map(({ user, raw, file }) => ({ user, raw, file }));
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
