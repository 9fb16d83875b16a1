import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSmtpSink, type SmtpSink } from '@smtpkit/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, runCli, scratch } from './helpers.js';

// The spooled path in bounded memory: ~500 MB of .eml on stdin, signed (RSA + Ed25519) and sent to
// smtp-sink by the built CLI. The spool holds 1 MiB in memory, the rest in a 0600 file removed at the
// end. The CLI's peak RSS (VmHWM, read from /proc while it runs) may exceed that of a 1 KB send by
// less than 64 MB.

const MB = 1024 * 1024;
let sink: SmtpSink;
let dir: string;

beforeAll(async () => {
  sink = await startSmtpSink();
  dir = scratch({});
  for (const [type, selector] of [['rsa', 'r1'], ['ed25519', 'e1']]) {
    const r = await runCli(['dkim', 'keygen', '--type', type as string, '--domain', 'example.com', '--selector', selector as string, '--out', join(dir, 'keys')]);
    expect(r.code, r.stderr).toBe(0);
  }
}, 60_000);
afterAll(async () => {
  await sink?.stop();
});

/** Runs `smtpkit send --eml -` with `lines` 78-octet body lines on stdin; returns the exit code and peak RSS. */
async function sendSpooled(lines: number, tmp: string): Promise<{ code: number | null; peak: number; stderr: string }> {
  const child = spawn(
    process.execPath,
    [CLI, 'send', '-p', String(sink.port), '-f', 'alice@example.com', '--eml', '-', '--read-recipients',
      '--dkim', `example.com:r1:${join(dir, 'keys', 'r1.private')}`, '--dkim', `example.com:e1:${join(dir, 'keys', 'e1.private')}`],
    { env: { PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: tmp, SMTPKIT_CONFIG: '/nonexistent/smtpkit.json' }, stdio: ['pipe', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let peak = 0;
  const poll = setInterval(() => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) peak = Math.max(peak, Number(m[1]) * 1024);
    } catch {
      // the process is gone
    }
  }, 50);
  const killer = setTimeout(() => child.kill('SIGKILL'), 500_000);
  try {
    child.stdin.on('error', () => undefined);
    child.stdin.write('From: alice@example.com\r\nTo: bob@example.com\r\nSubject: spooled half gigabyte\r\nMIME-Version: 1.0\r\n\r\n');
    const line = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/ABCDEFGHIJKL\r\n';
    const block = Buffer.from(line.repeat(8192)); // 624 KiB
    for (let sent = 0; sent < lines; sent += 8192) {
      const chunk = lines - sent >= 8192 ? block : block.subarray(0, (lines - sent) * line.length);
      if (!child.stdin.write(chunk)) await once(child.stdin, 'drain');
    }
    child.stdin.end();
    const [code] = (await once(child, 'exit')) as [number | null];
    return { code, peak, stderr };
  } finally {
    clearInterval(poll);
    clearTimeout(killer);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

describe('memory: smtpkit send --eml - --dkim, ~500 MB spooled', () => {
  it('RSS grows less than 64 MB over a 1 KB send; the spool file is gone afterwards', async () => {
    const tmp = scratch({});
    const small = await sendSpooled(10, tmp);
    expect(small.code, small.stderr).toBe(0);
    const big = await sendSpooled(Math.ceil((500 * 1000 * 1000) / 78), tmp);
    expect(big.code, big.stderr).toBe(0);
    const growth = (big.peak - small.peak) / MB;
    console.log(`spool path: peak RSS ${(small.peak / MB).toFixed(0)} MiB (1 KB) → ${(big.peak / MB).toFixed(0)} MiB (500 MB): +${growth.toFixed(1)} MiB`);
    expect(small.peak).toBeGreaterThan(0);
    expect(growth).toBeLessThan(64);
    expect(readdirSync(tmp)).toEqual([]);
  }, 600_000);
});
