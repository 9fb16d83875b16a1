import { encodeCommand, isPositiveCompletion, SmtpError, type Capabilities, type Command, type EncodedCommand, type Reply } from '@smtpkit/wire';
import { protocolError, quoteReply, replyError } from './errors.js';
import { ReplyReader } from './reply-reader.js';
import { planEarly, type PlannedSend } from './send.js';
import { sendWithinLimits } from './recipient-limit.js';
import { abortedError, QUIT_WAIT_CAP, StepClock, startDeadline, type Step, type Timeouts } from './timeouts.js';
import type { Transcript } from './transcript.js';
import type { Transport } from './transport.js';
import { checkEnvelope } from './check-envelope.js';
import type { BodyProgress } from './progress.js';
import type { CheckEnvelopeOptions, EnvelopeCheck, SendOptions, SendResult, Session, TlsInfo } from './types.js';

/** What {@link SmtpSession.exitStep} undoes. */
export interface StepScope {
  outer: { step: Step; due: number; ms: number } | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** The scope of a step with no caller's signal and no outer step: nothing to undo but the deadline. */
const TOP_SCOPE: StepScope = Object.freeze({ outer: undefined, signal: undefined, onAbort: undefined });

/** {@link SmtpSession.assertNoUnsolicited} when nothing has arrived. */
const QUIET: Promise<void> = Promise.resolve();

/** Sends written ahead of the running one's replies at most (one-write BDAT messages). */
const AHEAD_WINDOW = 7;

/** A queued call on the session; a send may have had its envelope written early. */
interface Job extends BodyProgress {
  run: (s: SmtpSession, job: Job) => Promise<unknown>;
  send: SendOptions | undefined;
  early: PlannedSend | undefined;
  /** A job queued with a promise settles it; one queued by {@link SmtpSession.submit} tells its receiver. */
  resolve: ((value: unknown) => void) | undefined;
  reject: ((error: unknown) => void) | undefined;
  receiver: SendReceiver<unknown> | undefined;
  /** What the receiver knows the send by. */
  token: unknown;
}

/** Hears how a send given to {@link SmtpSession.submit} ended (the pool); `T` is what it knows the send by. @internal */
export interface SendReceiver<T> {
  /**
   * Called once per send: the error or the result, and how far the body got (which decides whether a
   * failed send may be tried on another session).
   */
  sendDone(token: T, error: unknown, result: SendResult | undefined, progress: BodyProgress): void;
}

/** A queued send, with the record of how far its body got. */
export type QueuedSend = Pick<Job, 'send' | 'started' | 'endWritten'>;

/** A send's turn: shared by every send job (no closure per send). */
function runSend(s: SmtpSession, job: Job): Promise<unknown> {
  const options = job.send as SendOptions;
  // Aborted while queued, before anything of it went out: the session is not harmed.
  if (!job.early && options.signal?.aborted) return Promise.reject(abortedError(options.signal.reason));
  return sendWithinLimits(s, options, job, job.early);
}

/** Settle a finished job; an exception thrown by a receiver surfaces on its own, outside the queue. */
function finish(job: Job, failed: boolean, error: unknown, value: unknown): void {
  if (job.receiver) {
    try {
      job.receiver.sendDone(job.token, failed ? error : undefined, failed ? undefined : (value as SendResult), job);
    } catch (err) {
      queueMicrotask(() => {
        throw err;
      });
    }
  } else if (failed) job.reject?.(error);
  else job.resolve?.(value);
}

/** Commands of queued sends written ahead of their turn (RFC 2920 §3.1). */
export interface WrittenAhead {
  commands: EncodedCommand[];
  /** Sends whose whole message is in `commands` (one-write BDAT): their end of data goes out with them. */
  whole: QueuedSend[];
}

/** Everything a session is built from. */
export interface SessionInit {
  transport: Transport;
  transcript: Transcript;
  timeouts: Timeouts;
  signal?: AbortSignal;
  pipelining: 'auto' | 'never';
  chunking: 'auto' | 'never';
  capabilities: Capabilities;
  protocol?: 'smtp' | 'lmtp';
}

/**
 * One SMTP session over a {@link Transport}. Commands are serialised; a pipelined group is written
 * at once and its replies are read in order from the one {@link ReplyReader}. Any timeout, abort,
 * protocol error, lost connection or 421 ends the session: the socket is destroyed so a late reply
 * can never be read as the answer to the next command.
 */
export class SmtpSession implements Session {
  readonly transport: Transport;
  readonly transcript: Transcript;
  readonly timeouts: Timeouts;
  readonly reader: ReplyReader;
  readonly options: Pick<SessionInit, 'pipelining' | 'chunking'>;
  readonly protocol: 'smtp' | 'lmtp';
  #capabilities: Capabilities;
  #sendCapabilities: Capabilities | undefined;
  tls: TlsInfo | null = null;
  greeting: Reply = { code: 0, lines: [], text: '' };
  authenticated: string | null = null;
  readonly #clock: StepClock;
  #dead: SmtpError | null = null;
  #closed = false;
  readonly #jobs: Job[] = [];
  #busy = false;

  constructor(init: SessionInit) {
    this.transport = init.transport;
    this.transcript = init.transcript;
    this.timeouts = init.timeouts;
    this.protocol = init.protocol ?? 'smtp';
    this.#capabilities = init.capabilities;
    this.options = { pipelining: init.pipelining, chunking: init.chunking };
    this.#clock = new StepClock(init.signal);
    this.reader = new ReplyReader(init.transport, init.transcript);
  }

  /** What the server offers (the last EHLO/HELO reply). */
  get capabilities(): Capabilities {
    return this.#capabilities;
  }

  set capabilities(caps: Capabilities) {
    this.#capabilities = caps;
    this.#sendCapabilities = undefined;
  }

  /** The capabilities a transaction may use: PIPELINING and CHUNKING only when the options allow them. */
  get sendCapabilities(): Capabilities {
    return (this.#sendCapabilities ??= {
      ...this.#capabilities,
      pipelining: this.#capabilities.pipelining && this.options.pipelining !== 'never',
      chunking: this.#capabilities.chunking && this.options.chunking !== 'never',
    });
  }

  get secure(): boolean {
    return this.transport.secure;
  }

  get remote(): string {
    return this.transport.remote;
  }

  get usable(): boolean {
    return this.#dead === null && !this.#closed;
  }

  /** Why the session ended, if it did. */
  get failure(): SmtpError | null {
    return this.#dead;
  }

  /** End the session for good: destroy the transport (no QUIT: the stream may be out of step). */
  fail(error: SmtpError): void {
    if (this.#dead || this.#closed) return;
    this.#dead = error;
    this.#clock.stop();
    this.transcript.note(`connection dropped: ${error.message}`);
    this.transport.destroy();
  }

  /** Throw when the session can no longer be used. */
  assertUsable(): void {
    if (this.#dead || this.#closed) {
      throw new SmtpError(`session is not usable${this.#dead ? `: ${this.#dead.message}` : ' (closed)'}`, {
        kind: 'connection',
        code: 'ERR_SMTP_SESSION_UNUSABLE',
        retryable: true,
        ...(this.#dead ? { cause: this.#dead } : {}),
      });
    }
  }

  /**
   * Run `fn` under the deadline of `step` and the session's and caller's signals. Anything thrown
   * inside (timeout, abort, closed connection, protocol error, 421) ends the session.
   */
  async step<T>(step: Step, fn: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const scope = this.enterStep(step, signal);
    try {
      return await fn(this.stepSignal());
    } catch (err) {
      throw this.stepFailed(step, err);
    } finally {
      this.exitStep(scope);
    }
  }

  /**
   * The parts of {@link step}, for the per-message path where a closure per step costs: `enterStep`,
   * then `stepSignal()` inside `try`, `stepFailed` in `catch` (rethrow what it returns), `exitStep` in `finally`.
   */
  enterStep(step: Step, signal?: AbortSignal): StepScope {
    this.assertUsable();
    const clock = this.#clock;
    const outer = clock.running ? clock.state : undefined;
    clock.arm(step, this.timeouts[step]);
    if (!signal && !outer) return TOP_SCOPE;
    // The caller's signal is listened to only for this step, and only when there is one.
    let onAbort: (() => void) | undefined;
    if (signal) {
      if (signal.aborted) clock.abort(signal.reason);
      else {
        onAbort = () => clock.abort(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
      }
    }
    return { outer, signal, onAbort };
  }

  /** The step's signal; throws its reason when it was aborted already. */
  stepSignal(): AbortSignal {
    const sig = this.#clock.signal;
    if (sig.aborted) throw sig.reason;
    return sig;
  }

  /** A step failed: the typed error (the timeout or abort when that was the cause); the session is ended. */
  stepFailed(step: Step, err: unknown): SmtpError {
    const sig = this.#clock.signal;
    const error = sig.aborted && sig.reason instanceof SmtpError ? sig.reason : err;
    // Ended meanwhile by destroy() or a concurrent failure: report that cause, not its echo.
    const typed = this.#dead
      ? this.#dead
      : error instanceof SmtpError
        ? error
        : new SmtpError(`${step} failed: ${error instanceof Error ? error.message : String(error)}`, {
            kind: 'connection',
            code: 'ERR_SMTP_CONNECTION',
            cause: error,
          });
    this.fail(typed);
    return typed;
  }

  /** The step is over: stop listening to the caller's signal, resume the outer step or disarm. */
  exitStep(scope: StepScope): void {
    if (scope.onAbort) scope.signal?.removeEventListener('abort', scope.onAbort);
    if (scope.outer) this.#clock.restore(scope.outer);
    else this.#clock.disarm();
  }

  /** Inside a step: from now on the deadline is `step`'s (a step that writes, then waits for a reply). */
  rearm(step: Step): void {
    this.#clock.arm(step, this.timeouts[step]);
  }

  /** The bytes of a group of commands, to go out in one write (RFC 2920 §3.1); each is logged as it is taken. */
  encodeGroup(commands: readonly EncodedCommand[]): Uint8Array {
    let total = 0;
    // Indexed loops on the per-message path: before V8 optimizes them, for…of allocates per step.
    for (let i = 0; i < commands.length; i++) total += (commands[i] as EncodedCommand).bytes.length;
    const bytes = new Uint8Array(total);
    let at = 0;
    for (let i = 0; i < commands.length; i++) {
      const c = commands[i] as EncodedCommand;
      bytes.set(c.bytes, at);
      at += c.bytes.length;
      this.transcript.emit('C', c.logText);
      // A BDAT command carrying its chunk (RFC 3030 §4.2): the data logs as one line.
      const chunk = (c as { chunk?: number }).chunk;
      if (chunk !== undefined && this.transcript.enabled) this.transcript.emit('C', `<chunk ${chunk} bytes>`);
    }
    return bytes;
  }

  /** Write commands in one go (a pipelined group is one write, RFC 2920 §3.1). */
  async writeCommands(commands: readonly EncodedCommand[], signal: AbortSignal): Promise<void> {
    await this.transport.write(this.encodeGroup(commands), signal);
  }

  /**
   * One round trip in one step: write `bytes` (null when they went out earlier), then read one reply per
   * command in order (RFC 2920 §3.1), each under its own command's deadline (`stepOf`). `written` runs once
   * the transport took the bytes. A 421 ends the session (RFC 5321 §3.8); so does any failure.
   * `commandsWritten`: `commands` went out earlier and `bytes` only carries what follows them, so their
   * replies may already be here; otherwise a reply that came before the write is unsolicited.
   */
  async exchange(
    writeStep: Step,
    bytes: Uint8Array | null,
    commands: readonly EncodedCommand[],
    stepOf: (cmd: EncodedCommand) => Step,
    signal?: AbortSignal,
    written?: () => void,
    commandsWritten = false,
  ): Promise<Reply[]> {
    const scope = this.enterStep(writeStep, signal);
    try {
      const sig = this.stepSignal();
      if (bytes) {
        const pending = this.writeInStep(bytes, sig, commandsWritten);
        if (pending) await pending;
        written?.();
      }
      const replies: Reply[] = [];
      for (let i = 0; i < commands.length; i++) {
        const cmd = commands[i] as EncodedCommand;
        this.rearm(stepOf(cmd));
        replies.push(this.answer(this.reader.take() ?? (await this.reader.next(sig)), cmd.logText));
      }
      return replies;
    } catch (err) {
      throw this.stepFailed(writeStep, err);
    } finally {
      this.exitStep(scope);
    }
  }

  /**
   * Inside a step, write `bytes`; a promise only when the write has to wait. `commandsWritten` as in
   * {@link exchange}: otherwise a reply already here is unsolicited and is dealt with first.
   */
  writeInStep(bytes: Uint8Array, sig: AbortSignal, commandsWritten: boolean): Promise<void> | undefined {
    // A reply already here answers nothing we sent: never take it for the answer to these bytes.
    if (!commandsWritten && this.#hasUnread) return this.#rejectUnsolicited(sig).then(() => this.transport.write(bytes, sig));
    return this.transport.write(bytes, sig);
  }

  /** `reply` answers `command`: a 421 ends the session, whatever the command (RFC 5321 §3.8). */
  answer(reply: Reply, command: string): Reply {
    if (reply.code === 421) throw replyError(reply, command, 'server closing the connection;');
    return reply;
  }

  /**
   * The replies to `commands` (written earlier) when all of them are here already, taken without
   * waiting; undefined when some are still to come (then {@link exchange} reads them). With PIPELINING
   * the replies to a message's envelope usually arrive with the previous message's final reply
   * (RFC 2920 §3.1). A 421 ends the session as in {@link exchange} (RFC 5321 §3.8).
   */
  repliesReady(commands: readonly EncodedCommand[], stepOf: (cmd: EncodedCommand) => Step): Reply[] | undefined {
    if (this.reader.pending < commands.length || !this.usable) return undefined;
    const replies: Reply[] = [];
    for (let i = 0; i < commands.length; i++) {
      const cmd = commands[i] as EncodedCommand;
      const reply = this.reader.take() as Reply;
      if (reply.code === 421) throw this.stepFailed(stepOf(cmd), replyError(reply, cmd.logText, 'server closing the connection;'));
      replies.push(reply);
    }
    return replies;
  }

  /** Read one reply; a 421 ends the session here, whatever command it answers (RFC 5321 §3.8). */
  async readReply(signal: AbortSignal, command: string): Promise<Reply> {
    return this.answer(this.reader.take() ?? (await this.reader.next(signal)), command);
  }

  /**
   * With nothing outstanding the server has no business speaking (RFC 5321 §4.2: one reply per
   * command): a reply already here would be taken as the next command's. An unsolicited 421 is
   * honoured (RFC 5321 §3.8); anything else is a protocol error. Call inside a step.
   */
  assertNoUnsolicited(signal: AbortSignal): Promise<void> {
    return this.#hasUnread ? this.#rejectUnsolicited(signal) : QUIET;
  }

  /** Something arrived that no command has claimed: a parsed reply, or a chunk not read yet. */
  get #hasUnread(): boolean {
    return this.reader.pending > 0 || this.transport.bufferedChunks > 0;
  }

  async #rejectUnsolicited(signal: AbortSignal): Promise<void> {
    const stray = await this.reader.takeUnsolicited(signal);
    if (!stray) return;
    if (stray.code === 421) throw replyError(stray, 'unsolicited', 'server closing the connection;');
    throw protocolError(`unsolicited reply from the server: ${quoteReply(stray)}`, stray);
  }

  /** Send one command and read its reply under `step`'s deadline. */
  async command(cmd: Command | EncodedCommand, step: Step, signal?: AbortSignal): Promise<Reply> {
    const encoded = 'bytes' in cmd ? cmd : encodeCommand(cmd);
    return this.step(
      step,
      async (s) => {
        await this.assertNoUnsolicited(s);
        await this.writeCommands([encoded], s);
        return this.readReply(s, encoded.logText);
      },
      signal,
    );
  }

  /** Serialise work on the session: calls made while another runs wait their turn, in order. */
  #enqueue<T>(run: (s: SmtpSession, job: Job) => Promise<T>, send?: SendOptions): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      // One shape for every job (no conditional spread): the queue is read on the per-message path.
      this.#push({
        run: run as (s: SmtpSession, job: Job) => Promise<unknown>,
        send,
        early: undefined,
        resolve: resolve as (v: unknown) => void,
        reject,
        receiver: undefined,
        token: undefined,
        started: false,
        endWritten: false,
      });
    });
  }

  #push(job: Job): void {
    this.#jobs.push(job);
    if (!this.#busy) void this.#drain(); // a running drain takes it in its turn
  }

  async #drain(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      // Calls made together (in one tick) are all queued before the first runs, so it can write
      // theirs with its own (RFC 2920 §3.1, RFC 3030 §4.2).
      await undefined;
      for (let job = this.#jobs.shift(); job; job = this.#jobs.shift()) {
        let value: unknown;
        let error: unknown;
        let failed = false;
        try {
          value = await job.run(this, job);
        } catch (err) {
          error = err;
          failed = true;
        }
        // A job queued long ago lives in the old generation: what it still points to would survive every
        // young collection until a full one (and V8 would take this path's objects for long-lived ones).
        job.early = undefined;
        finish(job, failed, error, value);
      }
    } finally {
      this.#busy = false;
    }
  }

  send(options: SendOptions): Promise<SendResult> {
    return this.#enqueue(runSend, options) as Promise<SendResult>;
  }

  /**
   * {@link send} without a promise or a callback made per send, for the pool: `receiver.sendDone(token, …)`
   * is called once with the outcome.
   * @internal
   */
  submit<T>(options: SendOptions, receiver: SendReceiver<T>, token: T): void {
    this.#push({
      run: runSend,
      send: options,
      early: undefined,
      resolve: undefined,
      reject: undefined,
      receiver,
      token,
      started: false,
      endWritten: false,
    });
  }

  /**
   * RFC 2920 §3.1 lets the next transaction's envelope follow the end of data without waiting for its
   * reply. Called as a DATA terminator is about to be written: when the next queued call is a send that
   * can be planned now, its first group is returned to go out in the same write, and that send will
   * only read its replies.
   */
  takeNextEnvelope(): WrittenAhead | undefined {
    if (this.#jobs.length === 0) return undefined; // no read past the end: V8 would drop the optimized code
    const next = this.#jobs[0] as Job;
    if (!next.send || next.early) return undefined;
    const early = planEarly(this, next.send);
    if (!early) return undefined;
    next.early = early;
    return { commands: early.groups[0] as EncodedCommand[], whole: early.inline ? [next] : [] };
  }

  /**
   * RFC 3030 §4.2 with RFC 2920: queued sends that are whole in one write (MAIL, RCPT…, `BDAT n LAST`
   * and the body) go out before the running send's replies return, up to {@link AHEAD_WINDOW} sends
   * behind it. Returns the commands to write; those sends will only read their replies.
   */
  takeAhead(): WrittenAhead {
    const commands: EncodedCommand[] = [];
    const whole: QueuedSend[] = [];
    const n = Math.min(this.#jobs.length, AHEAD_WINDOW);
    for (let i = 0; i < n; i++) {
      const job = this.#jobs[i] as Job;
      if (!job.send) break;
      if (job.early) continue;
      const early = planEarly(this, job.send, true);
      if (!early) break;
      job.early = early;
      whole.push(job);
      for (const c of early.groups[0] as EncodedCommand[]) commands.push(c);
    }
    return { commands, whole };
  }

  /** The next queued send's commands are already on the wire. */
  get nextWrittenEarly(): boolean {
    return this.#jobs.length > 0 && (this.#jobs[0] as Job).early?.written === true;
  }

  checkEnvelope(options: CheckEnvelopeOptions): Promise<EnvelopeCheck> {
    return this.#enqueue(() => checkEnvelope(this, options));
  }

  reset(options?: { signal?: AbortSignal }): Promise<Reply> {
    return this.#enqueue(() => this.rset(options?.signal));
  }

  /** RSET now (not queued); a failed RSET leaves the session unusable. */
  async rset(signal?: AbortSignal): Promise<Reply> {
    const reply = await this.command({ verb: 'RSET' }, 'command', signal);
    if (!isPositiveCompletion(reply)) {
      const error = replyError(reply, 'RSET');
      this.fail(error);
      throw error;
    }
    return reply;
  }

  noop(options?: { signal?: AbortSignal }): Promise<Reply> {
    return this.#enqueue(async () => {
      const reply = await this.command({ verb: 'NOOP' }, 'command', options?.signal);
      if (!isPositiveCompletion(reply)) throw replyError(reply, 'NOOP');
      return reply;
    });
  }

  quit(): Promise<void> {
    return this.#enqueue(() => this.close());
  }

  /** QUIT and close now: never throws; waits for the 221 at most the command timeout capped at 5 s. */
  async close(): Promise<void> {
    if (this.#dead || this.#closed) return;
    const deadline = startDeadline('command', Math.min(this.timeouts.command, QUIT_WAIT_CAP), []);
    try {
      const quit = encodeCommand({ verb: 'QUIT' });
      await this.writeCommands([quit], deadline.signal);
      await this.reader.next(deadline.signal);
    } catch {
      // A QUIT that is never answered does not undo what already succeeded (RFC 5321 §4.1.1.10).
    } finally {
      deadline.clear();
      this.#closed = true;
      this.#clock.stop();
      this.transport.end();
      // Give the FIN a moment, then make sure nothing lingers.
      setTimeout(() => this.transport.destroy(), 1000).unref?.();
    }
  }

  destroy(error?: Error): void {
    if (this.#dead || this.#closed) return;
    this.fail(
      error instanceof SmtpError
        ? error
        : new SmtpError(error?.message ?? 'session destroyed', {
            kind: 'aborted',
            code: 'ERR_SMTP_ABORTED',
            retryable: false,
            ...(error ? { cause: error } : {}),
          }),
    );
  }
}
