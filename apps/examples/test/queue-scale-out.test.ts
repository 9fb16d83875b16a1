import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitForPort } from '@smtpkit/testkit';
import { describe, expect, it } from 'vitest';

const EXAMPLE = fileURLToPath(new URL('../dist/queue-scale-out.js', import.meta.url));

describe('queue-scale-out example (a private redis-server, 3 worker processes)', () => {
  it('delivers every message once, the work shared by the workers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'smtpkit-scaleout-'));
    const port = await freePort();
    const redis = spawn('/usr/bin/redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--maxmemory-policy', 'noeviction', '--daemonize', 'no'], { stdio: 'ignore' });
    try {
      await waitForPort(port, '127.0.0.1', { timeoutMs: 10_000 });
      const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
        const child = spawn(process.execPath, [EXAMPLE, '--redis', `redis://127.0.0.1:${port}`, '--workers', '3', '--messages', '60'], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
        child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
        const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
        child.on('error', reject);
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr });
        });
      });
      expect(out.stderr).toBe('');
      expect(out.code).toBe(0);
      expect(out.stdout).toMatch(/60 messages finished/);
      const perWorker = /delivered per worker: ([\d, ]+); the server received (\d+)/.exec(out.stdout);
      expect(perWorker?.[2]).toBe('60');
      expect(perWorker![1]!.split(', ').map(Number).reduce((a, b) => a + b, 0)).toBe(60);
    } finally {
      redis.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
