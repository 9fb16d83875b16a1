import { encodeCommand, SmtpError, type EncodedCommand, type Reply } from '@smtpkit/wire';
import { protocolError, quoteReply, replyError, stepError, unusableError } from './errors.js';
import { ReplyReader } from './reply-reader.js';
import { QUIT_WAIT_CAP, StepClock, type Step, type Timeouts } from './timeouts.js';
import type { Transcript } from './transcript.js';
import type { Transport } from './transport.js';

const QUIT = encodeCommand({ verb: 'QUIT' });

/**
 * The one way the client talks to the server: a group of commands goes out in one write (RFC 2920 §3.1),
 * and replies are read in order, each under the RFC 5321 §4.5.3.2 deadline of what it answers, taken at once
 * when it is already here. Every rule about what comes back is applied here, whatever the command:
 * - a 421 ends the session, whatever it answers (RFC 5321 §3.8);
 * - a reply when none is owed answers nothing we sent (RFC 5321 §4.2: one reply per command): it is never
 *   taken for the answer to what is written next; an unsolicited 421 is honoured, anything else is a
 *   protocol error;
 * - a timeout, an abort, a lost connection or a reply that cannot be parsed ends the session: the transport
 *   is destroyed (no QUIT), so a late reply can never be read as the answer to the next command.
 * One {@link StepClock} holds the deadline of whatever runs now, QUIT included.
 */
export class Conversation {
  readonly transport: Transport;
  readonly transcript: Transcript;
  readonly timeouts: Timeouts;
  readonly reader: ReplyReader;
  readonly #clock: StepClock;
  /** The step whose deadline is armed (for the error when it fails). */
  #step: Step = 'greeting';
  /** Replies owed for what was written: the greeting at first (RFC 5321 §3.1). */
  #owed = 1;
  #failure: SmtpError | null = null;
  #closed = false;
  /** The caller's signal listened to for the call in progress, and its listener. */
  #signal: AbortSignal | undefined;
  readonly #onAbort = (): void => this.#clock.abort(this.#signal?.reason);
  readonly #written = (): void => this.#clock.disarm();
  readonly #writeFailed = (err: unknown): never => {
    throw this.#failed(err);
  };

  constructor(transport: Transport, transcript: Transcript, timeouts: Timeouts, signal?: AbortSignal) {
    this.transport = transport;
    this.transcript = transcript;
    this.timeouts = timeouts;
    this.reader = new ReplyReader(transport, transcript);
    this.#clock = new StepClock(signal);
  }

  get usable(): boolean {
    return this.#failure === null && !this.#closed;
  }

  /** Why the session ended, if it failed. */
  get failure(): SmtpError | null {
    return this.#failure;
  }

  /** Throw when the session can no longer be used. */
  assertUsable(): void {
    if (this.#failure || this.#closed) throw unusableError(this.#failure ?? 'closed');
  }

  /** End the session for good: destroy the transport (no QUIT: the stream may be out of step). Returns `error`. */
  fail(error: SmtpError): SmtpError {
    if (this.#failure || this.#closed) return error;
    this.#failure = error;
    this.#clock.stop();
    this.transcript.note(`connection dropped: ${error.message}`);
    this.transport.destroy();
    return error;
  }

  /**
   * From now until {@link release}, an abort of `signal` ends the session (the call in progress cannot be
   * undone halfway). False when there is nothing to listen to (no signal, or one listened to already).
   */
  listen(signal: AbortSignal | undefined): boolean {
    if (!signal || this.#signal) return false;
    this.#signal = signal;
    if (signal.aborted) this.#onAbort();
    else signal.addEventListener('abort', this.#onAbort, { once: true });
    return true;
  }

  release(): void {
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#signal = undefined;
  }

  /** The bytes of `commands`, each followed by its data (a BDAT chunk), for one write. Nothing is logged. */
  static concat(commands: readonly EncodedCommand[]): Uint8Array {
    let total = 0;
    for (let i = 0; i < commands.length; i++) {
      const c = commands[i] as EncodedCommand;
      total += c.bytes.length + (c.data ? c.data.length : 0);
    }
    const bytes = Buffer.allocUnsafe(total);
    let at = 0;
    for (let i = 0; i < commands.length; i++) {
      const c = commands[i] as EncodedCommand;
      bytes.set(c.bytes, at);
      at += c.bytes.length;
      if (c.data) {
        bytes.set(c.data, at);
        at += c.data.length;
      }
    }
    return bytes;
  }

  /** The transcript of `commands` written: each line, a BDAT chunk's data as one line. */
  log(commands: readonly EncodedCommand[]): void {
    const t = this.transcript;
    for (let i = 0; i < commands.length; i++) {
      const c = commands[i] as EncodedCommand;
      t.emit('C', c.logText);
      if (c.data && c.data.length > 0 && t.enabled) t.emit('C', `<chunk ${c.data.length} bytes>`);
    }
  }

  /** Write `commands` as one group under the deadline of `step`, then read their replies with {@link read}. */
  send(commands: readonly EncodedCommand[], step: Step): Promise<void> | undefined {
    this.log(commands);
    return this.write(Conversation.concat(commands), commands.length, step);
  }

  /**
   * Write `bytes`, which carry `replies` commands awaiting a reply, under the deadline of `step`: undefined
   * when the transport took them at once. A reply already here while none was owed is dealt with first.
   */
  write(bytes: Uint8Array, replies: number, step: Step): Promise<void> | undefined {
    this.assertUsable();
    this.#arm(step);
    const signal = this.#clock.signal;
    if (signal.aborted) throw this.#failed(signal.reason);
    const stray = this.#owed === 0 && (this.reader.pending > 0 || this.transport.bufferedChunks > 0);
    this.#owed += replies;
    if (stray) return this.#writeAfterStray(bytes, signal);
    let pending: Promise<void> | undefined;
    try {
      pending = this.transport.write(bytes, signal);
    } catch (err) {
      throw this.#failed(err);
    }
    if (pending === undefined) {
      this.#clock.disarm();
      return undefined;
    }
    return pending.then(this.#written, this.#writeFailed);
  }

  /**
   * The reply to `command` (its log text, for errors) under the deadline of `step`: the reply itself when it
   * is here already, else a promise of it.
   */
  read(step: Step, command: string): Reply | Promise<Reply> {
    const ready = this.reader.take();
    if (ready === undefined) return this.#wait(step, command);
    if (this.#clock.signal.aborted) throw this.#failed(this.#clock.signal.reason);
    return this.#answer(ready, command);
  }

  /**
   * Run `fn` under the deadline of `step` and `signal`, for what is not a command and its reply (the greeting,
   * the TLS handshake). Anything thrown inside ends the session.
   */
  async run<T>(step: Step, fn: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
    this.assertUsable();
    const listening = this.listen(signal);
    this.#arm(step);
    try {
      const sig = this.#clock.signal;
      if (sig.aborted) throw sig.reason;
      return await fn(sig);
    } catch (err) {
      throw this.#failed(err);
    } finally {
      if (listening) this.release();
      this.#clock.disarm();
    }
  }

  /** Inside {@link run}: the next reply to `command`, under the step's deadline. */
  async next(command: string): Promise<Reply> {
    return this.#answer(this.reader.take() ?? (await this.reader.next(this.#clock.signal)), command);
  }

  /** One command and its reply under `step`'s deadline (and `signal`'s). */
  async command(command: EncodedCommand, step: Step, signal?: AbortSignal): Promise<Reply> {
    const listening = this.listen(signal);
    try {
      const written = this.send([command], step);
      if (written) await written;
      return await this.read(step, command.logText);
    } finally {
      if (listening) this.release();
    }
  }

  /** QUIT and close: never throws; waits for the 221 at most the command timeout, capped (RFC 5321 §4.1.1.10). */
  async close(): Promise<void> {
    if (!this.usable) return;
    try {
      this.#step = 'command';
      this.#clock.arm('command', Math.min(this.timeouts.command, QUIT_WAIT_CAP));
      const signal = this.#clock.signal;
      this.log([QUIT]);
      await this.transport.write(QUIT.bytes, signal);
      await this.reader.next(signal);
    } catch {
      // A QUIT that is never answered does not undo what already succeeded (RFC 5321 §4.1.1.10).
    } finally {
      this.#closed = true;
      this.#clock.stop();
      this.transport.end();
      // Give the FIN a moment, then make sure nothing lingers.
      setTimeout(() => this.transport.destroy(), 1000).unref?.();
    }
  }

  #arm(step: Step): void {
    this.#step = step;
    this.#clock.arm(step, this.timeouts[step]);
  }

  async #wait(step: Step, command: string): Promise<Reply> {
    this.assertUsable();
    this.#arm(step);
    let reply: Reply;
    try {
      reply = await this.reader.next(this.#clock.signal);
    } catch (err) {
      throw this.#failed(err);
    }
    this.#clock.disarm();
    return this.#answer(reply, command);
  }

  #answer(reply: Reply, command: string): Reply {
    // LMTP owes one reply per accepted recipient to one end of data (RFC 2033 §4.2): never below zero.
    if (this.#owed > 0) this.#owed--;
    if (reply.code === 421) throw this.fail(replyError(reply, command, 'server closing the connection;'));
    return reply;
  }

  async #writeAfterStray(bytes: Uint8Array, signal: AbortSignal): Promise<void> {
    try {
      const stray = await this.reader.takeUnsolicited(signal);
      if (stray) {
        if (stray.code === 421) throw replyError(stray, 'unsolicited', 'server closing the connection;');
        throw protocolError(`unsolicited reply from the server: ${quoteReply(stray)}`, stray);
      }
      await this.transport.write(bytes, signal);
    } catch (err) {
      throw this.#failed(err);
    }
    this.#clock.disarm();
  }

  /** A step failed: the typed error (the timeout or abort when that was the cause); the session is ended. */
  #failed(err: unknown): SmtpError {
    const signal = this.#clock.signal;
    const cause = signal.aborted && signal.reason instanceof SmtpError ? signal.reason : err;
    // Ended meanwhile by destroy() or a concurrent failure: report that cause, not its echo.
    return this.#failure ?? this.fail(stepError(this.#step, cause));
  }
}
