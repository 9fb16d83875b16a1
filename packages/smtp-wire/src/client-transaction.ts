import { encodeBdatChunk } from './bdat.js';
import type { Capabilities } from './capabilities.js';
import { encodeCommand } from './command-encoder.js';
import type { EncodedCommand } from './command-encoder.js';
import { SmtpError, inputError } from './errors.js';
import { DATA, encodeEnvelope } from './pipelining.js';
import type { Envelope } from './pipelining.js';
import { isPositiveCompletion, isTooManyRecipients } from './reply.js';
import type { Reply } from './reply.js';
import type { RecipientOutcome, TransactionAction, TransactionEnd, TransactionOptions, TransactionOutcome } from './transaction-outcome.js';

const RSET: EncodedCommand = Object.freeze(encodeCommand({ verb: 'RSET' }));
const READ: TransactionAction = Object.freeze({ type: 'read' });
const BODY_DATA: TransactionAction = Object.freeze({ type: 'body', via: 'DATA' });
const BODY_BDAT: TransactionAction = Object.freeze({ type: 'body', via: 'BDAT' });

/** What a reply answers: the RSET before the transaction, its commands, a chunk, the end of data, the RSET after. */
type Awaited = 'RSET' | 'MAIL' | 'RCPT' | 'DATA' | 'CHUNK' | 'FINAL' | 'RESET';

/** Why a transaction is being reset, for its outcome once RSET is answered. */
interface Ending {
  end: TransactionEnd;
  reply: Reply | undefined;
  command: string | undefined;
}

interface Expected {
  kind: Awaited;
  command: EncodedCommand;
  /** The recipient a RCPT is for; -1 otherwise. */
  index: number;
}

function stateError(message: string): SmtpError {
  return inputError(`ClientTransaction: ${message}`, 'ERR_SMTP_TRANSACTION_STATE');
}

/**
 * The client side of one mail transaction (RFC 5321 §3.3) as a state machine without I/O, in the manner of
 * h11: {@link start} says what to write, each reply goes to {@link receive}, and every answer is the next
 * {@link TransactionAction}. It owns the rules: with PIPELINING the envelope is one group (RFC 2920 §3.1) that
 * DATA ends, or that `BDAT n LAST` with the whole message, or the first chunk of a larger one, ends (RFC 3030
 * §4.2); without it one command at a time. Every 2yz is positive (RFC 5321 §4.2.1). Nothing follows a refused
 * MAIL; a transaction with no accepted recipient (or, all-or-nothing, one not accepted) is reset; over the
 * server's recipient limit, recipients are deferred (§4.5.3.1.10); a 421 ends the session (§3.8); 354 or a
 * positive BDAT reply with no accepted recipient is a violation. With `lmtp`, the end of data has one reply
 * per accepted recipient (RFC 2033 §4.2).
 *
 * @throws {SmtpError} kind `input` from the constructor for a bad envelope or options, before anything is written.
 * @example
 * ```ts
 * const tx = new ClientTransaction(caps, { from: 'a@example.com', to: ['b@example.net'] });
 * let action = tx.start();                        // { type: 'write', commands: [MAIL, RCPT, DATA] }
 * while (action.type !== 'done') {
 *   if (action.type === 'write' || action.type === 'reset') await write(action.commands);
 *   else if (action.type === 'body') await writeBody();
 *   else if (action.type === 'violation') throw action.error;
 *   action = tx.receive(await nextReply());
 * }
 * ```
 */
export class ClientTransaction {
  readonly #pipelining: boolean;
  readonly #options: TransactionOptions;
  readonly #recipients: RecipientOutcome[];
  /** MAIL FROM as logged, for the outcome of a refused MAIL. */
  readonly #mailCommand: string;
  /** Replies awaited, in the order the commands went out; `#at` is the next one's. */
  readonly #queue: Expected[] = [];
  #at = 0;
  /** Without PIPELINING: the envelope's commands still to write, one per round trip. */
  #unwritten: Expected[];
  #phase: 'new' | 'envelope' | 'data' | 'body' | 'reset' | 'done' = 'new';
  #mail: Reply | undefined;
  #data: Reply | undefined;
  /** The BDAT that went with the envelope: the whole message (`FINAL`) or its first chunk (`CHUNK`). */
  #inGroup: Expected | undefined;
  /** The first reply to {@link #inGroup}. */
  #inGroupReply: Reply | undefined;
  #accepted = 0;
  #overLimit = false;
  /** The first refused chunk, or the final reply of a DATA or BDAT message. */
  #chunkRefused: { reply: Reply; command: string } | undefined;
  #final: { reply: Reply; command: string } | undefined;
  /** LMTP: the accepted recipients still owed a reply after the end of data, in RCPT order. */
  #lmtpOwed: number[] | undefined;
  #lastWritten = false;
  #followed = false;
  #ending: Ending | undefined;

  constructor(caps: Capabilities, envelope: Envelope, options: TransactionOptions = {}) {
    const bdat = options.body === 'BDAT';
    if (!bdat && (options.wholeBody || options.firstChunk)) throw stateError('wholeBody and firstChunk need body: BDAT');
    if (options.wholeBody && options.firstChunk) throw stateError('give wholeBody or firstChunk, not both');
    if (options.firstChunk?.length === 0) throw stateError('firstChunk is empty');
    const commands = encodeEnvelope(caps, envelope, { useBdat: bdat, smtputf8: options.smtputf8 === true });
    this.#pipelining = caps.pipelining;
    this.#options = options;
    const to = envelope.to;
    const recipients: RecipientOutcome[] = new Array<RecipientOutcome>(to.length);
    for (let i = 0; i < to.length; i++) {
      recipients[i] = { address: to[i] as string, status: 'unsent', reply: undefined, command: (commands[i + 1] as EncodedCommand).logText };
    }
    this.#recipients = recipients;
    const mail = commands[0] as EncodedCommand;
    this.#mailCommand = mail.logText;
    const envelopeQueue: Expected[] = [];
    if (options.resetFirst) envelopeQueue.push({ kind: 'RSET', command: RSET, index: -1 });
    envelopeQueue.push({ kind: 'MAIL', command: mail, index: -1 });
    if (options.stopAfter !== 'mail') {
      for (let i = 1; i < commands.length; i++) envelopeQueue.push({ kind: 'RCPT', command: commands[i] as EncodedCommand, index: i - 1 });
    }
    if (caps.pipelining && !options.stopAfter && !options.allOrNothing) {
      // RFC 2920 §3.1: DATA ends the group; RFC 3030 §4.2: so may BDAT, with its chunk.
      const tail = bdat ? this.#bdatInGroup() : { kind: 'DATA' as const, command: DATA, index: -1 };
      if (tail) envelopeQueue.push(tail);
      this.#inGroup = bdat ? tail : undefined;
    }
    this.#unwritten = envelopeQueue;
  }

  /** Replies awaited for what was written (the window of BDAT chunks, for one). */
  get outstanding(): number {
    return this.#queue.length - this.#at;
  }

  /**
   * What the next reply answers, for its deadline (RFC 5321 §4.5.3.2): `END` is the end of the data (after the
   * DATA body, or `BDAT … LAST`), `BDAT` a chunk before it; undefined when no reply is due.
   */
  get awaiting(): 'RSET' | 'MAIL' | 'RCPT' | 'DATA' | 'BDAT' | 'END' | undefined {
    const kind = this.#queue[this.#at]?.kind;
    return kind === 'RESET' ? 'RSET' : kind === 'CHUNK' ? 'BDAT' : kind === 'FINAL' ? 'END' : kind;
  }

  /** The first write: the whole envelope group with PIPELINING, else MAIL FROM (or the RSET before it). */
  start(): TransactionAction {
    if (this.#phase !== 'new') throw stateError('start() was called already');
    this.#phase = 'envelope';
    return this.#pipelining ? this.#write(this.#unwritten.splice(0)) : this.#write(this.#unwritten.splice(0, 1));
  }

  /**
   * A transaction that starts with RSET was written behind this one: it resets the server whatever becomes of
   * this one, so this one sends no RSET of its own (a reply read for it would be the next one's).
   */
  followedByReset(): void {
    this.#followed = true;
  }

  /** The next reply, in order (RFC 2920 §3.1). */
  receive(reply: Reply): TransactionAction {
    if (this.#phase === 'done' || this.#phase === 'new') throw stateError(`a reply given ${this.#phase === 'new' ? 'before start()' : 'after the end'}`);
    const e = this.#queue[this.#at];
    if (e !== undefined && e === this.#inGroup) this.#inGroupReply ??= reply;
    if (!e) return this.#violation('unsolicited reply: no command awaits one', reply, 'unsolicited');
    if (reply.code === 421) return this.#finish('closing', reply, e.command.logText, false);
    const positive = isPositiveCompletion(reply);
    switch (e.kind) {
      case 'RSET':
        if (!positive) return this.#finish('reset-refused', reply, 'RSET', false);
        break;
      case 'MAIL':
        this.#mail = reply;
        break;
      case 'RCPT':
        this.#recipient(e.index, reply);
        break;
      case 'DATA':
        this.#data = reply;
        break;
      case 'CHUNK':
        if (!positive) this.#chunkRefused ??= { reply, command: e.command.logText };
        break;
      case 'FINAL':
        if (this.#lmtpFinal(reply, e)) return READ;
        this.#final ??= { reply, command: e.command.logText };
        break;
      case 'RESET': {
        const ending = this.#ending as Ending;
        return positive ? this.#finish(ending.end, ending.reply, ending.command, true) : this.#finish('reset-refused', reply, 'RSET', false);
      }
    }
    this.#at++;
    if (this.#phase === 'body') return this.#inBody(e.kind);
    return this.#at < this.#queue.length ? READ : this.#decide();
  }

  /**
   * The next BDAT chunk of a streamed body (after a `body` action via BDAT), encoded with its data as one
   * command to write; its reply goes to {@link receive} like any other.
   */
  bdatChunk(data: Uint8Array, last: boolean): EncodedCommand {
    if (this.#phase !== 'body' || this.#options.body !== 'BDAT' || this.#lastWritten || this.#chunkRefused) {
      throw stateError('no BDAT chunk is due');
    }
    const command = encodeBdatChunk(data, last);
    this.#lastWritten = last;
    this.#queue.push({ kind: last ? 'FINAL' : 'CHUNK', command, index: -1 });
    return command;
  }

  #bdatInGroup(): Expected | undefined {
    const { wholeBody, firstChunk } = this.#options;
    if (wholeBody) return { kind: 'FINAL', command: encodeBdatChunk(wholeBody, true), index: -1 };
    if (firstChunk) return { kind: 'CHUNK', command: encodeBdatChunk(firstChunk, false), index: -1 };
    return undefined;
  }

  #write(group: Expected[]): TransactionAction {
    const commands: EncodedCommand[] = [];
    for (let i = 0; i < group.length; i++) {
      const e = group[i] as Expected;
      this.#queue.push(e);
      commands.push(e.command);
    }
    return { type: 'write', commands };
  }

  #recipient(index: number, reply: Reply): void {
    const r = this.#recipients[index] as RecipientOutcome;
    r.reply = reply;
    if (isPositiveCompletion(reply)) {
      r.status = 'accepted';
      this.#accepted++;
    } else if (this.#accepted > 0 && isTooManyRecipients(reply)) {
      r.status = 'deferred';
      this.#overLimit = true;
    } else {
      r.status = 'refused';
    }
  }

  /** LMTP: a reply after the end of data for one accepted recipient; true while more are owed. */
  #lmtpFinal(reply: Reply, e: Expected): boolean {
    if (!this.#options.lmtp || this.#accepted === 0) return false;
    if (!this.#lmtpOwed) {
      const owed: number[] = [];
      for (let i = 0; i < this.#recipients.length; i++) if ((this.#recipients[i] as RecipientOutcome).status === 'accepted') owed.push(i);
      this.#lmtpOwed = owed;
    }
    const r = this.#recipients[this.#lmtpOwed.shift() as number] as RecipientOutcome;
    r.reply = reply;
    r.command = e.command.logText;
    if (isPositiveCompletion(reply)) this.#final ??= { reply, command: e.command.logText };
    else r.status = 'refused';
    if (this.#lmtpOwed.length > 0) return true;
    // Every recipient answered: the first positive reply stands for the message, else the last refusal.
    this.#final ??= { reply, command: e.command.logText };
    return false;
  }

  /** Every reply to what was written is in: the next step of the envelope, or its end. */
  #decide(): TransactionAction {
    const mail = this.#mail;
    if (this.#unwritten.length > 0 && (mail === undefined || isPositiveCompletion(mail))) {
      // One command per round trip; past the server's recipient limit, the rest wait for a further transaction.
      if (!this.#overLimit || this.#unwritten[0]?.kind !== 'RCPT') return this.#write(this.#unwritten.splice(0, 1));
      for (const e of this.#unwritten.splice(0)) if (e.kind === 'RCPT') (this.#recipients[e.index] as RecipientOutcome).status = 'deferred';
    }
    if (this.#phase === 'data') return this.#afterData();
    const mailCommand = this.#mailCommand;
    if (mail === undefined || !isPositiveCompletion(mail) || this.#accepted === 0) {
      // RFC 2920 §3.1: no 354 without a valid recipient; RFC 3030 §2: nor a BDAT chunk taken.
      if (this.#data?.code === 354) return this.#violation('server answered DATA with 354 although no recipient was accepted', this.#data, 'DATA');
      const bdat = this.#inGroupReply;
      if (bdat && isPositiveCompletion(bdat)) {
        return this.#violation('server accepted BDAT although no recipient was accepted', bdat, (this.#inGroup as Expected).command.logText);
      }
      if (mail === undefined || !isPositiveCompletion(mail)) return this.#finish('mail-refused', mail, mailCommand, true);
    }
    if (this.#options.stopAfter) return this.#reset('checked', undefined, undefined);
    if (this.#accepted === 0 || (this.#options.allOrNothing && this.#accepted < this.#recipients.length)) {
      const first = this.#recipients.find((r) => r.status !== 'accepted') as RecipientOutcome;
      return this.#reset('recipients-refused', first.reply, first.command);
    }
    if (this.#options.body !== 'BDAT') {
      if (this.#data !== undefined) return this.#afterData();
      this.#phase = 'data';
      return this.#write([{ kind: 'DATA', command: DATA, index: -1 }]);
    }
    this.#phase = 'body';
    if (this.#final) return this.#messageEnd();
    if (this.#inGroup) return this.#chunkRefused ? this.#reset('message-refused', this.#chunkRefused.reply, this.#chunkRefused.command) : BODY_BDAT;
    const whole = this.#options.wholeBody;
    if (!whole) return BODY_BDAT;
    this.#lastWritten = true;
    return this.#write([{ kind: 'FINAL', command: encodeBdatChunk(whole, true), index: -1 }]);
  }

  #afterData(): TransactionAction {
    const reply = this.#data as Reply;
    if (reply.code !== 354) return this.#reset('data-refused', reply, 'DATA');
    this.#phase = 'body';
    this.#queue.push({ kind: 'FINAL', command: DATA, index: -1 });
    return BODY_DATA;
  }

  /** A reply during the body: go on, keep reading, or the end of the message. */
  #inBody(kind: Awaited): TransactionAction {
    if (kind === 'FINAL') return this.#messageEnd();
    if (this.#chunkRefused) return this.#at < this.#queue.length ? READ : this.#reset('message-refused', this.#chunkRefused.reply, this.#chunkRefused.command);
    // Nothing more to write once the last chunk is out: only its reply is awaited.
    return this.#lastWritten ? READ : BODY_BDAT;
  }

  /** The end of data was answered (every LMTP recipient's share, too). */
  #messageEnd(): TransactionAction {
    const final = this.#final as { reply: Reply; command: string };
    const failed = this.#chunkRefused ?? (isPositiveCompletion(final.reply) ? undefined : final);
    if (!failed) return this.#finish('sent', final.reply, final.command, true);
    if (this.#at < this.#queue.length) return READ;
    // RFC 5321 §4.1.1.4: the reply to the end of DATA ends the transaction either way; a refused BDAT
    // transfer is reset (RFC 3030 §2).
    if (this.#options.body === 'BDAT') return this.#reset('message-refused', failed.reply, failed.command);
    return this.#finish('message-refused', failed.reply, failed.command, true);
  }

  #reset(end: TransactionEnd, reply: Reply | undefined, command: string | undefined): TransactionAction {
    if (this.#followed) return this.#finish(end, reply, command, true);
    this.#ending = { end, reply, command };
    this.#phase = 'reset';
    this.#queue.push({ kind: 'RESET', command: RSET, index: -1 });
    return { type: 'reset', commands: [RSET] };
  }

  #finish(end: TransactionEnd, reply: Reply | undefined, command: string | undefined, sessionUsable: boolean): TransactionAction {
    this.#phase = 'done';
    const outcome: TransactionOutcome = { end, reply, command, mail: this.#mail, recipients: this.#recipients, sessionUsable };
    return { type: 'done', outcome };
  }

  #violation(message: string, reply: Reply, command: string): TransactionAction {
    this.#phase = 'done';
    return { type: 'violation', error: new SmtpError(message, { kind: 'protocol', code: 'ERR_SMTP_PROTOCOL', reply, command }) };
  }
}
