import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { startPostfix } from '@smtpkit/testkit';

/** A server the bench started and must stop. */
export interface BenchServer {
  readonly name: string;
  readonly port: number;
  /** CPU time the server process has used so far, µs; undefined where the system does not say. */
  cpuUs?(): Promise<number | undefined>;
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

async function stopChild(child: ChildProcess, timeoutMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
}

/**
 * CPU time of a single-threaded process from Linux's `/proc/PID/schedstat` (its first field: nanoseconds on a
 * CPU), which unlike `/proc/PID/stat` is not rounded to clock ticks. Undefined elsewhere.
 */
async function processCpuUs(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  try {
    const ns = Number((await readFile(`/proc/${pid}/schedstat`, 'utf8')).split(' ')[0]);
    return Number.isFinite(ns) ? ns / 1000 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Postfix's `smtp-sink` on a loopback port: accepts everything, keeps nothing. It offers PIPELINING and 8BITMIME
 * but not CHUNKING. As root it needs `-u` to drop privileges after binding. Started here rather than with the
 * test kit's startSmtpSink so that it runs without `-c` (a per-message counter written to a pipe is server work that
 * would be billed to every client).
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
  return { name: 'smtp-sink', port, cpuUs: () => processCpuUs(child.pid), stop: () => stopChild(child) };
}

/**
 * A private Postfix `smtpd` (the test kit's instance) whose every accepted message goes to the `discard`
 * transport. Unlike smtp-sink it offers CHUNKING (RFC 3030), so BDAT can be measured.
 */
export async function startPostfixDiscard(): Promise<BenchServer> {
  const postfix = await startPostfix({ discard: true, chunking: true, pipelining: true, domains: ['example.com'] });
  let stopped: Promise<void> | undefined;
  return { name: 'postfix smtpd (discard)', port: postfix.port, stop: () => (stopped ??= postfix.stop()) };
}
