import type { Socket } from 'node:net';
import { TLSSocket, createSecureContext, type SecureContext } from 'node:tls';
import { splitBytes } from './split-bytes.js';
import { tcpStream } from './tcp-stream.js';
import { ClientInput } from './client-input.js';
import { ConnectionClosedError, FaultScriptError } from './errors.js';
import type { ConnectionRecord, ReadOptions, ReceivedChunk, UpgradeTlsOptions, WriteOptions } from './types.js';

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
  private readonly input = new ClientInput(() => this.closed || this.clientClosed);
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
      this.input.push(data);
    };
    const onEnd = (): void => {
      this.clientClosed = true;
      this.input.wake();
    };
    const onError = (error: Error & { code?: string }): void => {
      if (error.code === 'ECONNRESET' || error.code === 'EPIPE') this.clientClosed = true;
      this.input.wake();
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
    this.input.wake();
  }

  /** @internal Called by the server once the script and the socket are both finished. */
  finish(): void {
    this.resolveDone();
  }

  /**
   * Reads one line from the client (up to LF; a CR before it is dropped), decoded as UTF-8,
   * and records it as a command. Bare-LF lines are returned too: check `received` for the
   * exact bytes.
   */
  async readLine(options: ReadOptions = {}): Promise<string> {
    const line = await this.input.line(Date.now() + (options.timeoutMs ?? this.defaults.readTimeoutMs), options.maxBytes ?? 65_536);
    this.commands.push(line);
    return line;
  }

  /**
   * Reads a DATA payload up to and including CRLF.CRLF (RFC 5321 §4.1.1.4) and returns it
   * without the terminator, still dot-stuffed. An empty message ('.\r\n' at once) gives ''.
   */
  async readData(options: ReadOptions = {}): Promise<Buffer> {
    const body = await this.input.data(Date.now() + (options.timeoutMs ?? this.defaults.readTimeoutMs), options.maxBytes ?? this.defaults.maxBytes);
    this.messages.push(body);
    return body;
  }

  /** Reads exactly `n` bytes (a BDAT chunk, RFC 3030 §2). */
  async readBytes(n: number, options: ReadOptions = {}): Promise<Buffer> {
    if (n > (options.maxBytes ?? this.defaults.maxBytes)) throw new FaultScriptError(`refusing to read ${n} bytes`);
    return this.input.bytes(n, Date.now() + (options.timeoutMs ?? this.defaults.readTimeoutMs));
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
        await this.input.wait(deadline, 'the client to close');
      } catch {
        break;
      }
    }
    return this.closed || this.clientClosed;
  }

  /**
   * Writes to the client, whole or in pieces; a write after close is dropped. Strings go out
   * as UTF-8; pass a Uint8Array for exact bytes (e.g. invalid UTF-8 in a reply).
   */
  async write(data: string | Uint8Array, options: WriteOptions = {}): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
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
    this.discardedBeforeTls = Buffer.concat([this.discardedBeforeTls, this.input.takeAll()]);
    const reply = options.reply ?? '220 2.0.0 Ready to start TLS\r\n';
    const head = typeof reply === 'string' ? Buffer.from(reply, 'utf8') : Buffer.from(reply);
    const injected = options.injectPlaintext === undefined ? Buffer.alloc(0)
      : typeof options.injectPlaintext === 'string' ? Buffer.from(options.injectPlaintext, 'utf8') : Buffer.from(options.injectPlaintext);
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
    // Bounded: a client that stopped reading would otherwise keep the FIN (and us) waiting.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 2000);
      this.socket.end(() => {
        clearTimeout(timer);
        resolve();
      });
    });
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
