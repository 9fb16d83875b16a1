import { isPositiveCompletion, type EncodedCommand, type Reply } from '@smtpkit/wire';
import { replyError } from './errors.js';
import { planSend, recipientOutcomes } from './send.js';
import type { SmtpSession } from './session.js';
import type { CheckEnvelopeOptions, EnvelopeCheck } from './types.js';

/**
 * MAIL FROM and (unless `stopAfter: 'mail'`) every RCPT TO, then RSET: what the server would say to an
 * envelope, with no message data ever sent (swaks' `--quit-after rcpt`). Uses the same checks and
 * pipelining plan as a send; the DATA / BDAT step is left out, so no transaction is left open
 * (RFC 5321 §4.1.1.5).
 */
export async function checkEnvelope(s: SmtpSession, o: CheckEnvelopeOptions): Promise<EnvelopeCheck> {
  s.assertUsable();
  const stopAfter = o.stopAfter ?? 'rcpt';
  const plan = planSend(s, { ...o, data: '', partial: 'allow' });
  const keep = (c: EncodedCommand) => c.verb === 'MAIL' || (stopAfter === 'rcpt' && c.verb === 'RCPT');
  const groups = plan.groups.map((g) => g.filter(keep)).filter((g) => g.length > 0);
  const commands: EncodedCommand[] = [];
  const replies: Reply[] = [];
  let mail: Reply | undefined;
  let mailCmd: EncodedCommand | undefined;
  for (const group of groups) {
    if (mail && !isPositiveCompletion(mail)) break;
    const first = group[0] as EncodedCommand;
    await s.step(first.verb === 'MAIL' ? 'mail' : 'rcpt', async (sig) => {
      await s.assertNoUnsolicited(sig);
      await s.writeCommands(group, sig);
    }, o.signal);
    for (const cmd of group) {
      const reply = await s.step(cmd.verb === 'MAIL' ? 'mail' : 'rcpt', (sig) => s.readReply(sig, cmd.logText), o.signal);
      commands.push(cmd);
      replies.push(reply);
      if (cmd.verb === 'MAIL') {
        mail = reply;
        mailCmd = cmd;
      }
    }
  }
  // Every plan starts with MAIL, so its reply is here.
  if (!isPositiveCompletion(mail!)) throw replyError(mail!, mailCmd!.logText, 'MAIL FROM');
  const { accepted, rejected } = recipientOutcomes(commands, replies, plan.prepared.envelope.to);
  await s.rset(o.signal);
  return { mail: mail!, accepted, rejected };
}
