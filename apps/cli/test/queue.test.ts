import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, runCli, scratch, startServer, type TestServer } from './helpers.js';

const env = { SMTPKIT_CONFIG: '/nonexistent/smtpkit.json' };

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('smtpkit queue add|run|status|retry|cancel (smtp-server on 127.0.0.1:0)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({
      onRcptTo(address, _session, callback) {
        if (address.address.startsWith('bounce-')) callback(Object.assign(new Error('5.1.1 no such user'), { responseCode: 550 }));
        else if (address.address.startsWith('later-')) callback(Object.assign(new Error('4.2.1 mailbox busy'), { responseCode: 451 }));
        else callback();
      },
    });
  });
  afterAll(() => server.close());

  it('queues while `queue run` is running, delivers, bounces with a DSN, and reports each state', async () => {
    const spool = scratch();
    const add = await runCli(['queue', 'add', '--spool', spool, '-f', 'alice@example.com', '-t', 'bob@example.com', '-t', 'bounce-carol@example.com', '--subject', 'first', '--body', 'one'], { env });
    expect(add.stderr).toBe('');
    expect(add.code).toBe(0);
    const firstId = add.stdout.trim();
    expect(firstId).toMatch(/^[0-9a-z]+$/);
    const queued = JSON.parse((await runCli(['queue', 'status', '--spool', spool, firstId, '--json'], { env })).stdout);
    expect(queued.recipients.map((r: { state: string }) => r.state)).toEqual(['queued', 'queued']);

    const run = spawn(process.execPath, [CLI, 'queue', 'run', '--spool', spool, '--relay', `127.0.0.1:${server.port}`, '--tls', 'none', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let events = '';
    run.stdout.on('data', (c: Buffer) => (events += c.toString('utf8')));
    try {
      // A second process adds to the spool the first one is delivering from.
      const second = await runCli(['queue', 'add', '--spool', spool, '-f', 'alice@example.com', '-t', 'dave@example.com', '--subject', 'second', '--body', 'two', '--json'], { env });
      expect(second.code).toBe(0);
      const secondId = JSON.parse(second.stdout).id as string;
      await until(() => server.messages.some((m) => m.raw.includes('Subject: second')) && server.messages.some((m) => m.from === ''));
      await until(async () => {
        const s = JSON.parse((await runCli(['queue', 'status', '--spool', spool, secondId, '--json'], { env })).stdout);
        return s.final === true;
      });
    } finally {
      run.kill('SIGTERM');
      await new Promise((r) => run.once('exit', r));
    }
    expect(run.exitCode).toBe(0);
    const states = events.trim().split('\n').map((l) => JSON.parse(l)).map((e) => `${e.recipient} ${e.state}`);
    expect(states).toContain('bob@example.com delivered');
    expect(states).toContain('bounce-carol@example.com bounced');
    expect(states).toContain('dave@example.com delivered');
    const dsn = server.messages.find((m) => m.from === '');
    expect(dsn?.to).toEqual(['alice@example.com']);
    expect(dsn?.raw).toMatch(/Final-Recipient: rfc822; bounce-carol@example.com/);
    const status = await runCli(['queue', 'status', '--spool', spool], { env });
    expect(status.stdout).toMatch(/bob@example.com delivered attempts=1 250/);
    expect(status.stdout).toMatch(/bounce-carol@example.com bounced attempts=1 550/);
  });

  it('run --once leaves a deferred recipient for later; retry makes it due; cancel ends it', async () => {
    const spool = scratch();
    const { stdout } = await runCli(['queue', 'add', '--spool', spool, '-f', 'alice@example.com', '-t', 'later-erin@example.com', '--subject', 's', '--body', 'b'], { env });
    const id = stdout.trim();
    const once = await runCli(['queue', 'run', '--spool', spool, '--relay', `127.0.0.1:${server.port}`, '--tls', 'none', '--once'], { env });
    expect(once.code).toBe(0);
    expect(once.stdout).toMatch(/later-erin@example.com deferred \(attempt 1\) 451 4\.2\.1/);
    expect((await runCli(['queue', 'retry', '--spool', spool, 'example.com'], { env })).stdout).toMatch(/1 recipient due now/);
    const s = JSON.parse((await runCli(['queue', 'status', '--spool', spool, id, '--json'], { env })).stdout);
    expect(s.recipients[0].nextAttemptAt).toBeLessThanOrEqual(Date.now());
    const cancel = await runCli(['queue', 'cancel', '--spool', spool, id], { env });
    expect(cancel.stdout).toMatch(/cancelled/);
    const after = JSON.parse((await runCli(['queue', 'status', '--spool', spool, id, '--json'], { env })).stdout);
    expect(after).toMatchObject({ final: true, cancelled: true });
    expect((await runCli(['queue', 'cancel', '--spool', spool, id], { env })).code).toBe(65);
  });

  it('refuses bad flags with a usage error and queues nothing', async () => {
    const spool = scratch();
    expect((await runCli(['queue', 'add', '--spool', spool, '-f', 'alice@example.com', '--body', 'x'], { env })).code).toBe(64);
    expect((await runCli(['queue', 'run', '--spool', spool, '--relay', 'host:notaport'], { env })).code).toBe(64);
    expect((await runCli(['queue', 'status', '--spool', spool], { env })).stdout).toMatch(/the spool is empty/);
  });
});

describe('smtpkit queue with --redis (a private redis-server)', () => {
  it('adds, runs once and reports status through BullMQ', async () => {
    const { freePort, waitForPort } = await import('@smtpkit/testkit');
    const dir = scratch();
    const port = await freePort();
    const redis = spawn('/usr/bin/redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--maxmemory-policy', 'noeviction', '--daemonize', 'no'], { stdio: 'ignore' });
    const server = await startServer();
    try {
      await waitForPort(port, '127.0.0.1', { timeoutMs: 10_000 });
      const url = `redis://127.0.0.1:${port}`;
      const add = await runCli(['queue', 'add', '--redis', url, '-f', 'alice@example.com', '-t', 'bob@example.com', '--subject', 'via redis', '--body', 'x'], { env });
      expect(add.stderr).toBe('');
      const id = add.stdout.trim();
      const run = await runCli(['queue', 'run', '--redis', url, '--relay', `127.0.0.1:${server.port}`, '--tls', 'none', '--once'], { env });
      expect(run.stdout).toMatch(/bob@example.com delivered/);
      expect(server.messages.map((m) => m.to)).toEqual([['bob@example.com']]);
      const status = JSON.parse((await runCli(['queue', 'status', '--redis', url, id, '--json'], { env })).stdout);
      expect(status).toMatchObject({ final: true, recipients: [{ recipient: 'bob@example.com', state: 'delivered' }] });
    } finally {
      redis.kill('SIGKILL');
      await server.close();
    }
  });
});
