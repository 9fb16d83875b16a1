import { encodeCommand, isPositiveCompletion, type Capabilities, type Command, type EncodedCommand, type Reply, type SmtpError } from '@smtpkit/wire';
import { Conversation } from './conversation.js';
import { withDowngradedBody } from './downgrade.js';
import { abortedError, destroyedError, replyError } from './errors.js';
import { planCheck, planSend, type SendRun } from './plan.js';
import type { BodyProgress } from './progress.js';
import { sendWithinLimits, type TransactionSender } from './recipient-limit.js';
import type { ReplyReader } from './reply-reader.js';
import { envelopeCheck, sendResult } from './send.js';
import type { Step, Timeouts } from './timeouts.js';
import { runTransaction } from './transaction.js';
import type { Transcript } from './transcript.js';
import type { Transport } from './transport.js';
import type { CheckEnvelopeOptions, EnvelopeCheck, SendOptions, SendResult, Session, TlsInfo } from './types.js';
import { WriteAhead, type QueuedSend } from './write-ahead.js';

/** Hears how a send given to {@link SmtpSession.submit} ended (the pool); `T` is what it knows the send by. @internal */
export interface SendReceiver<T> {
  /**
   * Called once per send: the error or the result, and how far the body got (which decides whether a
   * failed send may be tried on another session).
   */
  sendDone(token: T, error: unknown, result: SendResult | undefined, progress: BodyProgress): void;
}

/** A queued call on the session: a send, or another call (`call`). */
interface Job extends QueuedSend {
  call: (() => Promise<unknown>) | undefined;
  /** A job queued with a promise settles it; one queued by {@link SmtpSession.submit} tells its receiver. */
  resolve: ((value: unknown) => void) | undefined;
  reject: ((error: unknown) => void) | undefined;
  receiver: SendReceiver<unknown> | undefined;
  /** What the receiver knows the send by. */
  token: unknown;
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
  /** `lmtp`: the session speaks LMTP (RFC 2033): one reply per accepted recipient after the data. */
  protocol?: 'smtp' | 'lmtp';
}

/** Settle a finished job; an exception thrown by a receiver surfaces on its own, outside the queue. */
function settle(job: Job, failed: boolean, error: unknown, value: unknown): void {
  if (!job.receiver) {
    if (failed) job.reject?.(error);
    else job.resolve?.(value);
    return;
  }
  try {
    job.receiver.sendDone(job.token, failed ? error : undefined, failed ? undefined : (value as SendResult), job);
  } catch (err) {
    queueMicrotask(() => {
      throw err;
    });
  }
}

/**
 * One SMTP (or LMTP) session over a {@link Transport}. Calls are queued and run one at a time, in order; each
 * send is one transaction of wire's `ClientTransaction` driven through the session's {@link Conversation}
 * (transaction.ts), with queued sends written ahead when the protocol allows (write-ahead.ts). Any timeout,
 * abort, protocol error, lost connection or 421 ends the session.
 */
export class SmtpSession implements Session, TransactionSender {
  readonly #conversation: Conversation;
  readonly protocol: 'smtp' | 'lmtp';
  readonly chunking: 'auto' | 'never';
  readonly #pipelining: 'auto' | 'never';
  #capabilities: Capabilities;
  #sendCapabilities: Capabilities | undefined;
  tls: TlsInfo | null = null;
  greeting: Reply = { code: 0, lines: [], text: '' };
  authenticated: string | null = null;
  readonly #jobs: Job[] = [];
  readonly #ahead: WriteAhead;
  #busy = false;

  constructor(init: SessionInit) {
    this.#conversation = new Conversation(init.transport, init.transcript, init.timeouts, init.signal);
    this.protocol = init.protocol ?? 'smtp';
    this.chunking = init.chunking;
    this.#pipelining = init.pipelining;
    this.#capabilities = init.capabilities;
    this.#ahead = new WriteAhead(this.#jobs, this);
  }

  get transport(): Transport {
    return this.#conversation.transport;
  }

  get transcript(): Transcript {
    return this.#conversation.transcript;
  }

  get reader(): ReplyReader {
    return this.#conversation.reader;
  }

  /** What the server offers (the last EHLO/HELO/LHLO reply). */
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
      pipelining: this.#capabilities.pipelining && this.#pipelining !== 'never',
      chunking: this.#capabilities.chunking && this.chunking !== 'never',
    });
  }

  get secure(): boolean {
    return this.transport.secure;
  }

  get remote(): string {
    return this.transport.remote;
  }

  get usable(): boolean {
    return this.#conversation.usable;
  }

  /** The next queued send is on the wire already. */
  get nextWritten(): boolean {
    return this.#ahead.nextWritten;
  }

  /** End the session for good: destroy the transport (no QUIT: the stream may be out of step). */
  fail(error: SmtpError): void {
    this.#conversation.fail(error);
  }

  /** Run `fn` under the deadline of `step` (the greeting, the TLS handshake); a failure ends the session. */
  step<T>(step: Step, fn: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
    return this.#conversation.run(step, fn, signal);
  }

  /** Inside {@link step}: the next reply; a 421 ends the session (RFC 5321 §3.8). */
  readReply(_signal: AbortSignal, command: string): Promise<Reply> {
    return this.#conversation.next(command);
  }

  /** Send one command and read its reply under `step`'s deadline. */
  command(cmd: Command | EncodedCommand, step: Step, signal?: AbortSignal): Promise<Reply> {
    return this.#conversation.command('bytes' in cmd ? cmd : encodeCommand(cmd), step, signal);
  }

  send(options: SendOptions): Promise<SendResult> {
    return new Promise<SendResult>((resolve, reject) => this.#push(options, undefined, resolve as (v: unknown) => void, reject, undefined, undefined));
  }

  /**
   * {@link send} without a promise or a callback made per send, for the pool: `receiver.sendDone(token, …)`
   * is called once with the outcome and how far the body got.
   * @internal
   */
  submit<T>(options: SendOptions, receiver: SendReceiver<T>, token: T): void {
    this.#push(options, undefined, undefined, undefined, receiver as SendReceiver<unknown>, token);
  }

  checkEnvelope(options: CheckEnvelopeOptions): Promise<EnvelopeCheck> {
    return this.#enqueue(() => this.#check(options));
  }

  reset(options?: { signal?: AbortSignal }): Promise<Reply> {
    return this.#enqueue(() => this.#rset(options?.signal));
  }

  /** RSET now (not queued); a failed RSET leaves the session unusable. */
  async #rset(signal?: AbortSignal): Promise<Reply> {
    const reply = await this.command({ verb: 'RSET' }, 'command', signal);
    if (!isPositiveCompletion(reply)) throw this.#conversation.fail(replyError(reply, 'RSET'));
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
  close(): Promise<void> {
    return this.#conversation.close();
  }

  destroy(error?: Error): void {
    if (this.usable) this.#conversation.fail(destroyedError(error));
  }

  /** One transaction of a send (see recipient-limit.ts for the further ones); `ahead` when written ahead. */
  async transaction(o: SendOptions, progress: BodyProgress, ahead?: SendRun): Promise<SendResult> {
    const conv = this.#conversation;
    conv.assertUsable();
    const run = ahead ?? planSend(this, o, progress);
    if (ahead) run.startedAt = run.envelopeDone = Date.now();
    for (let i = 0; i < run.prepared.notes.length; i++) conv.transcript.note(run.prepared.notes[i] as string);
    // A streamed body is converted on its way out (RFC 6152 §3), in bounded memory; its header is checked first.
    if (run.prepared.downgradeStream) run.o = await withDowngradedBody(o);
    const listening = conv.listen(o.signal);
    try {
      return sendResult(conv, run, await runTransaction(conv, run, this.#ahead));
    } finally {
      if (listening) conv.release();
    }
  }

  async #check(o: CheckEnvelopeOptions): Promise<EnvelopeCheck> {
    const conv = this.#conversation;
    conv.assertUsable();
    const check = planCheck(this, o);
    const listening = conv.listen(o.signal);
    try {
      return envelopeCheck(conv, await runTransaction(conv, { tx: check.tx, overLimit: false }), check.to.length);
    } finally {
      if (listening) conv.release();
    }
  }

  /** Serialise a call: calls made while another runs wait their turn, in order. */
  #enqueue<T>(call: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => this.#push(undefined, call, resolve as (v: unknown) => void, reject, undefined, undefined));
  }

  #push(
    send: SendOptions | undefined,
    call: (() => Promise<unknown>) | undefined,
    resolve: ((value: unknown) => void) | undefined,
    reject: ((error: unknown) => void) | undefined,
    receiver: SendReceiver<unknown> | undefined,
    token: unknown,
  ): void {
    this.#jobs.push({ send, call, ahead: undefined, resolve, reject, receiver, token, started: false, endWritten: false });
    if (!this.#busy) void this.#drain(); // a running drain takes it in its turn
  }

  async #drain(): Promise<void> {
    this.#busy = true;
    try {
      // Calls made together (in one tick) are all queued before the first runs, so it can write theirs with
      // its own (RFC 2920 §3.1, RFC 3030 §4.2).
      await undefined;
      for (let job = this.#jobs.shift(); job; job = this.#jobs.shift()) {
        let value: unknown;
        let error: unknown;
        let failed = false;
        try {
          value = await (job.call ? job.call() : this.#send(job));
        } catch (err) {
          error = err;
          failed = true;
        }
        job.ahead = undefined;
        settle(job, failed, error, value);
      }
    } finally {
      this.#busy = false;
    }
  }

  #send(job: Job): Promise<SendResult> {
    const o = job.send as SendOptions;
    // Aborted while queued, before anything of it went out: the session is not harmed.
    if (!job.ahead && o.signal?.aborted) return Promise.reject(abortedError(o.signal.reason));
    return sendWithinLimits(this, o, job, job.ahead);
  }
}
