import { MemoryTransport } from '../../src/memory-transport.js';

/** What can go wrong with one server reply. */
export type Fault =
  | { type: 'close' } // the server hangs up instead of replying
  | { type: 'reset' } // the connection is reset (reads and writes fail with ECONNRESET)
  | { type: 'stall' } // no reply, ever
  | { type: 'code'; code: number } // the right text with another code
  | { type: 'garbage'; bytes: Uint8Array } // bytes instead of the reply
  | { type: 'split'; cuts: number[] } // the reply in pieces, a tick apart
  | { type: 'drip' } // one byte per tick
  | { type: 'extra'; bytes: Uint8Array } // the reply, then bytes nobody asked for
  | { type: 'late'; ms: number }; // the reply, after a delay longer than the client's timeouts

/** Which extensions the server offers in its EHLO reply. */
export interface ServerProfile {
  pipelining: boolean;
  chunking: boolean;
  eightBitMime: boolean;
  auth: boolean;
  /** Reply to EHLO with 502 so that the client falls back to HELO. */
  noEhlo: boolean;
}

/** A {@link MemoryTransport} that can be reset like a TCP connection. */
export class ResettableTransport extends MemoryTransport {
  #reset: Error | null = null;
  reset(): void {
    this.#reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    this.close();
  }
  override read(signal: AbortSignal): Promise<Uint8Array | null> {
    if (this.#reset && this.bufferedChunks === 0) return Promise.reject(this.#reset);
    return super.read(signal);
  }
  override write(bytes: Uint8Array, signal: AbortSignal): Promise<void> {
    if (this.#reset) return Promise.reject(this.#reset);
    return super.write(bytes, signal);
  }
}

/**
 * A mostly correct SMTP server over an in-memory transport, with faults injected at chosen reply
 * numbers (0 is the greeting). It answers every command the client can send, keeps track of where
 * each message's data ends (DATA terminator or BDAT LAST), and records the code it answered there.
 */
export class FaultyServer {
  readonly transport = new ResettableTransport();
  /** Codes the server put on the wire in answer to the end of a message's data. */
  readonly finalCodes: number[] = [];
  /** True once any fault could have put a reply the client did not ask for into the stream. */
  unsolicited = false;
  #replies = 0;
  #dead = false;
  #pending = Buffer.alloc(0);
  #mode: 'command' | 'data' | 'bdat' | 'login-user' | 'login-pass' = 'command';
  #bdatLeft = 0;
  #bdatLast = false;
  #timers = new Set<ReturnType<typeof setTimeout>>();

  constructor(
    readonly profile: ServerProfile,
    readonly faults: ReadonlyMap<number, Fault>,
  ) {
    this.transport.onWrite = (bytes) => this.#receive(Buffer.from(bytes));
    this.#reply('220 fuzz.example ESMTP');
  }

  /** Cancel pending deliveries (end of a run). */
  dispose(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }

  #later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      if (!this.transport.destroyed) fn();
    }, ms);
    this.#timers.add(t);
  }

  #push(bytes: Uint8Array | string): void {
    if (!this.#dead && !this.transport.destroyed) this.transport.push(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  }

  /** Send one reply (possibly multi-line, lines joined by CRLF), applying the fault planned for it. */
  #reply(text: string, isFinal = false): void {
    if (this.#dead) return;
    const fault = this.faults.get(this.#replies++);
    let wire = `${text}\r\n`;
    if (fault?.type === 'code') wire = wire.replace(/^\d{3}/gm, String(fault.code));
    if (isFinal && fault?.type !== 'close' && fault?.type !== 'reset' && fault?.type !== 'stall' && fault?.type !== 'garbage') {
      this.finalCodes.push(Number(wire.slice(0, 3)));
    }
    switch (fault?.type) {
      case 'close':
        this.#dead = true;
        this.#later(0, () => this.transport.close());
        return;
      case 'reset':
        this.#dead = true;
        this.#later(0, () => this.transport.reset());
        return;
      case 'stall':
        this.#dead = true;
        return;
      case 'garbage':
        this.unsolicited = true;
        this.#later(0, () => this.#push(fault.bytes));
        return;
      case 'split': {
        const bytes = Buffer.from(wire, 'latin1');
        const cuts = [...new Set(fault.cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        let from = 0;
        cuts.forEach((cut, i) => {
          const piece = bytes.subarray(from, cut);
          from = cut;
          this.#later(i, () => this.#push(piece));
        });
        const rest = bytes.subarray(from);
        this.#later(cuts.length, () => this.#push(rest));
        return;
      }
      case 'drip': {
        const bytes = Buffer.from(wire, 'latin1');
        for (let i = 0; i < bytes.length; i++) this.#later(i, () => this.#push(bytes.subarray(i, i + 1)));
        return;
      }
      case 'extra':
        this.unsolicited = true;
        this.#later(0, () => {
          this.#push(wire);
          this.#push(fault.bytes);
        });
        return;
      case 'late':
        this.unsolicited = true;
        this.#later(fault.ms, () => this.#push(wire));
        return;
      default:
        this.#later(0, () => this.#push(wire));
    }
  }

  #ehlo(): string {
    const p = this.profile;
    const lines = ['fuzz.example', 'SIZE 10000000', 'ENHANCEDSTATUSCODES'];
    if (p.pipelining) lines.push('PIPELINING');
    if (p.chunking) lines.push('CHUNKING');
    if (p.eightBitMime) lines.push('8BITMIME');
    if (p.auth) lines.push('AUTH PLAIN LOGIN');
    return lines.map((l, i) => `250${i === lines.length - 1 ? ' ' : '-'}${l}`).join('\r\n');
  }

  #receive(chunk: Buffer): void {
    this.#pending = Buffer.concat([this.#pending, chunk]);
    for (;;) {
      if (this.#mode === 'data') {
        const end = this.#pending.indexOf('\r\n.\r\n');
        if (end === -1) return;
        this.#pending = this.#pending.subarray(end + 5);
        this.#mode = 'command';
        this.#reply('250 2.0.0 queued', true);
        continue;
      }
      if (this.#mode === 'bdat') {
        const take = Math.min(this.#bdatLeft, this.#pending.length);
        this.#pending = this.#pending.subarray(take);
        this.#bdatLeft -= take;
        if (this.#bdatLeft > 0) return;
        this.#mode = 'command';
        this.#reply(this.#bdatLast ? '250 2.0.0 queued' : '250 2.0.0 chunk ok', this.#bdatLast);
        continue;
      }
      const eol = this.#pending.indexOf('\r\n');
      if (eol === -1) return;
      const line = this.#pending.subarray(0, eol).toString('latin1');
      this.#pending = this.#pending.subarray(eol + 2);
      this.#command(line);
    }
  }

  #command(line: string): void {
    if (this.#mode === 'login-user') {
      this.#mode = 'login-pass';
      return this.#reply('334 UGFzc3dvcmQ6');
    }
    if (this.#mode === 'login-pass') {
      this.#mode = 'command';
      return this.#reply('235 2.7.0 ok');
    }
    const verb = (line.split(' ')[0] ?? '').toUpperCase();
    switch (verb) {
      case 'EHLO':
        return this.#reply(this.profile.noEhlo ? '502 5.5.1 no EHLO here' : this.#ehlo());
      case 'HELO':
        return this.#reply('250 fuzz.example');
      case 'MAIL':
      case 'RCPT':
      case 'RSET':
      case 'NOOP':
        return this.#reply('250 2.1.0 ok');
      case 'DATA':
        this.#mode = 'data';
        this.#pending = Buffer.concat([Buffer.from('\r\n'), this.#pending]);
        return this.#reply('354 go ahead');
      case 'BDAT': {
        const m = /^BDAT (\d+)( LAST)?$/i.exec(line);
        if (!m) return this.#reply('501 5.5.4 bad BDAT');
        this.#bdatLeft = Number(m[1]);
        this.#bdatLast = m[2] !== undefined;
        this.#mode = 'bdat';
        return;
      }
      case 'AUTH':
        if (/^AUTH LOGIN$/i.test(line)) {
          this.#mode = 'login-user';
          return this.#reply('334 VXNlcm5hbWU6');
        }
        return this.#reply('235 2.7.0 ok');
      case 'QUIT':
        this.#reply('221 2.0.0 bye');
        this.#later(1, () => this.transport.close());
        return;
      default:
        return this.#reply('500 5.5.2 what?');
    }
  }
}
