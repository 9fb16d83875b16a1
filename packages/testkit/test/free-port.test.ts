import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort, waitForPort } from '../src/index.js';

describe('freePort / waitForPort', () => {
  it('returns a port that can be bound on 127.0.0.1', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    await waitForPort(port, '127.0.0.1', { timeoutMs: 2000 });
    await new Promise((resolve) => server.close(resolve));
  });

  it('gives up after its timeout when nothing listens', async () => {
    const port = await freePort();
    await expect(waitForPort(port, '127.0.0.1', { timeoutMs: 200, intervalMs: 20 })).rejects.toThrow(
      `nothing accepted connections on 127.0.0.1:${port} within 200 ms`,
    );
  });
});
