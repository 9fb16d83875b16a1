import type { ClientTransaction, EncodedCommand } from '@smtpkit/wire';
import { MIN_RECIPIENT_BUFFER, planSend, type PlanContext, type SendRun } from './plan.js';
import { bodyEnded, type BodyProgress } from './progress.js';
import type { SendOptions } from './types.js';

/** Sends written ahead of the running one's replies at most (one-write BDAT messages). */
const AHEAD_WINDOW = 7;

/** A send waiting its turn on a session; `ahead` once its first group went out ahead of that turn. */
export interface QueuedSend extends BodyProgress {
  send: SendOptions | undefined;
  ahead: SendRun | undefined;
}

/** The session's side of write-ahead: what transactions are planned with, and whether it can still send. */
export interface AheadContext extends PlanContext {
  readonly usable: boolean;
}

/**
 * Write-ahead across messages, in one place. Queued sends go on the wire before the running send's replies
 * return, and their replies then come back in the order the sends are queued, which is the order they run
 * in: each reads its own, first in first out (RFC 2920 §3.1). The record of what is in flight is the queue:
 * a queued send whose first group is on the wire carries its started transaction (`ahead`).
 * - After a DATA body with PIPELINING, the next queued send's envelope shares the write of the end of data
 *   (RFC 2920 §3.1): {@link nextEnvelope}.
 * - A message whole in one write (MAIL, RCPT…, `BDAT n LAST` and its data, RFC 3030 §4.2) is followed by the
 *   queued messages that are whole in one write too, up to {@link AHEAD_WINDOW} sends behind the running one,
 *   each starting with RSET so that it starts clean whatever the server made of the one before it; the one
 *   before is told so (`followedByReset`) and sends no RSET of its own: {@link oneWrites}.
 * Nothing goes ahead of a send that may need a further transaction (more than 100 recipients, RFC 5321
 * §4.5.3.1.8, or a recipient refused over the limit), of a stream to convert to 7-bit (its header is checked
 * first), of an aborted send, or on a session that is no longer usable.
 */
export class WriteAhead {
  readonly #queue: readonly QueuedSend[];
  readonly #ctx: AheadContext;

  constructor(queue: readonly QueuedSend[], ctx: AheadContext) {
    this.#queue = queue;
    this.#ctx = ctx;
  }

  /** The next queued send is on the wire already: nothing else may come before it. */
  get nextWritten(): boolean {
    return this.#queue.length > 0 && (this.#queue[0] as QueuedSend).ahead !== undefined;
  }

  /** The envelope of the next queued send, to go out with `running`'s end of data, or undefined. */
  nextEnvelope(running: SendRun): readonly EncodedCommand[] | undefined {
    if (!running.pipelined || running.overLimit || this.#queue.length === 0) return undefined;
    const job = this.#queue[0] as QueuedSend;
    if (!job.send || job.ahead) return undefined;
    const run = this.#plan(job, job.send, false);
    if (!run) return undefined;
    const action = run.tx.start();
    return action.type === 'write' ? action.commands : undefined;
  }

  /**
   * The one-write messages of queued sends that may follow `running` (itself one write) before its replies
   * return; undefined when none may. Their end of data is counted as written from here.
   */
  oneWrites(running: SendRun): EncodedCommand[] | undefined {
    if (running.o.to.length > MIN_RECIPIENT_BUFFER) return undefined;
    // The newest transaction on the wire: the last queued send written ahead, else the running one.
    let last: ClientTransaction = running.tx;
    let commands: EncodedCommand[] | undefined;
    const n = Math.min(this.#queue.length, AHEAD_WINDOW);
    for (let i = 0; i < n; i++) {
      const job = this.#queue[i] as QueuedSend;
      if (!job.send) break;
      if (job.ahead) {
        last = job.ahead.tx;
        continue;
      }
      if (job.send.to.length > MIN_RECIPIENT_BUFFER) break;
      const run = this.#plan(job, job.send, true);
      if (!run) break;
      if (!run.oneWrite) {
        job.ahead = undefined;
        break;
      }
      const action = run.tx.start();
      if (action.type !== 'write') break;
      last.followedByReset();
      last = run.tx;
      bodyEnded(job.send, job);
      commands ??= [];
      for (let k = 0; k < action.commands.length; k++) commands.push(action.commands[k] as EncodedCommand);
    }
    return commands;
  }

  /** The transaction of a queued send, marked written ahead; undefined when it may not go ahead. */
  #plan(job: QueuedSend, o: SendOptions, resetFirst: boolean): SendRun | undefined {
    if (!this.#ctx.usable || o.signal?.aborted) return undefined;
    let run: SendRun;
    try {
      run = planSend(this.#ctx, o, job, resetFirst);
    } catch {
      return undefined; // the send reports it itself when its turn comes
    }
    if (!run.pipelined || run.prepared.downgradeStream) return undefined;
    run.written = true;
    job.ahead = run;
    return run;
  }
}
