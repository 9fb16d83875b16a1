// Drives a ClientTransaction the way a session does, with the server's replies from bytes cut into chunks,
// and records what the client would write: the tables and properties of client-transaction.test.ts use it.
import { Buffer } from 'node:buffer';
import type { ClientTransaction } from '../src/client-transaction.js';
import { ReplyParser } from '../src/reply-parser.js';
import type { Reply } from '../src/reply.js';
import type { TransactionOutcome } from '../src/transaction-outcome.js';

/** What the client wrote (each line as logged; data as `<chunk n bytes>` / `<message>`) and how it ended. */
export interface DriveResult {
  lines: string[];
  /** One entry per write: the lines of that write. */
  writes: string[][];
  outcome?: TransactionOutcome;
  violation?: string;
  /** Replies the server sent that the transaction never asked for. */
  unread: number;
}

/** Where the client's replies come from: fixed bytes in chunks, or a function of what was written. */
export type ReplySource = { chunks: Uint8Array[] } | { answer: (line: string) => string[] };

/** Sizes of the chunks of a streamed BDAT body (default: one chunk of 10 octets). */
export interface DriveOptions {
  bdatChunks?: number[];
}

const MAX_STEPS = 10_000;

/**
 * Runs `tx` to its end. With `chunks`, replies are parsed from those bytes in order; with `answer`, each
 * written line (`<message>` for a DATA body, `<chunk n bytes>` for BDAT data) gets the reply lines it returns.
 */
export function drive(tx: ClientTransaction, source: ReplySource, options: DriveOptions = {}): DriveResult {
  const parser = new ReplyParser();
  const ready: Reply[] = [];
  const fixed = 'chunks' in source ? source.chunks : undefined;
  let nextChunk = 0;
  const result: DriveResult = { lines: [], writes: [], unread: 0 };
  const hear = (line: string): void => {
    result.lines.push(line);
    if ('answer' in source) for (const r of source.answer(line)) ready.push(...parser.push(Buffer.from(`${r}\r\n`)));
  };
  const next = (): Reply => {
    while (ready.length === 0 && fixed && nextChunk < fixed.length) ready.push(...parser.push(fixed[nextChunk++] as Uint8Array));
    const reply = ready.shift();
    if (!reply) throw new Error(`no reply left for the client after ${JSON.stringify(result.lines)}`);
    return reply;
  };
  const write = (lines: string[]): void => {
    result.writes.push(lines);
    for (const l of lines) hear(l);
  };
  let action = tx.start();
  for (let step = 0; step < MAX_STEPS; step++) {
    switch (action.type) {
      case 'write':
      case 'reset':
        write(action.commands.flatMap((c) => (c.data ? [c.logText, `<chunk ${c.data.length} bytes>`] : [c.logText])));
        action = tx.receive(next());
        break;
      case 'read':
        action = tx.receive(next());
        break;
      case 'body':
        if (action.via === 'DATA') {
          write(['<message>']);
          action = tx.receive(next());
          break;
        }
        action = streamBdat(tx, options.bdatChunks ?? [10], write, next);
        break;
      case 'violation':
        result.violation = action.error.message;
        return finish(result, ready, parser, fixed, nextChunk);
      case 'done':
        result.outcome = action.outcome;
        return finish(result, ready, parser, fixed, nextChunk);
    }
  }
  throw new Error(`no end after ${MAX_STEPS} steps`);
}

/** BDAT chunks in lock-step: each written, then its reply; stops when the machine says anything but go on. */
function streamBdat(tx: ClientTransaction, sizes: number[], write: (lines: string[]) => void, next: () => Reply) {
  for (let i = 0; i < sizes.length; i++) {
    const cmd = tx.bdatChunk(new Uint8Array(sizes[i] as number).fill(0x78), i === sizes.length - 1);
    write([cmd.logText, `<chunk ${cmd.data?.length} bytes>`]);
    const action = tx.receive(next());
    if (action.type !== 'body') return action;
  }
  throw new Error('the last chunk was answered and the transaction went on');
}

function finish(result: DriveResult, ready: Reply[], parser: ReplyParser, fixed: Uint8Array[] | undefined, nextChunk: number): DriveResult {
  let unread = ready.length;
  for (let i = nextChunk; fixed && i < fixed.length; i++) unread += parser.push(fixed[i] as Uint8Array).length;
  result.unread = unread;
  return result;
}

/** The server's replies as bytes: each entry one reply line, CRLF added. */
export function replyBytes(lines: readonly string[]): Buffer {
  return Buffer.from(lines.map((l) => `${l}\r\n`).join(''), 'utf8');
}
