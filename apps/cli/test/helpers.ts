import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';

/** The built CLI: tests exercise what users run. */
export const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

/** The test password and token: no captured output may ever contain them. */
export const PASSWORD = 'pw-Sup3rSecret-7731';
export const TOKEN = 'ya29.tok-Zeta-0451-secret';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Every output ever captured, so a final test can grep them all for secrets. */
export const captured: string[] = [];

/** Run `node dist/cli.js ...args` asynchronously (the servers live in this process). */
export function runCli(
  args: string[],
  options: { env?: Record<string, string | undefined>; input?: string | Buffer; timeoutMs?: number } = {},
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, SMTPKIT_CONFIG: '/nonexistent/smtpkit.json' };
    for (const [k, v] of Object.entries(options.env ?? {})) if (v !== undefined) env[k] = v;
    if (options.env && 'SMTPKIT_CONFIG' in options.env && options.env.SMTPKIT_CONFIG === undefined) delete env.SMTPKIT_CONFIG;
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      captured.push(stdout, stderr);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

export interface Received {
  from: string;
  to: string[];
  raw: string;
}

export interface TestServer {
  port: number;
  messages: Received[];
  auths: Array<{ method: string; username: string }>;
  commands: string[];
  close(): Promise<void>;
}

/** An smtp-server on 127.0.0.1, port 0, that records what it receives. */
export function startServer(options: SMTPServerOptions = {}): Promise<TestServer> {
  const messages: Received[] = [];
  const auths: TestServer['auths'] = [];
  const commands: string[] = [];
  const server = new SMTPServer({
    logger: false,
    authOptional: true,
    disabledCommands: options.key ? [] : ['STARTTLS'],
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        messages.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        callback(null, 'Ok: queued as TEST1');
      });
    },
    onAuth(auth, _session, callback) {
      auths.push({ method: auth.method, username: auth.username ?? '' });
      const ok =
        auth.username === 'alice@example.com' &&
        (auth.method === 'XOAUTH2' ? auth.accessToken === TOKEN : auth.method === 'CRAM-MD5' ? auth.validatePassword(PASSWORD) : auth.password === PASSWORD);
      if (ok) callback(null, { user: auth.username });
      else if (auth.method === 'XOAUTH2') callback(null, { data: { status: '401', schemes: 'bearer', scope: 'mail' } });
      else callback(Object.assign(new Error('5.7.8 Authentication credentials invalid'), { responseCode: 535 }));
    },
    ...options,
  });
  server.on('error', () => {});
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: (server.server.address() as AddressInfo).port,
        messages,
        auths,
        commands,
        close: () => new Promise((r) => server.close(() => r())),
      });
    });
  });
}

/** A scratch directory with files for a test. */
export function scratch(files: Record<string, string | Buffer> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'smtpkit-cli-'));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}
