import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from './free-port.js';
import { captureOutput, isRunning, run, stopChild } from './process.js';
import { killQuietly, onExit, removeQuietly } from './cleanup.js';

/** A running proxy for tests. */
export interface TestProxy {
  host: '127.0.0.1';
  port: number;
  /** The proxy URL without credentials, e.g. `socks5://127.0.0.1:40123`. */
  url: string;
  /** PID of the proxy process (-1 for an in-process one). */
  pid: number;
  /** The proxy's log so far, for failure messages and to prove a connection went through it. */
  log(): Promise<string>;
  stop(): Promise<void>;
}

/** User name and password a proxy demands. */
export interface ProxyCredentials {
  user: string;
  pass: string;
}

/** Options for {@link startDante}. */
export interface DanteOptions {
  /**
   * Demand a user name and password (RFC 1929). Dante checks them against the system's users, so the
   * user is created (no home, no login shell) or its password set, idempotently. Needs root.
   */
  auth?: ProxyCredentials;
  /** Destination ports on 127.0.0.1 the proxy refuses (SOCKS5 reply 2, "not allowed by rule set"). */
  blockPorts?: number[];
}

/** Options for {@link startTinyproxy}. */
export interface TinyproxyOptions {
  /** Ports CONNECT may reach (`ConnectPort`); others get 403. Default: every port. */
  connectPorts?: number[];
  /** Demand Basic credentials (`BasicAuth`); a request without them gets 407. */
  auth?: ProxyCredentials;
}

const DANTED = '/usr/sbin/danted';
const TINYPROXY = '/usr/bin/tinyproxy';

/** Spawn `file args`, wait for `port`, and wrap it as a {@link TestProxy}. */
async function spawnProxy(name: string, file: string, args: string[], port: number, url: string, dir: string, logFile: string): Promise<TestProxy> {
  const child: ChildProcess = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const output = captureOutput(child);
  let spawnError: Error | undefined;
  child.once('error', (error) => (spawnError = error));
  const readLog = () => readFile(logFile, 'utf8').catch(() => '');
  try {
    await waitForPort(port, '127.0.0.1', {
      timeoutMs: 10_000,
      intervalMs: 25,
      check: () => {
        if (spawnError) throw new Error(`${name} could not be started: ${spawnError.message}`);
        if (!isRunning(child)) throw new Error(`${name} exited during startup (${child.exitCode ?? child.signalCode}): ${output()}`);
      },
    });
  } catch (error) {
    await stopChild(child);
    const log = await readLog();
    await rm(dir, { recursive: true, force: true });
    throw new Error(`${(error as Error).message}\n${log.slice(-2000)}`, { cause: error });
  }
  const forget = onExit(() => {
    killQuietly(child.pid, 'SIGKILL');
    removeQuietly(dir);
  });
  return {
    host: '127.0.0.1',
    port,
    url,
    pid: child.pid ?? -1,
    log: readLog,
    stop: async () => {
      await stopChild(child);
      await rm(dir, { recursive: true, force: true });
      forget();
    },
  };
}

/** Create the system user Dante checks, or reset its password; bounded, idempotent. */
async function ensureSystemUser(credentials: ProxyCredentials): Promise<void> {
  if (!/^[a-z_][a-z0-9_-]{0,30}$/.test(credentials.user)) throw new Error(`startDante: ${credentials.user} is not a valid system user name`);
  if (/[:\n]/.test(credentials.pass)) throw new Error('startDante: the password must not contain ":" or a line break');
  if (process.getuid?.() !== 0) throw new Error('startDante with auth needs root: Dante checks the system user database');
  const exists = await run('getent', ['passwd', credentials.user]).then(() => true, () => false);
  if (!exists) await run('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', credentials.user]);
  await new Promise<void>((resolve, reject) => {
    const child = spawn('chpasswd', [], { stdio: ['pipe', 'ignore', 'pipe'] });
    const output = captureOutput(child);
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`chpasswd failed (${code}): ${output()}`))));
    child.stdin?.end(`${credentials.user}:${credentials.pass}\n`);
  });
}

/**
 * Starts a private Dante SOCKS server (`danted`) on 127.0.0.1 and a free port, from a config written
 * here, that lets clients on 127.0.0.0/8 reach 127.0.0.0/8 (SOCKS4 and SOCKS5, CONNECT only).
 *
 * @example
 * const dante = await startDante({ auth: { user: 'smtpkit-proxy', pass: 's3cret' } });
 * await connect({ host: '127.0.0.1', port, proxy: 'socks5://smtpkit-proxy:s3cret@127.0.0.1:' + dante.port });
 * await dante.stop();
 */
export async function startDante(options: DanteOptions = {}): Promise<TestProxy> {
  if (!existsSync(DANTED)) throw new Error(`Dante is not installed (no ${DANTED}): apt-get install dante-server`);
  if (options.auth) await ensureSystemUser(options.auth);
  const dir = await mkdtemp(join(tmpdir(), 'smtpkit-dante-'));
  await chmod(dir, 0o755);
  const port = await freePort();
  const logFile = join(dir, 'danted.log');
  const blocks = (options.blockPorts ?? []).map(
    (p) => `socks block {\n  from: 0.0.0.0/0 to: 127.0.0.1/32 port = ${p}\n  log: connect error\n}\n`,
  );
  const config = [
    `logoutput: ${logFile}`,
    `internal: 127.0.0.1 port = ${port}`,
    'external: 127.0.0.1',
    'clientmethod: none',
    `socksmethod: ${options.auth ? 'username' : 'none'}`,
    'user.privileged: root',
    'user.unprivileged: nobody',
    'client pass {\n  from: 127.0.0.0/8 to: 0.0.0.0/0\n  log: error\n}',
    ...blocks,
    'socks pass {\n  from: 127.0.0.0/8 to: 127.0.0.0/8\n  command: connect\n  protocol: tcp\n  log: connect error\n}',
    '',
  ].join('\n');
  await writeFile(join(dir, 'danted.conf'), config);
  return spawnProxy('danted', DANTED, ['-f', join(dir, 'danted.conf'), '-p', join(dir, 'danted.pid'), '-N', '1'], port, `socks5://127.0.0.1:${port}`, dir, logFile);
}

/**
 * Starts a private Tinyproxy (HTTP CONNECT) on 127.0.0.1 and a free port, in the foreground, from a
 * config written here, allowing clients on 127.0.0.1 only.
 */
export async function startTinyproxy(options: TinyproxyOptions = {}): Promise<TestProxy> {
  if (!existsSync(TINYPROXY)) throw new Error(`Tinyproxy is not installed (no ${TINYPROXY}): apt-get install tinyproxy`);
  const dir = await mkdtemp(join(tmpdir(), 'smtpkit-tinyproxy-'));
  await chmod(dir, 0o777); // the log is written after dropping to nobody
  const port = await freePort();
  const logFile = join(dir, 'tinyproxy.log');
  const asRoot = process.getuid?.() === 0 ? ['User nobody', 'Group nogroup'] : [];
  const config = [
    ...asRoot,
    `Port ${port}`,
    'Listen 127.0.0.1',
    'Timeout 60',
    `LogFile "${logFile}"`,
    'LogLevel Info',
    'MaxClients 16',
    'Allow 127.0.0.1',
    'DisableViaHeader Yes',
    ...(options.connectPorts ?? []).map((p) => `ConnectPort ${p}`),
    ...(options.auth ? [`BasicAuth ${options.auth.user} ${options.auth.pass}`] : []),
    '',
  ].join('\n');
  await writeFile(join(dir, 'tinyproxy.conf'), config);
  return spawnProxy('tinyproxy', TINYPROXY, ['-d', '-c', join(dir, 'tinyproxy.conf')], port, `http://127.0.0.1:${port}`, dir, logFile);
}

/**
 * An in-process TCP server on 127.0.0.1 and port 0 that accepts connections and never says a word:
 * a proxy (or server) that stalls, for timeout tests. It records how many connections it took.
 */
export async function startSilentServer(): Promise<TestProxy & { connections(): number }> {
  const sockets = new Set<Socket>();
  let count = 0;
  const server: Server = createServer((socket) => {
    count++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    host: '127.0.0.1',
    port,
    url: `socks5://127.0.0.1:${port}`,
    pid: -1,
    log: async () => `${count} connection(s)`,
    connections: () => count,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
