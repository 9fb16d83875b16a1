/**
 * @smtpkit/client/workers under workerd (Cloudflare's Workers runtime, the npm `workerd` binary): a Worker
 * bundled from the built entry sends through `cloudflare:sockets` to local smtp-server instances, with
 * STARTTLS and with implicit TLS, trusting the test CA through workerd's network `trustedCertificates`.
 * The test drives the Worker over HTTP and checks what the servers received.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { builtinModules, createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scenarios, startFaultServer } from '../src/testing.js';
import { freePort, generateCertificates, waitForPort, type TestCertificates } from '@smtpkit/testkit';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const USER = 'worker@example.com';
const PASS = 'worker-Secret-1';

interface Received {
  to: string[];
  secure: boolean;
  user?: string;
  raw: string;
}

interface WorkerAnswer {
  ok: boolean;
  accepted?: string[];
  transcript: string[];
  error?: { kind: string; code: string; message: string };
}

/** The Worker: POST a JSON request, it sends with @smtpkit/client/workers and answers what happened. */
const WORKER = `
import { sendMail, isSmtpError } from '@smtpkit/client/workers';
export default {
  async fetch(request) {
    const r = await request.json();
    const transcript = [];
    try {
      const result = await sendMail({
        ...r.connect,
        timeouts: { connect: 5000, greeting: 5000, starttls: 5000 },
        onTranscript: (e) => transcript.push(e.dir + ': ' + e.text),
        from: 'worker@example.com', to: [r.to], data: 'Subject: ' + r.token + '\\r\\n\\r\\nsent from a Worker\\r\\n',
      });
      return Response.json({ ok: true, accepted: result.accepted, transcript });
    } catch (error) {
      const e = isSmtpError(error) ? { kind: error.kind, code: error.code, message: error.message } : { kind: 'other', code: '', message: String(error) };
      return Response.json({ ok: false, error: e, transcript });
    }
  },
};
`;

function capnpString(text: string): string {
  return JSON.stringify(text);
}

/**
 * workerd config: one Worker behind two sockets; the outbound network of one trusts the test CA, the
 * other's trusts another certificate only. (workerd takes extra CAs per network service, in
 * `tlsOptions.trustedCertificates`; without tlsOptions it refuses startTls() on that connection.)
 */
function config(ca: string, otherCa: string, trustedPort: number, untrustedPort: number): string {
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "trusting", worker = .trusting),
    (name = "untrusting", worker = .untrusting),
    (name = "net-with-test-ca", network = (allow = ["local"], tlsOptions = (trustedCertificates = [${capnpString(ca)}]))),
    (name = "net-with-other-ca", network = (allow = ["local"], tlsOptions = (trustedCertificates = [${capnpString(otherCa)}]))),
  ],
  sockets = [
    (name = "trusting", address = "127.0.0.1:${trustedPort}", http = (), service = "trusting"),
    (name = "untrusting", address = "127.0.0.1:${untrustedPort}", http = (), service = "untrusting"),
  ],
);
const trusting :Workerd.Worker = (
  modules = [(name = "worker.js", esModule = embed "worker.bundle.js")],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ["nodejs_compat"],
  globalOutbound = "net-with-test-ca",
);
const untrusting :Workerd.Worker = (
  modules = [(name = "worker.js", esModule = embed "worker.bundle.js")],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ["nodejs_compat"],
  globalOutbound = "net-with-other-ca",
);
`;
}

describe('@smtpkit/client/workers under workerd', () => {
  let certs: TestCertificates;
  let dir: string;
  let workerd: ChildProcess | undefined;
  let workerdLog = '';
  let trustedPort: number;
  let untrustedPort: number;
  const servers: SMTPServer[] = [];
  const received: Received[] = [];
  const ports = { starttls: 0, implicit: 0, plain: 0, wrongHost: 0, expired: 0 };

  async function listen(name: keyof typeof ports, secure: boolean, pair: { key: string; cert: string } | null): Promise<void> {
    const server = new SMTPServer({
      secure,
      ...(pair ? { key: pair.key, cert: pair.cert } : { disabledCommands: ['STARTTLS'] }),
      authMethods: ['PLAIN', 'LOGIN'],
      authOptional: true,
      logger: false,
      onAuth(a, _s, cb) {
        if (a.username === USER && a.password === PASS) cb(null, { user: USER });
        else cb(Object.assign(new Error('Authentication credentials invalid'), { responseCode: 535 }));
      },
      onData(stream, session, cb) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          received.push({
            to: session.envelope.rcptTo.map((r) => r.address),
            secure: Boolean(session.secure),
            ...(session.user ? { user: String(session.user) } : {}),
            raw: Buffer.concat(chunks).toString('latin1'),
          });
          cb(null, 'queued');
        });
      },
    });
    server.on('error', () => {}); // the untrusting Worker hangs up mid-handshake: expected
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    servers.push(server);
    ports[name] = (server.server.address() as AddressInfo).port;
  }

  beforeAll(async () => {
    certs = await generateCertificates();
    await listen('starttls', false, certs);
    await listen('implicit', true, certs);
    await listen('plain', false, null);
    await listen('wrongHost', false, certs.wrongHost);
    await listen('expired', false, certs.expired);
    dir = await mkdtemp(join(tmpdir(), 'smtpkit-workerd-'));
    await writeFile(join(dir, 'worker.js'), WORKER);
    // Bundled as wrangler would: the built entry (dist/workers.js) and @smtpkit/wire; what the runtime
    // provides stays external.
    await build({
      entryPoints: [join(dir, 'worker.js')],
      outfile: join(dir, 'worker.bundle.js'),
      bundle: true,
      format: 'esm',
      platform: 'neutral',
      nodePaths: [resolve(here, '../node_modules')],
      alias: { '@smtpkit/client/workers': resolve(here, '../dist/workers.js') },
      external: ['cloudflare:sockets', ...builtinModules, ...builtinModules.map((m) => `node:${m}`)],
      logLevel: 'silent',
    });
    trustedPort = await freePort();
    untrustedPort = await freePort();
    await writeFile(join(dir, 'config.capnp'), config(certs.caCert, certs.selfSigned.cert, trustedPort, untrustedPort));
    const binary = join(dirname(require.resolve('workerd/package.json')), 'bin', 'workerd');
    workerd = spawn(binary, ['serve', join(dir, 'config.capnp')], { stdio: ['ignore', 'pipe', 'pipe'] });
    workerd.stdout?.on('data', (d: Buffer) => (workerdLog += d.toString()));
    workerd.stderr?.on('data', (d: Buffer) => (workerdLog += d.toString()));
    try {
      await waitForPort(trustedPort, '127.0.0.1', { timeoutMs: 20_000 });
      await waitForPort(untrustedPort, '127.0.0.1', { timeoutMs: 5_000 });
    } catch (error) {
      throw new Error(`workerd did not start: ${(error as Error).message}\n${workerdLog}`);
    }
  }, 60_000);

  afterAll(async () => {
    const running = (p: ChildProcess) => p.exitCode === null && p.signalCode === null;
    if (workerd?.pid !== undefined && running(workerd)) {
      const exited = new Promise((r) => workerd!.once('exit', r));
      process.kill(workerd.pid, 'SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
      if (running(workerd)) process.kill(workerd.pid, 'SIGKILL');
    }
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function ask(port: number, body: unknown): Promise<WorkerAnswer> {
    const res = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: JSON.stringify(body) });
    const text = await res.text();
    try {
      return JSON.parse(text) as WorkerAnswer;
    } catch {
      throw new Error(`the Worker answered ${res.status}: ${text}\n${workerdLog}`);
    }
  }

  it('STARTTLS with AUTH PLAIN: the Worker sends, the server receives it over TLS from the user', async () => {
    const to = 'starttls@example.com';
    const answer = await ask(trustedPort, {
      to,
      token: 'workers-starttls',
      connect: { host: 'localhost', port: ports.starttls, tls: 'starttls', auth: { user: USER, pass: PASS, method: 'PLAIN' } },
    });
    expect(answer.error, answer.transcript.join('\n')).toBeUndefined();
    expect(answer.accepted).toEqual([to]);
    expect(answer.transcript).toContain('C: STARTTLS');
    expect(answer.transcript.some((l) => /^\*: TLS up: .*verified by ca/.test(l))).toBe(true);
    expect(answer.transcript).toContain('C: AUTH PLAIN <redacted>');
    expect(answer.transcript.join('\n')).not.toContain(PASS);
    const got = received.find((m) => m.to.includes(to));
    expect(got).toMatchObject({ secure: true, user: USER });
    expect(got?.raw).toContain('Subject: workers-starttls');
  });

  it("implicit TLS (secureTransport: 'on'): delivered over TLS", async () => {
    const to = 'implicit@example.com';
    const answer = await ask(trustedPort, { to, token: 'workers-implicit', connect: { host: 'localhost', port: ports.implicit, tls: 'implicit' } });
    expect(answer.error, answer.transcript.join('\n')).toBeUndefined();
    expect(received.find((m) => m.to.includes(to))).toMatchObject({ secure: true });
  });

  it('plain SMTP (tls: none): delivered', async () => {
    const to = 'plain@example.com';
    const answer = await ask(trustedPort, { to, token: 'workers-plain', connect: { host: '127.0.0.1', port: ports.plain, tls: 'none' } });
    expect(answer.error, answer.transcript.join('\n')).toBeUndefined();
    expect(received.find((m) => m.to.includes(to))).toMatchObject({ secure: false });
  });

  it.each([
    ['an unknown CA (the runtime trusts another certificate)', 'untrusted', 'starttls', /invalid peer certificate: UnknownIssuer/],
    ['a certificate for another host', 'trusted', 'wrongHost', /certificate not valid for name "localhost"/],
    ['an expired certificate', 'trusted', 'expired', /invalid peer certificate: certificate expired/],
  ] as const)('refuses %s: kind tls, nothing sent after STARTTLS', async (_what, worker, server, reason) => {
    const to = `refused-${server}-${worker}@example.com`;
    const logFrom = workerdLog.length;
    const answer = await ask(worker === 'trusted' ? trustedPort : untrustedPort, {
      to,
      token: 'workers-refused',
      connect: { host: 'localhost', port: ports[server], tls: 'starttls' },
    });
    expect(answer.ok).toBe(false);
    expect(answer.error?.kind, JSON.stringify(answer)).toBe('tls');
    expect(answer.error?.code, JSON.stringify(answer)).toBe('ERR_SMTP_TLS_HANDSHAKE');
    // The Worker only hears "internal error; reference = …"; workerd logs the reason.
    for (let i = 0; i < 40 && !/TLS handshake failed/.test(workerdLog.slice(logFrom)); i++) await new Promise((r) => setTimeout(r, 50));
    expect(workerdLog.slice(logFrom)).toMatch(reason);
    expect(answer.transcript.filter((l) => l.startsWith('C: ')).at(-1)).toBe('C: STARTTLS');
    expect(received.some((m) => m.to.includes(to))).toBe(false);
  });

  it('STARTTLS response injection (a reply after the 220, in the same segment): refused, nothing sent inside TLS', async () => {
    const server = await startFaultServer(
      [...scenarios.plainGreeting(), ...scenarios.ehlo({ starttls: true }), ...scenarios.startTls({ injectPlaintext: '250 injected\r\n' })],
      { tls: { key: certs.key, cert: certs.cert }, lingerMs: 500 },
    );
    try {
      const answer = await ask(trustedPort, { to: 'x@example.com', token: 'workers-injection', connect: { host: 'localhost', port: server.port, tls: 'starttls' } });
      expect(answer.error?.code, JSON.stringify(answer)).toBe('ERR_SMTP_STARTTLS_INJECTION');
      const [conn] = await server.waitForConnections(1);
      expect(conn?.chunks.some((c) => c.tls)).toBe(false);
    } finally {
      await server.close();
    }
  });

  it('STARTTLS required but not offered: kind tls before MAIL FROM', async () => {
    const answer = await ask(trustedPort, { to: 'x@example.com', token: 'workers-no-starttls', connect: { host: '127.0.0.1', port: ports.plain, tls: 'starttls' } });
    expect(answer.error?.code).toBe('ERR_SMTP_STARTTLS_UNAVAILABLE');
    expect(answer.transcript.some((l) => l.startsWith('C: MAIL'))).toBe(false);
  });

  it('options that need Node (ca, pin, servername…) are refused with a clear input error', async () => {
    const answer = await ask(trustedPort, { to: 'x@example.com', token: 't', connect: { host: 'localhost', port: ports.starttls, ca: certs.caCert } });
    expect(answer.error).toMatchObject({ kind: 'input', code: 'ERR_SMTP_INPUT' });
    expect(answer.error?.message).toMatch(/`ca` is not available on Workers/);
  });
});
