import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** A server the bench started and must stop. */
export interface BenchServer {
  readonly name: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** A loopback port that was free a moment ago (the OS picks it). */
export async function freePort(): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts TCP connections on the port; throws after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await sleep(50);
  }
}

async function runQuiet(command: string, args: readonly string[]): Promise<void> {
  const child = spawn(command, args, { stdio: 'ignore' });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', resolve);
  });
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${code}`);
}

async function stopChild(child: ChildProcess, timeoutMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
}

/**
 * Postfix's `smtp-sink` on a loopback port: accepts everything, keeps nothing. It offers PIPELINING and 8BITMIME
 * but not CHUNKING. As root it needs `-u` to drop privileges after binding.
 */
export async function startSmtpSink(): Promise<BenchServer> {
  const port = await freePort();
  const args = process.getuid?.() === 0 ? ['-u', 'nobody'] : [];
  const child = spawn('smtp-sink', [...args, `127.0.0.1:${port}`, '1024'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const failed = new Promise<never>((_, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`smtp-sink exited with ${code}: ${stderr.trim()}`)));
  });
  await Promise.race([waitForPort(port, 5000), failed]);
  failed.catch(() => undefined);
  return { name: 'smtp-sink', port, stop: () => stopChild(child) };
}

const POSTFIX_SERVICES = [
  'pickup    unix  n       -       n       60      1       pickup',
  'cleanup   unix  n       -       n       -       0       cleanup',
  'qmgr      unix  n       -       n       300     1       qmgr',
  'tlsmgr    unix  -       -       n       1000?   1       tlsmgr',
  'rewrite   unix  -       -       n       -       -       trivial-rewrite',
  'bounce    unix  -       -       n       -       0       bounce',
  'defer     unix  -       -       n       -       0       bounce',
  'trace     unix  -       -       n       -       0       bounce',
  'verify    unix  -       -       n       -       1       verify',
  'flush     unix  n       -       n       1000?   0       flush',
  'proxymap  unix  -       -       n       -       -       proxymap',
  'proxywrite unix -       -       n       -       1       proxymap',
  'smtp      unix  -       -       n       -       -       smtp',
  'relay     unix  -       -       n       -       -       smtp',
  'showq     unix  n       -       n       -       -       showq',
  'error     unix  -       -       n       -       -       error',
  'retry     unix  -       -       n       -       -       error',
  'discard   unix  -       -       n       -       -       discard',
  'local     unix  -       n       n       -       -       local',
  'virtual   unix  -       n       n       -       -       virtual',
  'lmtp      unix  -       -       n       -       -       lmtp',
  'anvil     unix  -       -       n       -       1       anvil',
  'scache    unix  -       -       n       -       1       scache',
  'postlog   unix-dgram n  -       n       -       1       postlogd',
];

/**
 * A private Postfix `smtpd` on a loopback port whose every accepted message goes to the `discard` transport.
 * Unlike smtp-sink it offers CHUNKING (RFC 3030), so BDAT can be measured. Runs `postfix -c DIR start-fg`
 * from its own config, queue and data directories; the system instance is never touched.
 */
export async function startPostfixDiscard(): Promise<BenchServer> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'smtpkit-bench-postfix-'));
  await chmod(dir, 0o755);
  const queue = join(dir, 'queue');
  const data = join(dir, 'data');
  await mkdir(queue, { recursive: true });
  await mkdir(data, { recursive: true });
  // master.lock and the TLS caches live here; Postfix opens them as mail_owner.
  await runQuiet('chown', ['postfix:postfix', data]);
  const main = [
    'compatibility_level = 3.6',
    `queue_directory = ${queue}`,
    `data_directory = ${data}`,
    'command_directory = /usr/sbin',
    'daemon_directory = /usr/lib/postfix/sbin',
    'shlib_directory = /usr/lib/postfix',
    'meta_directory = /etc/postfix',
    'mail_owner = postfix',
    'setgid_group = postdrop',
    `maillog_file = ${join(dir, 'postfix.log')}`,
    `maillog_file_prefixes = ${dir}`,
    'myhostname = bench.localhost',
    'inet_interfaces = 127.0.0.1',
    'inet_protocols = ipv4',
    'mynetworks = 127.0.0.0/8',
    'mydestination =',
    'relayhost =',
    'relay_domains = example.com',
    'relay_recipient_maps =',
    'relay_transport = discard:bench',
    'default_transport = error:no delivery from the bench server',
    'smtpd_relay_restrictions = reject_unauth_destination',
    'smtpd_tls_security_level = none',
    'smtpd_client_connection_count_limit = 0',
    'smtpd_client_connection_rate_limit = 0',
    'message_size_limit = 0',
    'biff = no',
    'alias_maps =',
    'alias_database =',
  ].join('\n');
  const master = [`127.0.0.1:${port} inet n - n - - smtpd`, ...POSTFIX_SERVICES].join('\n');
  await writeFile(join(dir, 'main.cf'), main + '\n');
  await writeFile(join(dir, 'master.cf'), master + '\n');
  const child = spawn('postfix', ['-c', dir, 'start-fg'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const failed = new Promise<never>((_, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      // Without a terminal Postfix reports only to its log file.
      void readFile(join(dir, 'postfix.log'), 'utf8')
        .catch(() => '')
        .then((log) => {
          const last = log.trim().split('\n').filter((l) => /fatal|error/.test(l)).pop() ?? stderr.trim();
          reject(new Error(`postfix start-fg exited with ${code}: ${last}`));
        });
    });
  });
  failed.catch(() => undefined);
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopped ??= stopPostfix(dir, child));
  try {
    await Promise.race([waitForPort(port, 15000), failed]);
  } catch (error) {
    await stop();
    throw error;
  }
  return { name: 'postfix smtpd (discard)', port, stop };
}

async function stopPostfix(dir: string, child: ChildProcess): Promise<void> {
  const stop = spawn('postfix', ['-c', dir, 'stop'], { stdio: 'ignore' });
  await new Promise<void>((resolve) => {
    stop.once('exit', () => resolve());
    stop.once('error', () => resolve());
  });
  const timer = setTimeout(() => {
    spawn('postfix', ['-c', dir, 'abort'], { stdio: 'ignore' }).once('error', () => undefined);
  }, 5000);
  await stopChild(child, 8000);
  clearTimeout(timer);
  await rm(dir, { recursive: true, force: true });
}
