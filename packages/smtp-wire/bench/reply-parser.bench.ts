// Replies parsed per second: pipelined single-line replies and full multi-line EHLO replies.
import { Buffer } from 'node:buffer';
import { bench, describe } from 'vitest';
import type { BenchOptions } from 'vitest';
import { ReplyParser } from '../dist/index.js';

const SINGLE = Buffer.from('250 2.1.5 Ok\r\n'.repeat(10_000));
const EHLO = Buffer.from(
  (
    '250-mail.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n' +
    '250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n'
  ).repeat(1_000),
);

/** A bench that parses `input` in `chunk`-sized pieces and prints replies per second. */
function rate(name: string, input: Buffer, chunk: number): [string, () => void, BenchOptions] {
  let replies = 0;
  let ms = 0;
  const fn = (): void => {
    const t = performance.now();
    const parser = new ReplyParser();
    for (let o = 0; o < input.length; o += chunk) replies += parser.push(input.subarray(o, o + chunk)).length;
    ms += performance.now() - t;
  };
  const options: BenchOptions = {
    time: 1500,
    setup: () => {
      replies = 0;
      ms = 0;
    },
    teardown: (_task, mode) => {
      if (mode === 'run') console.log(`[figure] ${name}: ${Math.round(replies / (ms / 1000)).toLocaleString('en')} replies/s`);
    },
  };
  return [name, fn, options];
}

describe('ReplyParser', () => {
  bench(...rate('single-line "250 2.1.5 Ok", 16 KiB chunks', SINGLE, 16 * 1024));
  bench(...rate('single-line "250 2.1.5 Ok", 7-byte chunks', SINGLE, 7));
  bench(...rate('10-line EHLO replies, 16 KiB chunks', EHLO, 16 * 1024));
});
