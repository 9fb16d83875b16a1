import { Buffer } from 'node:buffer';
import { BodyScanner, DataDecoder } from './data-decoder.js';
import type { BodyTraits } from './data-decoder.js';
import type { Transaction, TransactionContext } from './transaction.js';

const EIGHT_BIT_BODIES = new Set(['8BITMIME', 'BINARYMIME']);

/**
 * The message data of a session: DATA (RFC 5321 §4.1.1.4) and BDAT (RFC 3030 §2) for the open
 * transaction. Passes the octets on as they arrive, enforces SIZE while they stream (RFC 1870 §6.3),
 * and ends the transaction with its data findings, the `message` event and the 250.
 */
export class BodyIntake {
  readonly #ctx: TransactionContext;
  readonly #maxSize: number;
  #receiving: 'DATA' | 'BDAT' | undefined;
  #tx: Transaction | undefined;
  #decoder: DataDecoder | undefined;
  #bdatLeft = 0;
  #bdatLast = false;
  #afterHello = false;
  /** Set while the 354 is unsent: octets arriving then came before it (RFC 2920 §3.1). */
  #before354 = false;

  constructor(ctx: TransactionContext) {
    this.#ctx = ctx;
    this.#maxSize = ctx.maxSize;
  }

  /** True after DATA's 354 until the end of the data, and while a BDAT chunk's octets are due. */
  get isReceiving(): boolean {
    return this.#receiving !== undefined;
  }

  /** The DATA command; `afterHello` tells which finding a missing transaction is. */
  data(tx: Transaction | undefined, afterHello: boolean): void {
    const ctx = this.#ctx;
    if (!tx || tx.to.length === 0 || tx.chunks.length > 0) {
      ctx.find(afterHello ? 'data-before-rcpt' : 'command-before-ehlo', 'DATA');
      if (tx && tx.to.length === 0) return ctx.fail(554, '5.5.1', 'No valid recipients (RFC 5321 §3.3)');
      return ctx.fail(503, '5.5.1', tx ? 'DATA after BDAT in one transaction (RFC 3030 §2)' : 'Need MAIL and RCPT before DATA');
    }
    if (tx.mailParams.BODY?.toUpperCase() === 'BINARYMIME') {
      return ctx.fail(503, '5.5.1', 'BODY=BINARYMIME needs BDAT (RFC 3030 §3)');
    }
    ctx.reply(354, undefined, 'End data with <CR><LF>.<CR><LF>');
    this.#receiving = 'DATA';
    this.#tx = tx;
    this.#decoder = new DataDecoder();
    this.#before354 = true;
  }

  /** The BDAT command: its `size` octets follow, whether or not the chunk is accepted (RFC 3030 §2). */
  bdat(tx: Transaction | undefined, size: number, last: boolean, afterHello: boolean): void {
    this.#receiving = 'BDAT';
    // Not offered: 502 (RFC 5321 §4.2.4); its octets are dropped and the open transaction stays as it was.
    const offered = this.#ctx.options.chunking !== false;
    this.#tx = offered ? tx : undefined;
    this.#bdatLeft = size;
    this.#bdatLast = last;
    this.#afterHello = afterHello;
    if (offered && tx && !tx.bdatFailed && tx.to.length > 0) {
      tx.extensions.add('CHUNKING');
      tx.chunks.push(size);
      tx.scanner ??= new BodyScanner();
    } else if (offered && tx) {
      tx.bdatFailed = true;
    }
    if (size === 0) this.#endChunk();
  }

  /** Takes message octets; returns what follows the end of the data or of the chunk. */
  push(chunk: Uint8Array): Uint8Array {
    return this.#receiving === 'DATA' ? this.#pushData(chunk) : this.#pushBdat(chunk);
  }

  /** The replies so far were written: a 354 among them is sent. */
  repliesSent(): void {
    this.#before354 = false;
  }

  #pushData(chunk: Uint8Array): Uint8Array {
    if (this.#before354) {
      this.#before354 = false;
      this.#ctx.find('data-before-354');
    }
    const tx = this.#tx as Transaction;
    const decoder = this.#decoder as DataDecoder;
    const step = decoder.push(chunk);
    this.#take(tx, step.data);
    if (!step.done) return step.rest;
    this.#receiving = undefined;
    this.#tx = undefined;
    this.#decoder = undefined;
    this.#finish(tx, 'DATA', decoder.traits);
    return step.rest;
  }

  /** Passes message octets on, enforcing SIZE while they stream (RFC 1870 §6.3). */
  #take(tx: Transaction, data: Uint8Array): void {
    if (data.length === 0 || tx.oversize || tx.bdatFailed) return;
    tx.size += data.length;
    if (tx.size > this.#maxSize) {
      tx.oversize = true;
      this.#ctx.find('size-exceeded', `more than ${this.#maxSize} octets`);
      this.#ctx.event({ type: 'discard' });
      return;
    }
    this.#ctx.event({ type: 'data', bytes: data });
  }

  #pushBdat(chunk: Uint8Array): Uint8Array {
    const n = Math.min(this.#bdatLeft, chunk.length);
    const part = chunk.subarray(0, n);
    const tx = this.#tx;
    if (tx && !tx.bdatFailed) {
      tx.scanner?.scan(part);
      this.#take(tx, Buffer.from(part));
    }
    this.#bdatLeft -= n;
    if (this.#bdatLeft === 0) this.#endChunk();
    return chunk.subarray(n);
  }

  #endChunk(): void {
    const ctx = this.#ctx;
    const tx = this.#tx;
    this.#receiving = undefined;
    this.#tx = undefined;
    if (ctx.options.chunking === false) return ctx.fail(502, '5.5.1', 'BDAT not offered');
    if (!tx || tx.bdatFailed || tx.to.length === 0) {
      ctx.find(this.#afterHello ? 'data-before-rcpt' : 'command-before-ehlo', 'BDAT');
      if (tx) ctx.abort();
      return ctx.fail(503, '5.5.1', 'No valid transaction for BDAT (RFC 3030 §2)');
    }
    if (tx.oversize) {
      ctx.end();
      return ctx.fail(552, '5.3.4', `Message size exceeds fixed maximum message size (${this.#maxSize})`);
    }
    if (!this.#bdatLast) return ctx.reply(250, '2.0.0', `${tx.chunks.at(-1)} octets received`);
    const scanner = tx.scanner as BodyScanner;
    scanner.finish();
    this.#finish(tx, 'BDAT', scanner.traits);
  }

  /** Ends the transaction with its message; the data findings land in it. */
  #finish(tx: Transaction, via: 'DATA' | 'BDAT', traits: BodyTraits): void {
    const ctx = this.#ctx;
    if (tx.oversize) {
      ctx.end();
      return ctx.fail(552, '5.3.4', `Message size exceeds fixed maximum message size (${this.#maxSize})`);
    }
    const body = tx.mailParams.BODY?.toUpperCase() ?? '7BIT';
    if (traits.bareLf > 0) ctx.find('bare-lf-data', `${traits.bareLf}×`);
    if (traits.bareCr > 0) ctx.find('bare-cr-data', `${traits.bareCr}×`);
    if (traits.longLines > 0 && body !== 'BINARYMIME') ctx.find('data-line-too-long', `${traits.longLines} line(s)`);
    if (traits.eightBit > 0 && !EIGHT_BIT_BODIES.has(body)) ctx.find('8bit-without-8bitmime', `${traits.eightBit} octet(s)`);
    if (traits.smuggling > 0) ctx.find('smuggling-end-of-data', `${traits.smuggling}×`);
    ctx.end();
    const id = ctx.options.queueId();
    for (const k of ctx.used) tx.extensions.add(k);
    ctx.event({
      type: 'message',
      transaction: {
        id, from: tx.from, to: tx.to, mailParams: tx.mailParams, rcptParams: tx.rcptParams, size: tx.size, via,
        chunks: tx.chunks, extensions: [...tx.extensions], findings: tx.findings, traits: { ...traits },
      },
    });
    ctx.reply(250, '2.0.0', `Ok: queued as ${id}`);
  }
}
