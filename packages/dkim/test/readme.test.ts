import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';

const read = (path: string): string => readFileSync(fileURLToPath(new URL(path, import.meta.url)), 'utf8');

describe('README example', () => {
  it('is the same code as examples/readme.ts', () => {
    const block = /```ts\n([\s\S]*?)```/.exec(read('../README.md'))?.[1];
    expect(block).toBe(read('../examples/readme.ts'));
  });

  it('runs: two signatures, both pass', async () => {
    const printed: unknown[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void printed.push(...args));
    try {
      await import('../examples/readme.js');
    } finally {
      spy.mockRestore();
    }
    expect(printed[0]).toMatch(/^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/relaxed; d=example.com;\r\n s=r2026;/);
    expect(printed[1]).toEqual(['r2026: pass', 'e2026: pass']);
  });
});
