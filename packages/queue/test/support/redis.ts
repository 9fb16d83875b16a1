import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from '@smtpkit/testkit';

const REDIS_SERVER = '/usr/bin/redis-server';

/** A private redis-server on 127.0.0.1: AOF with fsync on every write, its own directory, stopped by PID. */
export interface PrivateRedis {
  port: number;
  url: string;
  dir: string;
  readonly pid: number;
  /** SIGKILL, as a crash. */
  kill(): Promise<void>;
  /** Start again from the same directory (recovering from the AOF). */
  restart(): Promise<void>;
  /** Stop and remove the directory. */
  stop(): Promise<void>;
}

export async function startRedis(): Promise<PrivateRedis> {
  if (!existsSync(REDIS_SERVER)) throw new Error(`redis-server is not installed (no ${REDIS_SERVER}); apt-get install redis-server`);
  const dir = await mkdtemp(join(tmpdir(), 'smtpkit-redis-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const launch = async (): Promise<void> => {
    const c = spawn(REDIS_SERVER, [
      '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', '',
      '--maxmemory-policy', 'noeviction', '--daemonize', 'no', '--protected-mode', 'yes', '--logfile', join(dir, 'redis.log'),
    ], { stdio: 'ignore' });
    child = c;
    exited = new Promise((resolve) => c.once('exit', () => resolve()));
    await waitForPort(port, '127.0.0.1', { timeoutMs: 10_000 });
  };
  const kill = async (): Promise<void> => {
    child?.kill('SIGKILL');
    await exited;
  };
  await launch();
  return {
    port, dir, url: `redis://127.0.0.1:${port}`,
    get pid() {
      return child?.pid ?? 0;
    },
    kill,
    restart: launch,
    async stop() {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
