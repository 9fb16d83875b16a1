import {
  CrlfCanonicalizer,
  DataEncoder,
  DEFAULT_BDAT_CHUNK_SIZE,
  encodeCommand,
  isPositiveCompletion as isPositive,
  isTooManyRecipients,
  MAX_DATA_LINE,
  planTransaction,
  SmtpError,
  type EncodedCommand,
  type Reply,
} from '@smtpkit/wire';
import { quoteReply, replyError } from './errors.js';
import { analyseBody, orcptFor, prepareEnvelope, type BodyInfo, type PreparedEnvelope } from './envelope.js';
import { downgradeBody, needsDowngrade, withDowngradedBody } from './downgrade.js';
import { COALESCE_LIMIT, encodeWholeBody, endOfData, endWritten, endWrittenAhead, sendBdat, streamDataBody, writeDataBlock } from './data.js';
import { bodyEnded, bodyProgress, type BodyProgress } from './progress.js';
import type { SmtpSession } from './session.js';
import type { Step } from './timeouts.js';
import type { RecipientRejection, SendOptions, SendResult } from './types.js';

/** Thrown when no recipient was accepted, or any was refused under `partial: 'all-or-nothing'`. */
export class RecipientsRejectedError extends SmtpError {
  /** Every refused recipient with the server's reply. */
  readonly rejected: RecipientRejection[];
  constructor(message: string, rejected: RecipientRejection[], allTransient: boolean) {
    const first = rejected[0]?.error;
    super(message, {
      kind: 'reply',
      code: 'ERR_SMTP_RECIPIENTS_REJECTED',
      retryable: allTransient,
      ...(first?.reply ? { reply: first.reply, replyCode: first.reply.code } : {}),
      ...(first?.enhancedStatus ? { enhancedStatus: first.enhancedStatus } : {}),
      ...(first?.command ? { command: first.command } : {}),
    });
    this.rejected = rejected;
  }
}

function stepOf(cmd: EncodedCommand): Step {
  if (cmd.verb === 'MAIL') return 'mail';
  if (cmd.verb === 'RCPT') return 'rcpt';
  if (cmd.verb === 'DATA') return 'dataInit';
  if (cmd.verb === 'BDAT') return 'dataDone';
  return 'command';
}

/** A transaction checked and planned; `groups[0]` may already be on the wire (see `writeNextEnvelope`). */
export interface PlannedSend {
  info: BodyInfo;
  prepared: PreparedEnvelope;
  groups: EncodedCommand[][];
  pipelined: boolean;
  allOrNothing: boolean;
  /** The first group was written ahead, after the previous message's end of data. */
  written: boolean;
  /**
   * The whole message is in the first group: MAIL, RCPT…, `BDAT n LAST` with the body (RFC 3030
   * §4.2 lets BDAT join a pipelined group), so the transaction is one write and the replies.
   */
  inline: boolean;
}

/**
 * With PIPELINING, a body given whole that fits one BDAT chunk goes out with its envelope as one
 * pipelined `BDAT n LAST` (RFC 3030 §4.2). Not under all-or-nothing: there the body must wait for
 * every RCPT reply.
 */
function inlineBdat(info: BodyInfo, binary: boolean): EncodedCommand | undefined {
  const raw = info.bytes;
  if (!raw) return undefined;
  if (raw.length > DEFAULT_BDAT_CHUNK_SIZE) return undefined;
  let body: Uint8Array = raw;
  if (!binary) {
    // RFC 5321 §4.5.3.1.6 holds for BDAT too; only BINARYMIME lifts the line limit (RFC 3030 §3).
    const canon = new CrlfCanonicalizer({ maxLineLength: MAX_DATA_LINE });
    const head = canon.push(raw);
    const tail = canon.end();
    body = tail.length > 0 ? Buffer.concat([head, tail]) : head;
  }
  if (body.length > DEFAULT_BDAT_CHUNK_SIZE) return undefined;
  const command = encodeCommand({ verb: 'BDAT', size: body.length, last: true });
  const inline: EncodedCommand & { chunk: number } = {
    verb: 'BDAT',
    bytes: Buffer.concat([command.bytes, body]),
    logText: command.logText,
    chunk: body.length,
  };
  return inline;
}

/** Check and plan a transaction; throws kind 'input'/'tls' before anything is sent. */
export function planSend(s: SmtpSession, o: SendOptions): PlannedSend {
  let info = analyseBody(o.data);
  const caps = s.sendCapabilities;
  const downgrade = needsDowngrade(caps, o, info);
  // A body given whole is converted now: whatever cannot be converted is refused before anything is sent.
  if (downgrade && info.bytes) info = downgradeBody(info);
  const prepared = prepareEnvelope(caps, o, info, { secure: s.secure, chunking: s.options.chunking, downgrade });
  const allOrNothing = o.partial === 'all-or-nothing';
  const plan = planTransaction(caps, prepared.envelope, { useBdat: prepared.useBdat, smtputf8: prepared.smtputf8 });
  // Under all-or-nothing DATA must wait for every RCPT reply: take it out of the pipelined group.
  const planned = allOrNothing
    ? plan.groups.map((g) => g.filter((c) => c.verb !== 'DATA')).filter((g) => g.length > 0)
    : plan.groups;
  const groups = withOrcpt(planned, s, o, prepared.smtputf8);
  const bdat = prepared.useBdat && caps.pipelining && !allOrNothing ? inlineBdat(info, prepared.binary) : undefined;
  if (bdat) (groups[groups.length - 1] as EncodedCommand[]).push(bdat);
  return { info, prepared, groups, pipelined: caps.pipelining, allOrNothing, written: false, inline: bdat !== undefined };
}

/** Plan a queued send whose envelope can follow the previous end of data (PIPELINING only), or undefined. */
export function planEarly(s: SmtpSession, o: SendOptions, inlineOnly = false): PlannedSend | undefined {
  if (!s.usable || o.signal?.aborted) return undefined;
  try {
    const p = planSend(s, o);
    // More recipients than a server must take (RFC 5321 §4.5.3.1.8) may need a further transaction: not ahead.
    // A stream to convert to 7-bit has its header checked before its envelope goes out.
    if (!p.pipelined || p.prepared.downgradeStream || (inlineOnly && (!p.inline || o.to.length > MIN_RECIPIENT_BUFFER))) return undefined;
    if (inlineOnly) {
      // Behind a BDAT message whose outcome is not known yet: RSET first, so this transaction starts
      // clean whatever the server made of the previous one (RFC 2920 §3.1 allows RSET in a group).
      (p.groups[0] as EncodedCommand[]).unshift(encodeCommand({ verb: 'RSET' }));
    }
    p.written = true;
    return p;
  } catch {
    return undefined; // the send reports it itself when its turn comes
  }
}

/** RFC 5321 §4.5.3.1.8: a server must take at least 100 recipients in one transaction. */
export const MIN_RECIPIENT_BUFFER = 100;

/** Some recipients were over the server's limit (RFC 5321 §4.5.3.1.10): they go in a further transaction. */
export function hasDeferred(outcome: RecipientOutcomes): boolean {
  for (let i = 0; i < outcome.rejected.length; i++) if (isTooManyRecipients((outcome.rejected[i] as RecipientRejection).reply)) return true;
  return false;
}

/** Recipients accepted and refused, in envelope order. */
export interface RecipientOutcomes {
  accepted: string[];
  rejected: RecipientRejection[];
}

/** The replies of a transaction's envelope, in the order the commands went out (RFC 2920 §3.1). */
interface EnvelopeReplies {
  commands: readonly EncodedCommand[];
  /** `replies[i]` answers `commands[i]`. */
  replies: readonly Reply[];
  mail: { command: EncodedCommand; reply: Reply } | undefined;
  data: Reply | undefined;
  bdat: { command: EncodedCommand; reply: Reply } | undefined;
  /** RCPT commands the server accepted. */
  accepted: number;
  /** `commands` and `replies` are this record's own arrays (not a group's), so they may grow. */
  own: boolean;
}

/**
 * One mail transaction (RFC 5321 §3.3): MAIL, RCPT…, then DATA or BDAT. With PIPELINING the
 * envelope goes in one write and replies are matched in order (RFC 2920 §3.1); the body is sent
 * only after 354. Recipients refused are reported, not thrown, while at least one is accepted.
 * `progress` records how far the body got (see {@link BodyProgress}).
 *
 * Here is the usual course (the envelope's replies, DATA accepted, the body, the final reply); BDAT, a DATA
 * sent on its own, refusals and protocol violations are in functions of their own.
 */
export async function sendTransaction(s: SmtpSession, o: SendOptions, progress: BodyProgress, early?: PlannedSend): Promise<SendResult> {
  s.assertUsable();
  const startedAt = Date.now();
  const plan = early ?? planSend(s, o);
  if (plan.prepared.notes.length > 0) noteAll(s, plan.prepared.notes);
  // A streamed body is converted on its way out (RFC 6152 §3), in bounded memory; its header is checked first.
  if (plan.prepared.downgradeStream) o = await withDowngradedBody(o);
  // Written ahead with the previous end of data: its replies usually came with that message's final reply.
  const env = (plan.written && !plan.inline && plan.groups.length === 1 ? envelopeReady(s, plan) : undefined) ?? (await envelopeExchange(s, o, progress, plan));
  const outcome = envelopeOutcome(s, plan, env);
  if (outcome.accepted.length === 0 || (plan.allOrNothing && outcome.rejected.length > 0)) return recipientsRefused(s, o, plan, outcome);
  const envelopeDone = Date.now();
  if (plan.prepared.useBdat) return bdatTransaction(s, o, progress, plan, env, outcome, startedAt, envelopeDone);
  const dataReply = env.data;
  if (dataReply === undefined || dataReply.code !== 354) await dataAlone(s, o, dataReply);

  // After 354: the body through wire's DataEncoder (CRLF, dot-stuffing, terminator), then the final reply.
  const encoder = new DataEncoder();
  const whole = plan.info.bytes;
  let held = whole ? encodeWholeBody(s, o, progress, encoder, whole) : await streamDataBody(s, o, progress, encoder);
  if (held && held.length > COALESCE_LIMIT) {
    await writeDataBlock(s, o, held);
    held = undefined;
  }
  // With recipients over the server's limit a further transaction follows: nothing may be written ahead of it.
  const end = endOfData(s, encoder, held, plan.pipelined && !hasDeferred(outcome));
  // One step, taken here rather than through `s.exchange` (one async call fewer per message): the write
  // under the data block deadline, the final reply under the end of data one (RFC 5321 §4.5.3.2.5, .6).
  let final: Reply;
  const scope = s.enterStep('dataBlock', o.signal);
  try {
    const sig = s.stepSignal();
    const pending = s.writeInStep(end.bytes, sig, false);
    if (pending) await pending;
    endWritten(s, o, progress, encoder, end.next);
    s.rearm('dataDone');
    final = s.answer(s.reader.take() ?? (await s.reader.next(sig)), 'DATA');
  } catch (err) {
    throw s.stepFailed('dataBlock', err);
  } finally {
    s.exitStep(scope);
  }
  // The final reply ends the transaction either way (RFC 5321 §4.1.1.4): no RSET needed.
  if (!isPositive(final)) throw replyError(final, 'DATA', 'message');
  return sendResult(outcome, final, encoder.bytesIn, startedAt, envelopeDone, plan.info);
}

function noteAll(s: SmtpSession, notes: readonly string[]): void {
  for (let i = 0; i < notes.length; i++) s.transcript.note(notes[i] as string);
}

function newEnvelopeReplies(): EnvelopeReplies {
  return { commands: [], replies: [], mail: undefined, data: undefined, bdat: undefined, accepted: 0, own: false };
}

/** The replies of an envelope written ahead when every one of them is here already, else undefined. */
function envelopeReady(s: SmtpSession, plan: PlannedSend): EnvelopeReplies | undefined {
  const group = plan.groups[0] as EncodedCommand[];
  const replies = s.repliesReady(group, stepOf);
  if (!replies) return undefined;
  const env = newEnvelopeReplies();
  recordReplies(s, env, group, replies);
  return env;
}

/** Write the envelope's groups (or only read the replies of one written ahead) and file the replies. */
async function envelopeExchange(s: SmtpSession, o: SendOptions, progress: BodyProgress, plan: PlannedSend): Promise<EnvelopeReplies> {
  const { info, inline, groups } = plan;
  const env = newEnvelopeReplies();
  for (let index = 0; index < groups.length; index++) {
    const group = groups[index] as EncodedCommand[];
    // RFC 5321 §3.3: nothing follows a refused MAIL; DATA alone waits for an accepted RCPT.
    if ((env.mail && !isPositive(env.mail.reply)) || (group.length === 1 && group[0]?.verb === 'DATA' && env.accepted === 0)) break;
    const bytes = index === 0 && plan.written ? null : s.encodeGroup(group);
    const write = inline ? withAhead(s, o, progress, info, bytes, o.to.length <= MIN_RECIPIENT_BUFFER) : { bytes, written: undefined };
    const out = write.bytes;
    // Written earlier and nothing to write now: their replies may all be here already.
    const replies =
      (out === null ? s.repliesReady(group, stepOf) : undefined) ??
      (await s.exchange(stepOf(group[0] as EncodedCommand), out, group, stepOf, o.signal, write.written, bytes === null));
    recordReplies(s, env, group, replies);
  }
  return env;
}

/** Accepted and refused recipients; throws when MAIL was refused or the server broke the protocol. */
function envelopeOutcome(s: SmtpSession, plan: PlannedSend, env: EnvelopeReplies): RecipientOutcomes {
  const mailOk = env.mail !== undefined && isPositive(env.mail.reply);
  if (!mailOk || env.accepted === 0) {
    // RFC 3030 §2: a chunk is refused when the transaction has no valid recipient.
    if (env.bdat && isPositive(env.bdat.reply)) {
      throw protocolViolation(s, 'server accepted BDAT although no recipient was accepted', env.bdat.reply, env.bdat.command.logText);
    }
    // RFC 2920 §3.1 forbids 354 without a valid recipient; the only safe way out is to hang up.
    if (env.data?.code === 354) {
      throw protocolViolation(s, 'server answered DATA with 354 although no recipient was accepted', env.data, 'DATA');
    }
  }
  const mail = env.mail as { command: EncodedCommand; reply: Reply };
  if (!mailOk) throw replyError(mail.reply, mail.command.logText, 'MAIL FROM');
  return recipientOutcomes(env.commands, env.replies, plan.prepared.envelope.to);
}

/** No recipient accepted, or one refused under all-or-nothing: RSET, then the error. */
async function recipientsRefused(s: SmtpSession, o: SendOptions, plan: PlannedSend, outcome: RecipientOutcomes): Promise<never> {
  await resetAfterFailure(s, o, plan.inline);
  throw recipientsRejected(o, outcome.accepted.length === 0, outcome.rejected);
}

/** DATA when it was not in the envelope's group (no PIPELINING, or all-or-nothing), or its refusal. */
async function dataAlone(s: SmtpSession, o: SendOptions, reply: Reply | undefined): Promise<void> {
  let dataReply = reply;
  if (!dataReply) {
    const cmd = encodeCommand({ verb: 'DATA' });
    dataReply = (await s.exchange('dataInit', s.encodeGroup([cmd]), [cmd], stepOf, o.signal))[0] as Reply;
  }
  if (dataReply.code !== 354) {
    await s.rset(o.signal);
    throw replyError(dataReply, 'DATA');
  }
}

/** The rest of a BDAT transaction (RFC 3030): the one-write message's final reply, or the body in chunks. */
async function bdatTransaction(
  s: SmtpSession,
  o: SendOptions,
  progress: BodyProgress,
  plan: PlannedSend,
  env: EnvelopeReplies,
  outcome: RecipientOutcomes,
  startedAt: number,
  envelopeDone: number,
): Promise<SendResult> {
  let final: Reply;
  let bytes: number;
  if (env.bdat) {
    final = env.bdat.reply;
    bytes = plan.info.size ?? 0;
    if (s.transcript.enabled) s.transcript.emit('*', `message sent in one BDAT chunk: ${bytes} bytes`);
    if (!isPositive(final)) await resetAfterFailure(s, o, plan.inline);
  } else {
    ({ final, bytes } = await sendBdat(s, o, progress, { binary: plan.prepared.binary, pipelined: plan.pipelined }));
  }
  // The final reply ends the transaction either way (RFC 5321 §4.1.1.4): no RSET needed.
  if (!isPositive(final)) throw replyError(final, 'BDAT', 'message');
  return sendResult(outcome, final, bytes, startedAt, envelopeDone, plan.info);
}

function sendResult(
  outcome: RecipientOutcomes,
  final: Reply,
  bytes: number,
  startedAt: number,
  envelopeDone: number,
  info: BodyInfo,
): SendResult {
  const done = Date.now();
  const result: SendResult = {
    accepted: outcome.accepted,
    rejected: outcome.rejected,
    reply: final,
    bytes,
    timings: { startedAt, envelopeMs: envelopeDone - startedAt, dataMs: done - envelopeDone, totalMs: done - startedAt },
  };
  if (info.messageId) result.messageId = info.messageId;
  return result;
}

/**
 * The write of a one-write BDAT message (`bytes`, null when it went out earlier) with the queued one-write
 * messages that may follow it before its replies return (RFC 3030 §4.2 + RFC 2920), and what to do once
 * written. Kept out of {@link sendTransaction} so that the closure does not put its variables in a context.
 */
function withAhead(
  s: SmtpSession,
  o: SendOptions,
  progress: BodyProgress,
  info: BodyInfo,
  bytes: Uint8Array | null,
  mayWriteAhead: boolean,
): { bytes: Uint8Array | null; written: (() => void) | undefined } {
  // From here the whole message may reach the server: count its end of data as written.
  if (bytes) bodyEnded(o, progress);
  let out = bytes;
  const ahead = mayWriteAhead ? s.takeAhead() : undefined;
  if (ahead && ahead.commands.length > 0) {
    endWrittenAhead(ahead.whole);
    const more = s.encodeGroup(ahead.commands);
    out = bytes ? Buffer.concat([bytes, more]) : more;
  }
  const size = info.size ?? 0;
  if (out) return { bytes: out, written: () => bodyProgress(o, progress, size) };
  bodyProgress(o, progress, size);
  return { bytes: out, written: undefined };
}

/** File a group's replies; a refused RSET (written ahead of a one-write message) ends the session. */
function recordReplies(s: SmtpSession, env: EnvelopeReplies, group: readonly EncodedCommand[], replies: readonly Reply[]): void {
  let rset = false;
  for (let i = 0; i < group.length; i++) {
    const cmd = group[i] as EncodedCommand;
    const reply = replies[i] as Reply;
    if (cmd.verb === 'RSET') {
      if (!isPositive(reply)) {
        const error = replyError(reply, 'RSET');
        s.fail(error);
        throw error;
      }
      rset = true;
      continue;
    }
    if (cmd.verb === 'MAIL') env.mail = { command: cmd, reply };
    else if (cmd.verb === 'RCPT') {
      if (isPositive(reply)) env.accepted++;
    } else if (cmd.verb === 'DATA') env.data = reply;
    else if (cmd.verb === 'BDAT') env.bdat = { command: cmd, reply };
  }
  if (env.commands.length === 0 && !rset) {
    // The usual transaction is one pipelined group: its arrays are the record, no copies.
    env.commands = group;
    env.replies = replies;
    return;
  }
  const commands = env.own ? (env.commands as EncodedCommand[]) : env.commands.slice();
  const answers = env.own ? (env.replies as Reply[]) : env.replies.slice();
  for (let i = 0; i < group.length; i++) {
    if ((group[i] as EncodedCommand).verb === 'RSET') continue;
    commands.push(group[i] as EncodedCommand);
    answers.push(replies[i] as Reply);
  }
  env.commands = commands;
  env.replies = answers;
  env.own = true;
}

/** A server reply no RFC allows here: the session ends (the stream can no longer be trusted). */
function protocolViolation(s: SmtpSession, message: string, reply: Reply, command: string): SmtpError {
  const error = new SmtpError(message, { kind: 'protocol', code: 'ERR_SMTP_PROTOCOL', reply, command });
  s.fail(error);
  return error;
}

function recipientsRejected(o: SendOptions, all: boolean, rejected: RecipientRejection[]): RecipientsRejectedError {
  return new RecipientsRejectedError(
    all
      ? `every recipient was rejected: ${rejected.map((r) => `${r.address} (${quoteReply(r.reply)})`).join(', ')}`
      : `${rejected.length} of ${o.to.length} recipients rejected; nothing sent (all-or-nothing): ${rejected.map((r) => r.address).join(', ')}`,
    rejected,
    rejected.every((r) => r.reply.code >= 400 && r.reply.code < 500),
  );
}

/**
 * RSET after a transaction that went wrong before its end. A failed one-write BDAT message RSETs only when
 * nothing was written behind it (whatever was starts with its own RSET): a reply read here must never be
 * one meant for a later send.
 */
async function resetAfterFailure(s: SmtpSession, o: SendOptions, inline: boolean): Promise<void> {
  if (!(inline && s.nextWrittenEarly)) await s.rset(o.signal);
}

/** Rewrite RCPT commands with a per-recipient ORCPT (RFC 3461 §4.2) when asked. */
function withOrcpt(groups: EncodedCommand[][], s: SmtpSession, o: SendOptions, smtputf8: boolean): EncodedCommand[][] {
  if (!o.dsn?.orcpt || !s.capabilities.dsn) return groups;
  let i = 0;
  return groups.map((g) =>
    g.map((cmd) => {
      if (cmd.verb !== 'RCPT') return cmd;
      const to = o.to[i++] as string;
      const orcpt = orcptFor(s.capabilities, o, to);
      return encodeCommand(
        { verb: 'RCPT', to, params: { ...(o.dsn?.notify ? { notify: o.dsn.notify } : {}), ...(orcpt ? { orcpt } : {}) } },
        { smtputf8 },
      );
    }),
  );
}

/**
 * Accepted and refused recipients from the RCPT replies, in envelope order (RCPT commands are planned in the
 * order of `to`; `replies[i]` answers `commands[i]`). A RCPT without a reply (not sent) is in neither list.
 */
export function recipientOutcomes(
  commands: readonly EncodedCommand[],
  replies: readonly (Reply | undefined)[],
  to: readonly string[],
): RecipientOutcomes {
  let positive = 0;
  for (let i = 0; i < commands.length; i++) {
    const reply = replies[i];
    if ((commands[i] as EncodedCommand).verb === 'RCPT' && reply && isPositive(reply)) positive++;
  }
  // The usual outcome, every recipient accepted: one exact-size copy of the list.
  if (positive === to.length) return { accepted: to.slice(), rejected: [] };
  const accepted: string[] = [];
  const rejected: RecipientRejection[] = [];
  let r = 0;
  for (let i = 0; i < commands.length; i++) {
    const cmd = commands[i] as EncodedCommand;
    if (cmd.verb !== 'RCPT') continue;
    const address = to[r++] as string;
    const reply = replies[i];
    if (!reply) continue;
    if (isPositive(reply)) accepted.push(address);
    else rejected.push({ address, reply, error: replyError(reply, cmd.logText, `recipient ${address}`) });
  }
  // Exact-size copies: results are often kept, and an array grown by push carries spare capacity.
  return { accepted: accepted.slice(), rejected: rejected.length === 0 ? [] : rejected.slice() };
}
