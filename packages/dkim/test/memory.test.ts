// Sign and send a ~500 MB message in bounded memory: the two-pass path (a reusable mime message read
// twice, nothing buffered) measured in a child process against smtp-sink. RSS growth must stay under
// 64 MB. (The spooled path, an .eml on stdin, is measured in apps/cli.)
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSmtpSink } from '@smtpkit/testkit';
import type { SmtpSink } from '@smtpkit/testkit';
import { runProcess } from './verifiers.js';

const CHILD = fileURLToPath(new URL('./memory/sign-and-send.ts', import.meta.url));
const MB = 1024 * 1024;
// A 370 MB attachment is a ~500 MB message once base64-encoded (4/3, plus line ends).
const ATTACHMENT = 370 * MB;

let sink: SmtpSink;
beforeAll(async () => {
  sink = await startSmtpSink();
});
afterAll(async () => {
  await sink?.stop();
});

async function runChild(): Promise<{ baseline: number; peak: number; size: number; code: number }> {
  const out = await runProcess(process.execPath, ['--import', 'tsx', CHILD, String(sink.port), String(ATTACHMENT)], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    timeoutMs: 400_000,
  });
  return JSON.parse(out.trim().split('\n').pop() as string);
}

describe('memory: sign and send ~500 MB', () => {
  it('two passes over a reusable mime message: RSS grows less than 64 MB, the server says 250', async () => {
    const r = await runChild();
    const growth = (r.peak - r.baseline) / MB;
    console.log(`two-pass: ${(r.size / MB).toFixed(0)} MiB signed and sent, RSS ${(r.baseline / MB).toFixed(0)} → ${(r.peak / MB).toFixed(0)} MiB (+${growth.toFixed(1)} MiB)`);
    expect(r.code).toBe(250);
    expect(r.size).toBeGreaterThan(500 * 1000 * 1000);
    expect(growth).toBeLessThan(64);
  }, 420_000);
});
