import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { sendMail } from '../src/index.js';
import { startTestServer, type TestServer } from './helpers/smtp-server.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** The README's quick-start block, run as written (only the port differs: tests never use fixed ports). */
function quickStart(): string {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('## Quick start'));
  const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error('README has no quick-start example');
  return block;
}

describe('README', () => {
  it('the quick-start example runs against a HELO-speaking server', async () => {
    server = await startTestServer({ hideSTARTTLS: true, record: true });
    const code = quickStart()
      .replace("import { sendMail } from '@smtpkit/client';", '')
      .replace('port: 1025', `port: ${server.port}`);
    expect(code).toContain(`port: ${server.port}`);
    const printed: unknown[][] = [];
    const fakeConsole = { log: (...args: unknown[]) => printed.push(args) };
    const AsyncFunction = Object.getPrototypeOf(async () => undefined).constructor as new (...args: string[]) => (...a: unknown[]) => Promise<void>;
    await new AsyncFunction('sendMail', 'console', code)(sendMail, fakeConsole);
    expect(server.messages[0]?.data.toString()).toBe('From: alice@example.com\r\nTo: bob@example.com\r\nSubject: Hello\r\n\r\nHi Bob!\r\n');
    expect(server.clientBytes().startsWith('HELO localhost\r\nMAIL FROM:<alice@example.com>\r\n')).toBe(true);
    expect(printed.at(-1)?.[0]).toEqual(['bob@example.com']);
    expect(printed.some((args) => args[0] === 'C: HELO localhost')).toBe(true);
  });
});
