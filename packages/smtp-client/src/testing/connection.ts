import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { TLSSocket, createSecureContext, type SecureContext } from 'node:tls';

/** Bytes received on one connection, with whether they arrived inside TLS. */
export interface ReceivedChunk {
  tls: boolean;
  data: Buffer;
}

/** Options for a read from the client. */
export interface ReadOptions {
  /** Fail the read after this many milliseconds (default: the server's `readTimeoutMs`). */
  timeoutMs?: number;
  /** Fail the read when more than this many bytes arrive without its terminator. */
  maxBytes?: number;
}

/** Options for a write to the client. */
export interface WriteOptions {
  /**
   * Write in pieces: an array of segment sizes (the rest goes in a last segment) or
   * 'bytewise' (one byte per write). Each piece is flushed before the next.
   */
  split?: readonly number[] | 'bytewise';
  /** Pause between pieces in milliseconds (default 1 when split, so pieces travel apart). */
  intervalMs?: number;
}

/** Options for {@link FaultConnection.upgradeTls}. */
export interface UpgradeTlsOptions {
  /** The reply that invites the handshake (default '220 2.0.0 Ready to start TLS\r\n'). */
  reply?: string | Uint8Array;
  /**
   * Plaintext written in the same segment right after `reply`, before the handshake: the
   * STARTTLS response injection (CVE-2011-0411 family; RFC 3207 §4.2 says the client must
   * discard it).
   */
  injectPlaintext?: string | Uint8Array;
  /** Fail when the client has not completed the handshake in this many milliseconds (default 10 000). */
  timeoutMs?: number;
}

/** Raised inside a script when the client closed the connection or the server shut down. */
export class ConnectionClosedError extends Error {
  override readonly name = 'ConnectionClosedError';
}

/** Raised inside a script when a read did not complete in time or grew past its bound. */
export class FaultScriptError extends Error {
  override readonly name = 'FaultScriptError';
}

/** What the server saw on one connection (read-only for tests). */
export interface ConnectionRecord {
  /** 0 for the first connection, 1 for the second… */
  readonly index: number;
  /** Every byte received from the client, plaintext and decrypted TLS, in order. */
  readonly received: Buffer;
  /** The same bytes in arrival chunks, each marked with whether it came inside TLS. */
  readonly chunks: readonly ReceivedChunk[];
  /** Command lines read by the script (without CRLF), in order. */
  readonly commands: readonly string[];
  /** DATA payloads read by the script (dot-stuffed, without the terminating CRLF.CRLF). */
  readonly messages: readonly Buffer[];
  /** Plaintext the client sent after the STARTTLS line and before the handshake (dropped, RFC 3207 §4.2). */
  readonly discardedBeforeTls: Buffer;
  /** True once a TLS session was established (STARTTLS or implicit). */
  readonly tls: boolean;
  /** The TLS error, when a handshake failed (e.g. the client refused the certificate). */
  readonly tlsError: Error | undefined;
  /** True once the client closed or reset its side. */
  readonly clientClosed: boolean;
  /** Why the script stopped early: a mismatch, a read timeout, the client leaving… */
  readonly scriptError: Error | undefined;
  /** Resolves when the connection is fully closed and the script has ended. */
  readonly done: Promise<void>;
}

const CRLF_DOT_CRLF = Buffer.from('\r\n.\r\n');

/**
 * One client connection as the fault server's scripts see it: reads of command lines and
 * DATA, writes (optionally split or slow), a server-side STARTTLS, close and reset.
 * Every read and wait is bounded and ends when the connection closes.
 */
export class FaultConnection implements ConnectionRecord {
  readonly index: number;
  readonly chunks: ReceivedChunk[] = [];
  readonly commands: string[] = [];
  readonly messages: Buffer[] = [];
  tls = false;
  tlsError: Error | undefined;
  clientClosed = false;
  scriptError: Error | undefined;
  discardedBeforeTls: Buffer = Buffer.alloc(0);
  done: Promise<void>;

  private socket: Socket | TLSSocket;
  private readonly tcp: Socket;
  private buffer: Buffer = Buffer.alloc(0);
  private waiters = new Set<() => void>();
  private closed = false;
  private readonly closing = new AbortController();
  private readonly defaults: { readTimeoutMs: number; maxBytes: number };
  private readonly secureContext: SecureContext | undefined;
  private resolveDone!: () => void;
  private detach: () => void = () => undefined;

  /** @internal Created by the fault server. */
  constructor(
    socket: Socket,
    index: number,
    options: { readTimeoutMs: number; maxBytes: number; tls?: { key: string | Buffer; cert: string | Buffer } },
  ) {
    this.socket = socket;
    this.tcp = socket;
    this.index = index;
    this.defaults = { readTimeoutMs: options.readTimeoutMs, maxBytes: options.maxBytes };
    this.secureContext = options.tls ? createSecureContext({ key: options.tls.key, cert: options.tls.cert }) : undefined;
    this.done = new Promise<void>((resolve) => (this.resolveDone = resolve));
    socket.setNoDelay(true);
    this.listen(socket, false);
    socket.on('close', () => this.markClosed());
  }

  /** Every byte received from the client so far. */
  get received(): Buffer {
    return Buffer.concat(this.chunks.map((c) => c.data));
  }

  /** True once the connection is closed (by either side). */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Aborted when the connection closes; hand it to your own waits. */
  get signal(): AbortSignal {
    return this.closing.signal;
  }

  private listen(socket: Socket | TLSSocket, tls: boolean): void {
    const onData = (data: Buffer): void => {
      this.chunks.push({ tls, data });
      this.buffer = this.buffer.length === 0 ? data : Buffer.concat([this.buffer, data]);
      this.wake();
    };
    const onEnd = (): void => {
      this.clientClosed = true;
      this.wake();
    };
    const onError = (error: Error & { code?: string }): void => {
      if (error.code === 'ECONNRESET' || error.code === 'EPIPE') this.clientClosed = true;
      this.wake();
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onError);
    this.detach = () => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      // The error listener stays: an unheard 'error' would crash the process.
    };
  }

  private markClosed(): void {
    if (this.closed) return;
    this.closed = true;
    this.closing.abort();
    this.wake();
  }

  /** @internal Called by the server once the script and the socket are both finished. */
  finish(): void {
    this.resolveDone();
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  /** Waits for more input, the end of input, or the deadline. */
  private async waitForInput(deadline: number, what: string): Promise<void> {
    if (this.closed || this.clientClosed) throw new ConnectionClosedError(`connection closed while waiting for ${what}`);
    const left = deadline - Date.now();
    if (left <= 0) throw new FaultScriptError(`no ${what} from the client within the read timeout`);
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, left);
      this.waiters.add(done);
    });
  }

  /**
   * Reads one line from the client (up to LF; a CR before it is dropped) and records it
   * as a command. Bare-LF lines are returned too: check `received` for the exact bytes.
   */
  async readLine(options: ReadOptions = {}): Promise<string> {
    const deadline = Date.now() + (options.timeoutMs ?? this.defaults.readTimeoutMs);
    const maxBytes = options.maxBytes ?? 65_536;
    for (;;) {
      const lf = this.buffer.indexOf(0x0a);
      if (lf !== -1) {
        const end = lf > 0 && this.buffer[lf - 1] === 0x0d ? lf - 1 : lf;
        const line = this.buffer.subarray(0, end).toString('latin1');
        this.buffer = this.buffer.subarray(lf + 1);
        this.commands.push(line);
        return line;
      }
      if (this.buffer.length > maxBytes) throw new FaultScriptError(`command line longer than ${maxBytes} bytes`);
      await this.waitForInput(deadline, 'command line');
    }
  }

  /**
   * Reads a DATA payload up to and including CRLF.CRLF (RFC 5321 §4.1.1.4) and returns it
   * without the terminator, still dot-stuffed. An empty message ('.\r\n' at once) gives ''.
   */
  async readData(options: ReadOptions = {}): Promise<Buffer> {
    const deadline = Date.now() + (options.timeoutMs ?? this.defaults.readTimeoutMs);
    const maxBytes = options.maxBytes ?? this.defaults.maxBytes;
    let searchFrom = 0;
    for (;;) {
      if (this.buffer.length >= 3 && this.buffer[0] === 0x2e && this.buffer[1] === 0x0d && this.buffer[2] === 0x0a) {
        this.buffer = this.buffer.subarray(3);
        this.messages.push(Buffer.alloc(0));
        return Buffer.alloc(0);
      }
      const end = this.buffer.indexOf(CRLF_DOT_CRLF, searchFrom);
      if (end !== -1) {
        const body = Buffer.from(this.buffer.subarray(0, end));
        this.buffer = this.buffer.subarray(end + CRLF_DOT_CRLF.length);
        this.messages.push(body);
        return body;
      }
      searchFrom = Math.max(0, this.buffer.length - (CRLF_DOT_CRLF.length - 1));
      if (this.buffer.length > maxBytes) throw new FaultScriptError(`DATA payload longer than ${maxBytes} bytes`);
      await this.waitForInput(deadline, 'DATA payload');
    }
  }

  /** Reads exactly `n` bytes (a BDAT chunk, RFC 3030 §2). */
  async readBytes(n: number, options: ReadOptions = {}): Promise<Buffer> {
    const deadline = Date.now() + (options.timeoutMs ?? this.defaults.readTimeoutMs);
    if (n > (options.maxBytes ?? this.defaults.maxBytes)) throw new FaultScriptError(`refusing to read ${n} bytes`);
    while (this.buffer.length < n) await this.waitForInput(deadline, `${n} bytes`);
    const out = Buffer.from(this.buffer.subarray(0, n));
    this.buffer = this.buffer.subarray(n);
    return out;
  }

  /**
   * Stops reading from the socket, so the client's writes back up (TCP flow control) as they
   * would against a server that stopped reading. Undone by {@link resumeReading}.
   */
  pauseReading(): void {
    this.socket.pause();
  }

  /** Reads from the socket again after {@link pauseReading}. */
  resumeReading(): void {
    this.socket.resume();
  }

  /**
   * Answers whatever the client sends until it leaves, as a plain server would after the
   * interesting part of a script: RSET and NOOP get 250, QUIT gets 221 and a close, anything
   * else 503 (RFC 5321 §4.2.4). At most `maxCommands` (default 100) are read.
   */
  async answerRemaining(options: { maxCommands?: number; timeoutMs?: number } = {}): Promise<void> {
    const max = options.maxCommands ?? 100;
    for (let i = 0; i < max && !this.closed; i++) {
      let line: string;
      try {
        line = await this.readLine({ timeoutMs: options.timeoutMs });
      } catch (error) {
        if (error instanceof ConnectionClosedError) return;
        throw error;
      }
      const verb = line.split(' ', 1)[0]!.toUpperCase();
      if (verb === 'QUIT') {
        await this.write('221 2.0.0 Bye\r\n');
        await this.close();
        return;
      }
      await this.write(verb === 'RSET' || verb === 'NOOP' ? '250 2.0.0 Ok\r\n' : '503 5.5.1 Error: bad sequence of commands\r\n');
    }
  }

  /** Waits until the client closes its side (or the deadline); resolves true when it did. */
  async waitForClose(timeoutMs = this.defaults.readTimeoutMs): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && !this.clientClosed) {
      try {
        await this.waitForInput(deadline, 'the client to close');
      } catch {
        break;
      }
    }
    return this.closed || this.clientClosed;
  }

  /** Writes to the client, whole or in pieces; a write after close is dropped. */
  async write(data: string | Uint8Array, options: WriteOptions = {}): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : Buffer.from(data);
    const pieces = splitBytes(bytes, options.split);
    const interval = options.intervalMs ?? (pieces.length > 1 ? 1 : 0);
    for (let i = 0; i < pieces.length; i++) {
      if (this.closed) return;
      await this.writeRaw(pieces[i]!);
      if (interval > 0 && i < pieces.length - 1) await this.delay(interval);
    }
  }

  private writeRaw(piece: Buffer): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.closed || this.socket.destroyed) {
        resolve();
        return;
      }
      // Resolve on flush or on failure: a peer that left is recorded by the close handler.
      this.socket.write(piece, () => resolve());
    });
  }

  /** Waits `ms` milliseconds, or less if the connection closes first. */
  async delay(ms: number): Promise<void> {
    if (this.closed) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(finish, ms);
      const signal = this.closing.signal;
      function finish(): void {
        clearTimeout(timer);
        signal.removeEventListener('abort', finish);
        resolve();
      }
      signal.addEventListener('abort', finish, { once: true });
    });
  }

  /**
   * Answers STARTTLS and performs the server side of the handshake with the server's
   * key and certificate. Plaintext the client sent after its STARTTLS line is recorded in
   * `discardedBeforeTls` and dropped (RFC 3207 §4.2). Resolves once the session is up;
   * rejects when the handshake fails (also recorded as `tlsError`).
   */
  async upgradeTls(options: UpgradeTlsOptions = {}): Promise<void> {
    if (!this.secureContext) throw new FaultScriptError('upgradeTls needs the server started with { tls: { key, cert } }');
    if (this.tls) throw new FaultScriptError('the connection already uses TLS');
    const plain = this.socket;
    plain.pause();
    this.detach();
    this.discardedBeforeTls = Buffer.concat([this.discardedBeforeTls, this.buffer]);
    this.buffer = Buffer.alloc(0);
    const reply = options.reply ?? '220 2.0.0 Ready to start TLS\r\n';
    const head = typeof reply === 'string' ? Buffer.from(reply, 'latin1') : Buffer.from(reply);
    const injected = options.injectPlaintext === undefined ? Buffer.alloc(0)
      : typeof options.injectPlaintext === 'string' ? Buffer.from(options.injectPlaintext, 'latin1') : Buffer.from(options.injectPlaintext);
    await this.writeRaw(Buffer.concat([head, injected]));
    await this.startTls(options.timeoutMs ?? 10_000);
  }

  /** @internal Wraps the socket in server-side TLS (STARTTLS after the reply, or implicit TLS at once). */
  async startTls(timeoutMs: number): Promise<void> {
    if (!this.secureContext) throw new FaultScriptError('TLS needs the server started with { tls: { key, cert } }');
    this.detach();
    const secure = new TLSSocket(tcpStream(this.tcp), { isServer: true, secureContext: this.secureContext });
    this.socket = secure;
    this.listen(secure, true);
    secure.on('close', () => this.markClosed());
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new FaultScriptError(`no TLS handshake within ${timeoutMs} ms`)), timeoutMs);
      const onAbort = (): void => fail(new ConnectionClosedError('connection closed during the TLS handshake'));
      const fail = (error: Error): void => {
        clearTimeout(timer);
        this.closing.signal.removeEventListener('abort', onAbort);
        this.tlsError ??= error;
        reject(error);
      };
      secure.once('secure', () => {
        clearTimeout(timer);
        this.closing.signal.removeEventListener('abort', onAbort);
        this.tls = true;
        resolve();
      });
      secure.once('error', fail);
      this.closing.signal.addEventListener('abort', onAbort, { once: true });
      if (this.closed) onAbort();
    });
  }

  /** Half-closes politely (FIN) and then destroys the socket. */
  async close(): Promise<void> {
    if (this.closed) return;
    await new Promise<void>((resolve) => this.socket.end(resolve));
    this.socket.destroy();
    this.markClosed();
  }

  /**
   * Resets the connection (TCP RST), as a crashed or hostile peer would. Bytes already
   * written (including TLS session tickets) are flushed first, so the RST is what the
   * client sees last rather than a FIN.
   */
  async reset(): Promise<void> {
    if (this.closed) return;
    const deadline = Date.now() + 200;
    for (let i = 0; i < 2 || (this.tcp.writableLength > 0 && Date.now() < deadline); i++) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (this.closed) return;
    // Reset the TCP socket itself, also under TLS.
    if (!this.tcp.destroyed) this.tcp.resetAndDestroy();
    this.socket.destroy();
    this.markClosed();
  }

  /** Destroys the socket at once (used by the server's close()). */
  destroy(): void {
    this.socket.destroy();
    this.markClosed();
  }
}

/**
 * A plain stream over the TCP socket for TLS to run on. Wrapping the net.Socket directly
 * would hand its native handle to TLS, after which the TCP socket can no longer be reset
 * (`resetAndDestroy` under TLS crashes Node 20); through this stream the TCP socket keeps its
 * handle, so `reset()` works at any point, and no buffered byte is lost on the switch.
 */
function tcpStream(tcp: Socket): Duplex {
  const stream = new Duplex({
    read() {
      tcp.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      if (tcp.destroyed) callback();
      else tcp.write(chunk, () => callback());
    },
    final(callback) {
      tcp.end();
      callback();
    },
    destroy(error, callback) {
      tcp.destroy();
      callback(error);
    },
  });
  tcp.on('data', (data: Buffer) => {
    if (!stream.push(data)) tcp.pause();
  });
  tcp.on('end', () => stream.push(null));
  tcp.on('close', () => stream.destroy());
  tcp.resume();
  return stream;
}

function splitBytes(bytes: Buffer, split: WriteOptions['split']): Buffer[] {
  if (split === undefined || bytes.length === 0) return [bytes];
  if (split === 'bytewise') return Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1));
  const pieces: Buffer[] = [];
  let offset = 0;
  for (const size of split) {
    if (offset >= bytes.length) break;
    if (!Number.isInteger(size) || size <= 0) throw new RangeError(`split sizes must be positive integers, got ${size}`);
    pieces.push(bytes.subarray(offset, offset + size));
    offset += size;
  }
  if (offset < bytes.length) pieces.push(bytes.subarray(offset));
  return pieces;
}
