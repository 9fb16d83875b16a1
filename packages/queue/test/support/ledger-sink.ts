import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';

/**
 * A fault-injecting SMTP sink for the queue's tests: speaks enough ESMTP (PIPELINING, 8BITMIME,
 * ENHANCEDSTATUSCODES) for the client, answers per recipient by the address's local part, injects connection
 * faults from a seeded random source, and keeps a ledger of every (message, recipient) it accepted, written and
 * fsynced before its 250 goes out.
 *
 * Local-part conventions: `defer<N>-…` gets `451 4.3.0` for its first N RCPTs (per message), `bounce-…` gets
 * `550 5.1.1`, `slow-…` gets `450 4.7.0 rate limited` on its first RCPT. Everything else is accepted.
 */
export interface SinkFaults {
  /** Chance a connection is greeted with `421 4.3.2` and closed. */
  greeting421?: number;
  /** Chance the connection is dropped after the final dot: the message IS accepted (in the ledger), no reply is sent. */
  dropAfterDot?: number;
  /** Chance the connection is dropped after the final dot WITHOUT accepting the message. */
  dropBeforeAccept?: number;
  /** Chance the final reply is delayed by `delayMs` (past the client's timeout), then the connection closed. */
  delayReply?: number;
  delayMs?: number;
  /** `452 4.5.3` after this many accepted recipients in one transaction (RFC 5321 §4.5.3.1.10). */
  maxRecipients?: number;
}

export interface LedgerEntry {
  /** The message's `Message-ID` (or the queue id a DSN reports, prefixed `dsn:`). */
  key: string;
  rcpt: string;
  from: string;
  /** An injected fault left the client without the reply: a duplicate of this entry is allowed. */
  ambiguous?: boolean;
  at: number;
}

export interface LedgerSink {
  port: number;
  host: '127.0.0.1';
  entries: LedgerEntry[];
  /** DSN bodies received (from `<>`). */
  dsns: Array<{ to: string; body: string }>;
  /** Most sessions open at once, as the sink saw them (from the connection to QUIT or the close). */
  maxSessions: number;
  /** Time of each accepted connection (for sessions-per-minute checks). */
  connections: number[];
  /** Time of each accepted transaction (for messages-per-second checks). */
  transactions: number[];
  faults: SinkFaults;
  close(): Promise<void>;
}

export interface LedgerSinkOptions {
  faults?: SinkFaults;
  seed?: number;
  /** Append the ledger to this file (one JSON line per entry, fsynced before the 250). */
  ledgerPath?: string;
}

/** mulberry32: a small seeded PRNG, so a failing round replays from its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function messageKey(body: string): string {
  const report = /^X-Smtpkit-Queue-ID: (\S+)/m.exec(body);
  if (report?.[1] !== undefined && /^Content-Type: message\/delivery-status/m.test(body)) return `dsn:${report[1]}`;
  return /^Message-ID:\s*(\S+)/im.exec(body)?.[1] ?? 'no-message-id';
}

export async function startLedgerSink(options: LedgerSinkOptions = {}): Promise<LedgerSink> {
  const random = seededRandom(options.seed ?? 1);
  const faults: SinkFaults = { ...(options.faults ?? {}) };
  const fd = options.ledgerPath === undefined ? undefined : openSync(options.ledgerPath, 'a');
  const rcptCounts = new Map<string, number>();
  const sockets = new Set<Socket>();
  let open = 0;
  const sink: LedgerSink = {
    port: 0, host: '127.0.0.1', entries: [], dsns: [], maxSessions: 0, connections: [], transactions: [], faults,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (fd !== undefined) closeSync(fd);
    },
  };
  const record = (entries: LedgerEntry[]): void => {
    sink.entries.push(...entries);
    if (fd === undefined) return;
    writeSync(fd, entries.map((e) => `${JSON.stringify(e)}\n`).join(''));
    fsyncSync(fd);
  };

  const server: Server = createServer((socket) => {
    sockets.add(socket);
    open++;
    sink.maxSessions = Math.max(sink.maxSessions, open);
    sink.connections.push(Date.now());
    // A session ends at QUIT (RFC 5321 §4.1.1.10: 221, then the close) or when the client's side of the connection
    // goes (its FIN: a killed client's kernel sends it at once; 'close' follows only a loop turn later, after a new
    // client's connection may already have been accepted in the same turn), whichever first.
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      open--;
    };
    socket.on('end', end);
    socket.on('close', () => {
      sockets.delete(socket);
      end();
    });
    socket.on('error', () => {});
    const write = (line: string): void => {
      if (!socket.destroyed) socket.write(`${line}\r\n`);
    };
    if (random() < (faults.greeting421 ?? 0)) {
      socket.end('421 4.3.2 sink busy, try later\r\n');
      return;
    }
    write('220 sink.test ESMTP ledger sink');
    let buffer = '';
    let inData = false;
    let from = '';
    let rcpts: string[] = [];
    const onLine = (line: string): void => {
      const verb = line.slice(0, 4).toUpperCase();
      if (verb === 'EHLO') write('250-sink.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250 SIZE 52428800');
      else if (verb === 'HELO') write('250 sink.test');
      else if (verb === 'MAIL') {
        from = /<([^>]*)>/.exec(line)?.[1] ?? '';
        rcpts = [];
        write('250 2.1.0 ok');
      } else if (verb === 'RCPT') {
        const rcpt = /<([^>]*)>/.exec(line)?.[1] ?? '';
        const local = rcpt.slice(0, rcpt.lastIndexOf('@'));
        const count = (rcptCounts.get(rcpt) ?? 0) + 1;
        rcptCounts.set(rcpt, count);
        const defer = /^defer(\d+)-/.exec(local);
        if (faults.maxRecipients !== undefined && rcpts.length >= faults.maxRecipients) write('452 4.5.3 too many recipients');
        else if (defer !== null && count <= Number(defer[1])) write('451 4.3.0 try again later');
        else if (local.startsWith('bounce-')) write('550 5.1.1 no such user');
        else if (local.startsWith('slow-') && count === 1) write('450 4.7.0 rate limited, slow down');
        else {
          rcpts.push(rcpt);
          write('250 2.1.5 ok');
        }
      } else if (verb === 'DATA') {
        if (rcpts.length === 0) write('554 5.5.1 no valid recipients');
        else {
          inData = true;
          write('354 go ahead');
        }
      } else if (verb === 'RSET') {
        rcpts = [];
        write('250 2.0.0 ok');
      } else if (verb === 'NOOP') write('250 2.0.0 ok');
      else if (verb === 'QUIT') {
        end();
        socket.end('221 2.0.0 bye\r\n');
      }
      else write('500 5.5.2 unknown command');
    };
    const onMessage = (body: string): void => {
      sink.transactions.push(Date.now());
      const key = messageKey(body);
      const dropBefore = random() < (faults.dropBeforeAccept ?? 0);
      if (dropBefore) {
        socket.destroy();
        return;
      }
      const drop = random() < (faults.dropAfterDot ?? 0);
      const delay = !drop && random() < (faults.delayReply ?? 0);
      const at = Date.now();
      record(rcpts.map((rcpt) => ({ key, rcpt, from, at, ...(drop || delay ? { ambiguous: true } : {}) })));
      if (from === '') for (const rcpt of rcpts) sink.dsns.push({ to: rcpt, body });
      if (drop) socket.destroy();
      else if (delay) setTimeout(() => socket.destroy(), faults.delayMs ?? 5000).unref();
      else write('250 2.0.0 queued');
    };
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      // RFC 2920 §3.2: the replies to a group of pipelined commands go out as a unit, one write for the whole chunk.
      socket.cork();
      process.nextTick(() => socket.uncork());
      for (;;) {
        if (inData) {
          const end = buffer.indexOf('\r\n.\r\n');
          if (end < 0) return;
          const body = Buffer.from(buffer.slice(0, end + 2), 'latin1').toString('utf8').replace(/^\.\./gm, '.');
          buffer = buffer.slice(end + 5);
          inData = false;
          onMessage(body);
          continue;
        }
        const eol = buffer.indexOf('\r\n');
        if (eol < 0) return;
        const line = buffer.slice(0, eol);
        buffer = buffer.slice(eol + 2);
        onLine(line);
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('ledger sink: no TCP address');
  sink.port = address.port;
  return sink;
}
