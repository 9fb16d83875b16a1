import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readFile, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from './free-port.js';
import { captureOutput, isRunning, run, stopChild, waitForExit } from './process.js';
import { killQuietly, onExit, removeQuietly } from './cleanup.js';
import type { TestCertificates } from './certificates.js';

/** Options for {@link startPostfix}. */
export interface PostfixOptions {
  /** Advertise CHUNKING (RFC 3030); default true, as Postfix does. */
  chunking?: boolean;
  /** Advertise PIPELINING (RFC 2920); default true. */
  pipelining?: boolean;
  /** STARTTLS policy: 'none' (not offered, default), 'may' (offered), 'encrypt' (required before MAIL). */
  tls?: 'none' | 'may' | 'encrypt';
  /** Certificates for 'may'/'encrypt' (the server uses `key`/`cert`); required when tls is not 'none'. */
  certs?: TestCertificates;
  /** Domains whose every address is accepted and delivered (default example.com, example.net, example.org). */
  domains?: string[];
  /** Throw messages away instead of writing a Maildir (benchmarks). */
  discard?: boolean;
  /** message_size_limit in octets (Postfix default 10 240 000); also advertised as SIZE. */
  messageSizeLimit?: number;
  /**
   * Client certificates, checked against the test CA (needs `tls`): 'ask' asks for one
   * (`smtpd_tls_ask_ccert`) and accepts mail only from clients that showed a trusted one
   * (`permit_tls_all_clientcerts`, others get 554 at RCPT); 'require' also sets `smtpd_tls_req_ccert`
   * (with tls 'encrypt': no certificate, no session).
   */
  clientCertificates?: 'ask' | 'require';
  /** Extra main.cf lines, `name = value` (escape hatch for one-off tests). */
  extraMainCf?: Record<string, string>;
  /** Bound on startup (default 20 000 ms). */
  startTimeoutMs?: number;
}

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
const NOBODY = 65534;

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
      waitForMessages: async (n, timeoutMs = 10_000) => {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const found = await readMaildirs(mail);
          if (found.length >= n) return found;
          if (Date.now() >= deadline) {
            const log = await readFile(join(dir, 'postfix.log'), 'utf8').catch(() => '');
            throw new Error(`expected ${n} delivered message(s), found ${found.length} after ${timeoutMs} ms\n${log.slice(-3000)}`);
          }
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
      },
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

function mainCf(dir: string, domains: string[], tls: 'none' | 'may' | 'encrypt', options: PostfixOptions): string {
  const discardKeywords = [
    ...(options.pipelining === false ? ['pipelining'] : []),
    ...(options.chunking === false ? ['chunking'] : []),
  ];
  const settings: Record<string, string> = {
    compatibility_level: '3.6',
    queue_directory: join(dir, 'queue'),
    data_directory: join(dir, 'data'),
    command_directory: '/usr/sbin',
    daemon_directory: '/usr/lib/postfix/sbin',
    shlib_directory: '/usr/lib/postfix',
    meta_directory: '/etc/postfix',
    mail_owner: 'postfix',
    setgid_group: 'postdrop',
    maillog_file: join(dir, 'postfix.log'),
    maillog_file_prefixes: dir,
    myhostname: 'localhost',
    mydomain: 'localdomain',
    myorigin: '$myhostname',
    inet_interfaces: '127.0.0.1',
    inet_protocols: 'ipv4',
    mynetworks: '127.0.0.0/8',
    mydestination: '',
    relayhost: '',
    relay_domains: '',
    default_transport: 'error:no relaying from the test server',
    relay_transport: 'error:no relaying from the test server',
    local_transport: 'error:no local delivery on the test server',
    smtpd_relay_restrictions: 'reject_unauth_destination',
    smtpd_recipient_restrictions: '',
    virtual_mailbox_domains: domains.join(' '),
    virtual_mailbox_base: join(dir, 'mail'),
    virtual_mailbox_maps: `texthash:${join(dir, 'vmailbox')}`,
    virtual_uid_maps: `static:${NOBODY}`,
    virtual_gid_maps: `static:${NOBODY}`,
    virtual_mailbox_limit: '0',
    virtual_transport: options.discard ? 'discard:' : 'virtual',
    message_size_limit: String(options.messageSizeLimit ?? 10_240_000),
    smtpd_discard_ehlo_keywords: discardKeywords.join(', '),
    smtpd_banner: '$myhostname ESMTP smtpkit test Postfix',
    biff: 'no',
    append_dot_mydomain: 'no',
    smtp_dns_support_level: 'disabled',
    smtpd_peername_lookup: 'no',
    smtpd_error_sleep_time: '0',
    smtpd_soft_error_limit: '1000',
    smtpd_hard_error_limit: '1000',
    smtpd_junk_command_limit: '100000',
    smtpd_client_connection_count_limit: '0',
    smtpd_client_connection_rate_limit: '0',
    smtpd_client_message_rate_limit: '0',
    smtpd_client_recipient_rate_limit: '0',
    smtpd_recipient_limit: '10000',
    in_flow_delay: '0',
    default_process_limit: '200',
    alias_maps: '',
    alias_database: '',
    smtputf8_enable: 'yes',
    smtpd_tls_security_level: tls === 'none' ? '' : tls,
    ...(tls === 'none'
      ? {}
      : {
          smtpd_tls_cert_file: join(dir, 'server.crt'),
          smtpd_tls_key_file: join(dir, 'server.key'),
          smtpd_tls_loglevel: '1',
        }),
    ...(options.clientCertificates && tls !== 'none'
      ? {
          smtpd_tls_ask_ccert: 'yes',
          smtpd_tls_CAfile: join(dir, 'client-ca.crt'),
          smtpd_client_restrictions: 'permit_tls_all_clientcerts, reject',
          ...(options.clientCertificates === 'require' ? { smtpd_tls_req_ccert: 'yes' } : {}),
        }
      : {}),
    ...options.extraMainCf,
  };
  return Object.entries(settings)
    .map(([name, value]) => `${name} = ${value}`)
    .join('\n') + '\n';
}

function masterCf(port: number): string {
  return `127.0.0.1:${port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`;
}

async function readMaildirs(base: string): Promise<DeliveredMessage[]> {
  const found: Array<DeliveredMessage & { order: string }> = [];
  let domains: string[];
  try {
    domains = await readdir(base);
  } catch {
    return [];
  }
  for (const domain of domains) {
    const users = await readdir(join(base, domain)).catch(() => [] as string[]);
    for (const user of users) {
      for (const sub of ['new', 'cur']) {
        const folder = join(base, domain, user, sub);
        const files = await readdir(folder).catch(() => [] as string[]);
        for (const name of files) {
          const file = join(folder, name);
          const raw = await readFile(file).catch(() => undefined);
          if (!raw) continue;
          const recipient = headerValue(raw, 'x-original-to') ?? headerValue(raw, 'delivered-to') ?? `${user}@${domain}`;
          found.push({ recipient, raw, file, order: name });
        }
      }
    }
  }
  // Maildir names start with the delivery time in seconds, then a per-delivery unique part.
  found.sort((a, b) => compareMaildirNames(a.order, b.order));
  return found.map(({ recipient, raw, file }) => ({ recipient, raw, file }));
}

function compareMaildirNames(a: string, b: string): number {
  const [sa, ua] = splitName(a);
  const [sb, ub] = splitName(b);
  return sa - sb || ua - ub || (a < b ? -1 : a > b ? 1 : 0);
}

/** Postfix names files `SECONDS.VdevIinodeMmicroseconds.host`. */
function splitName(name: string): [number, number] {
  const seconds = Number.parseInt(name, 10) || 0;
  const micro = /M(\d+)/.exec(name);
  return [seconds, micro ? Number.parseInt(micro[1]!, 10) : 0];
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
