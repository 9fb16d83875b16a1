import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import PostalMime from 'postal-mime';
import { describe, expect, it, vi } from 'vitest';

const read = (path: string): string => readFileSync(fileURLToPath(new URL(path, import.meta.url)), 'utf8');

describe('README example', () => {
  it('is the same code as examples/readme.ts', () => {
    const block = /```ts\n([\s\S]*?)```/.exec(read('../README.md'))?.[1];
    expect(block).toBe(read('../examples/readme.ts'));
  });

  it('runs and prints a message with a text part and an image', async () => {
    const printed: unknown[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void printed.push(...args));
    try {
      await import('../examples/readme.js');
    } finally {
      spy.mockRestore();
    }
    const text = printed[0] as string;
    const parsed = await PostalMime.parse(text);
    expect(parsed.subject).toBe('Grüße from the lab');
    expect(parsed.attachments.map((a) => [a.filename, a.mimeType])).toEqual([['dot.png', 'image/png']]);
    expect(text).not.toContain('audit@');
    expect(printed[1]).toEqual({ from: 'zoe@example.com', to: ['bob@example.org', 'audit@example.net'] });
    expect(printed[2]).toBe(Buffer.byteLength(text));
  });
});
