import type { EnvelopeCheck, Session, SendOptions } from '@smtpkit/client';
import { EXIT, type ExitCode } from './exit-codes.js';
import type { Output } from './output.js';

/**
 * `--quit-after mail|rcpt` (swaks style): the client's `checkEnvelope` sends MAIL FROM (and every
 * RCPT TO), then RSET; no message data is ever sent, and the session ends with QUIT. A refused MAIL
 * FROM throws like a send and is mapped by the caller.
 */
export async function stopAtEnvelope(
  session: Session,
  step: 'mail' | 'rcpt',
  send: SendOptions,
  out: Output,
): Promise<ExitCode> {
  const { data: _data, onProgress: _progress, partial: _partial, ...envelope } = send;
  const check = await session.checkEnvelope({ ...envelope, stopAfter: step });
  await session.quit();
  const exit = envelopeExitCode(step, check);
  const rejected = new Map(check.rejected.map((r) => [r.address, r.reply]));
  out.json({
    ok: exit === EXIT.OK,
    quitAfter: step,
    mail: { code: check.mail.code, text: check.mail.text },
    rcpt:
      step === 'rcpt'
        ? send.to.map((address) => {
            const reply = rejected.get(address);
            return { address, accepted: !reply, code: reply?.code ?? null, text: reply?.text ?? null };
          })
        : [],
    tls: session.tls,
  });
  const summary =
    step === 'mail'
      ? `${check.mail.code} ${check.mail.lines[0] ?? ''}`
      : `${check.accepted.length} accepted` +
        check.rejected.map((r) => `; ${r.address}: ${r.reply.code} ${r.reply.lines[0] ?? ''}`).join('');
  out.info(`stopped after ${step}: ${summary}`);
  return exit;
}

/** Exit code from the envelope's replies: 0, 67 some refused, 75 / 69 all refused (4xx / 5xx). */
export function envelopeExitCode(step: 'mail' | 'rcpt', check: EnvelopeCheck): ExitCode {
  if (step === 'mail' || check.rejected.length === 0) return EXIT.OK;
  if (check.accepted.length > 0) return EXIT.NOUSER;
  return check.rejected.every((r) => r.reply.code >= 400 && r.reply.code < 500) ? EXIT.TEMPFAIL : EXIT.UNAVAILABLE;
}
