import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Queue, RecipientEvent, MessageEvent } from '../../src/index.js';

export async function tempDir(prefix = 'smtpkit-queue-'): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export function rawMessage(id: string, to = 'someone@example.test'): string {
  return `From: sender@example.org\r\nTo: ${to}\r\nSubject: test ${id}\r\nMessage-ID: <${id}@example.org>\r\n\r\nHello ${id}\r\n`;
}

/** Resolves once `count` message events arrived (bounded by `timeoutMs`). */
export function collect(queue: Queue, count: number, timeoutMs = 20_000): { recipients: RecipientEvent[]; messages: MessageEvent[]; done: Promise<void> } {
  const recipients: RecipientEvent[] = [];
  const messages: MessageEvent[] = [];
  queue.on('recipient', (e) => recipients.push(e));
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${messages.length} of ${count} messages finished in ${timeoutMs} ms`)), timeoutMs);
    queue.on('message', (e) => {
      messages.push(e);
      if (messages.length >= count) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return { recipients, messages, done };
}
