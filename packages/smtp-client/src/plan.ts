import { ClientTransaction, CrlfCanonicalizer, DEFAULT_BDAT_CHUNK_SIZE, MAX_DATA_LINE, type Capabilities } from '@smtpkit/wire';
import { downgradeBody, needsDowngrade } from './downgrade.js';
import { analyseBody, prepareEnvelope, type BodyInfo, type PreparedEnvelope } from './envelope.js';
import type { BodyProgress } from './progress.js';
import type { CheckEnvelopeOptions, SendOptions } from './types.js';

/** RFC 5321 §4.5.3.1.8: a server must take at least 100 recipients in one transaction. */
export const MIN_RECIPIENT_BUFFER = 100;

/** What a transaction is planned with: the session's side of it. */
export interface PlanContext {
  /** The capabilities a transaction may use (PIPELINING and CHUNKING only when the options allow them). */
  readonly sendCapabilities: Capabilities;
  readonly secure: boolean;
  readonly chunking: 'auto' | 'never';
  readonly protocol: 'smtp' | 'lmtp';
}

/** One send's transaction, checked and built, and how far it got. */
export interface SendRun {
  o: SendOptions;
  progress: BodyProgress;
  info: BodyInfo;
  prepared: PreparedEnvelope;
  tx: ClientTransaction;
  pipelined: boolean;
  /** LMTP (RFC 2033): one reply per accepted recipient after the data. */
  lmtp: boolean;
  /**
   * The whole message goes in the envelope's group: MAIL, RCPT…, `BDAT n LAST` with the body (RFC 3030 §4.2
   * lets BDAT join a pipelined group), so the transaction is one write and its replies.
   */
  oneWrite: boolean;
  /** Its first group is on the wire already, written ahead of its turn (see write-ahead.ts). */
  written: boolean;
  /** A RCPT was refused as over the server's limit (RFC 5321 §4.5.3.1.10): a further transaction follows. */
  overLimit: boolean;
  /** Octets of the message as given, once sent. */
  bytes: number;
  startedAt: number;
  envelopeDone: number;
}

/**
 * Check and build the transaction of a send; throws kind 'input'/'tls' before anything is sent. `resetFirst`:
 * it goes on the wire behind a transaction whose outcome is not known yet, so it starts with RSET.
 */
export function planSend(ctx: PlanContext, o: SendOptions, progress: BodyProgress, resetFirst = false): SendRun {
  // The send's time starts before its checks and plan: they are part of it.
  const now = Date.now();
  let info = analyseBody(o.data);
  const caps = ctx.sendCapabilities;
  const downgrade = needsDowngrade(caps, o, info);
  // A body given whole is converted now: whatever cannot be converted is refused before anything is sent.
  if (downgrade && info.bytes) info = downgradeBody(info);
  const prepared = prepareEnvelope(caps, o, info, { secure: ctx.secure, chunking: ctx.chunking, downgrade });
  const allOrNothing = o.partial === 'all-or-nothing';
  // Under all-or-nothing the body waits for every RCPT reply: never in the envelope's group.
  const wholeBody = prepared.useBdat && caps.pipelining && !allOrNothing ? oneChunk(info, prepared.binary) : undefined;
  const tx = new ClientTransaction(caps, prepared.envelope, {
    body: prepared.useBdat ? 'BDAT' : 'DATA',
    smtputf8: prepared.smtputf8,
    allOrNothing,
    resetFirst,
    lmtp: ctx.protocol === 'lmtp',
    wholeBody,
  });
  return {
    o,
    progress,
    info,
    prepared,
    tx,
    pipelined: caps.pipelining,
    lmtp: ctx.protocol === 'lmtp',
    oneWrite: wholeBody !== undefined,
    written: false,
    overLimit: false,
    bytes: 0,
    startedAt: now,
    envelopeDone: now,
  };
}

/** `checkEnvelope`'s transaction: MAIL FROM and (unless `stopAfter: 'mail'`) every RCPT TO, then RSET. */
export function planCheck(ctx: PlanContext, o: CheckEnvelopeOptions): { tx: ClientTransaction; to: readonly string[] } {
  const caps = ctx.sendCapabilities;
  const prepared = prepareEnvelope(caps, { ...o, data: '', partial: 'allow' }, analyseBody(''), { secure: ctx.secure, chunking: ctx.chunking });
  const tx = new ClientTransaction(caps, prepared.envelope, {
    stopAfter: o.stopAfter ?? 'rcpt',
    smtputf8: prepared.smtputf8,
    lmtp: ctx.protocol === 'lmtp',
  });
  return { tx, to: prepared.envelope.to };
}

/**
 * A body given whole that fits one BDAT chunk, as it goes: line ends canonical unless BINARYMIME (RFC 5321
 * §4.5.3.1.6 holds for BDAT too; only BINARYMIME lifts the line limit, RFC 3030 §3); else undefined.
 */
function oneChunk(info: BodyInfo, binary: boolean): Uint8Array | undefined {
  const raw = info.bytes;
  if (!raw || raw.length > DEFAULT_BDAT_CHUNK_SIZE) return undefined;
  if (binary) return raw;
  const canon = new CrlfCanonicalizer({ maxLineLength: MAX_DATA_LINE });
  const head = canon.push(raw);
  const tail = canon.end();
  const body = tail.length > 0 ? Buffer.concat([head, tail]) : head;
  return body.length > DEFAULT_BDAT_CHUNK_SIZE ? undefined : body;
}
