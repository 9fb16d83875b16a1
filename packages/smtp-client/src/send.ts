import {
  encodeCommand,
  planTransaction,
  SmtpError,
  type EncodedCommand,
  type Reply,
} from '@smtpkit/wire';
import { quoteReply, replyError } from './errors.js';
import { analyseBody, orcptFor, prepareEnvelope, type BodyInfo, type PreparedEnvelope } from './envelope.js';
import { sendBdat, sendDataBody } from './data.js';
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
}

/** Check and plan a transaction; throws kind 'input'/'tls' before anything is sent. */
export function planSend(s: SmtpSession, o: SendOptions): PlannedSend {
  const info = analyseBody(o.data);
  const caps = {
    ...s.capabilities,
    pipelining: s.capabilities.pipelining && s.options.pipelining !== 'never',
    chunking: s.capabilities.chunking && s.options.chunking !== 'never',
  };
  const prepared = prepareEnvelope(caps, o, info, { secure: s.secure, chunking: s.options.chunking });
  const allOrNothing = o.partial === 'all-or-nothing';
  const plan = planTransaction(caps, prepared.envelope, { useBdat: prepared.useBdat, smtputf8: prepared.smtputf8 });
  // Under all-or-nothing DATA must wait for every RCPT reply: take it out of the pipelined group.
  const planned = allOrNothing
    ? plan.groups.map((g) => g.filter((c) => c.verb !== 'DATA')).filter((g) => g.length > 0)
    : plan.groups;
  const groups = withOrcpt(planned, s, o, prepared.smtputf8);
  return { info, prepared, groups, pipelined: caps.pipelining, allOrNothing, written: false };
}

/** Plan a queued send whose envelope can follow the previous end of data (PIPELINING only), or undefined. */
export function planEarly(s: SmtpSession, o: SendOptions): PlannedSend | undefined {
  if (!s.usable || o.signal?.aborted) return undefined;
  try {
    const p = planSend(s, o);
    return p.pipelined ? { ...p, written: true } : undefined;
  } catch {
    return undefined; // the send reports it itself when its turn comes
  }
}

/**
 * One mail transaction (RFC 5321 §3.3): MAIL, RCPT…, then DATA or BDAT. With PIPELINING the
 * envelope goes in one write and replies are matched in order (RFC 2920 §3.1); the body is sent
 * only after 354. Recipients refused are reported, not thrown, while at least one is accepted.
 */
export async function sendTransaction(s: SmtpSession, o: SendOptions, early?: PlannedSend): Promise<SendResult> {
  s.assertUsable();
  const startedAt = Date.now();
  const { info, prepared, groups, pipelined, allOrNothing } = early ?? planSend(s, o);
  for (const n of prepared.notes) s.transcript.note(n);

  const replies = new Map<EncodedCommand, Reply>();
  let mailOk = true;
  let accepted = 0;
  for (const [index, group] of groups.entries()) {
    const gate = group.length === 1 && group[0]?.verb === 'DATA';
    if (!mailOk || (gate && accepted === 0)) break;
    if (!(index === 0 && early?.written)) {
      await s.step(stepOf(group[0] as EncodedCommand), async (sig) => {
        await s.assertNoUnsolicited(sig);
        await s.writeCommands(group, sig);
      }, o.signal);
    }
    for (const cmd of group) {
      const reply = await s.step(stepOf(cmd), (sig) => s.readReply(sig, cmd.logText), o.signal);
      replies.set(cmd, reply);
      if (cmd.verb === 'MAIL' && reply.code !== 250 && reply.code !== 251) mailOk = false;
      if (cmd.verb === 'RCPT' && (reply.code === 250 || reply.code === 251)) accepted++;
    }
  }
  const commands = groups.flat();
  const mailCmd = commands.find((c) => c.verb === 'MAIL') as EncodedCommand;
  const mailReply = replies.get(mailCmd) as Reply;
  let dataCmd = commands.find((c) => c.verb === 'DATA');
  let dataReply = dataCmd ? replies.get(dataCmd) : undefined;
  if (dataReply?.code === 354 && (!mailOk || accepted === 0)) {
    // RFC 2920 §3.1 forbids 354 without a valid recipient; the only safe way out is to hang up.
    const error = new SmtpError('server answered DATA with 354 although no recipient was accepted', {
      kind: 'protocol',
      code: 'ERR_SMTP_PROTOCOL',
      reply: dataReply,
      command: 'DATA',
    });
    s.fail(error);
    throw error;
  }
  if (!mailOk) throw replyError(mailReply, mailCmd.logText, 'MAIL FROM');

  const acceptedList: string[] = [];
  const rejected: RecipientRejection[] = [];
  const rcpts = commands.filter((c) => c.verb === 'RCPT');
  rcpts.forEach((cmd, i) => {
    const address = prepared.envelope.to[i] as string;
    const reply = replies.get(cmd);
    if (!reply) return;
    if (reply.code === 250 || reply.code === 251) acceptedList.push(address);
    else rejected.push({ address, reply, error: replyError(reply, cmd.logText, `recipient ${address}`) });
  });
  if (acceptedList.length === 0 || (allOrNothing && rejected.length > 0)) {
    await s.rset(o.signal);
    const all = acceptedList.length === 0;
    throw new RecipientsRejectedError(
      all
        ? `every recipient was rejected: ${rejected.map((r) => `${r.address} (${quoteReply(r.reply)})`).join(', ')}`
        : `${rejected.length} of ${o.to.length} recipients rejected; nothing sent (all-or-nothing): ${rejected.map((r) => r.address).join(', ')}`,
      rejected,
      rejected.every((r) => r.reply.code >= 400 && r.reply.code < 500),
    );
  }

  const envelopeDone = Date.now();
  let final: Reply;
  let bytes: number;
  if (prepared.useBdat) {
    ({ final, bytes } = await sendBdat(s, o, { binary: prepared.binary, pipelined }));
  } else {
    if (!dataReply) {
      dataCmd = encodeCommand({ verb: 'DATA' });
      const cmd = dataCmd;
      dataReply = await s.step('dataInit', async (sig) => {
        await s.assertNoUnsolicited(sig);
        await s.writeCommands([cmd], sig);
        return s.readReply(sig, 'DATA');
      }, o.signal);
    }
    if (dataReply.code !== 354) {
      await s.rset(o.signal);
      throw replyError(dataReply, 'DATA');
    }
    ({ final, bytes } = await sendDataBody(s, o, { pipelined }));
  }
  if (final.code !== 250 && final.code !== 251) {
    // The final reply ends the transaction either way (RFC 5321 §4.1.1.4): no RSET needed.
    throw replyError(final, prepared.useBdat ? 'BDAT' : 'DATA', 'message');
  }
  const done = Date.now();
  return {
    accepted: acceptedList,
    rejected,
    reply: final,
    bytes,
    timings: { startedAt, envelopeMs: envelopeDone - startedAt, dataMs: done - envelopeDone, totalMs: done - startedAt },
    ...(info.messageId ? { messageId: info.messageId } : {}),
  };
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
