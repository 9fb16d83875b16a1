import { isTooManyRecipients, type ClientTransaction, type EncodedCommand, type Reply, type TransactionAction, type TransactionOutcome } from '@smtpkit/wire';
import { writeBdatBody, writeDataBody } from './body.js';
import type { Conversation } from './conversation.js';
import type { SendRun } from './plan.js';
import { bodyEnded, bodyProgress } from './progress.js';
import type { Step } from './timeouts.js';
import type { WriteAhead } from './write-ahead.js';

const READ: TransactionAction = Object.freeze({ type: 'read' });

type Awaited = NonNullable<ClientTransaction['awaiting']>;

/** The deadline of a reply (RFC 5321 §4.5.3.2), by what it answers. */
const REPLY_STEP: Readonly<Record<Awaited, Step>> = Object.freeze({
  RSET: 'command',
  MAIL: 'mail',
  RCPT: 'rcpt',
  DATA: 'dataInit',
  BDAT: 'dataBlock',
  END: 'dataDone',
});

/** What a reply answers, for the error when it is a 421. */
const REPLY_COMMAND: Readonly<Record<Awaited, string>> = Object.freeze({
  RSET: 'RSET',
  MAIL: 'MAIL FROM',
  RCPT: 'RCPT TO',
  DATA: 'DATA',
  BDAT: 'BDAT',
  END: 'end of data',
});

/** A send's transaction ({@link SendRun}), or one that sends no message (`checkEnvelope`: its tx and no more). */
export type TransactionRun = Pick<SendRun, 'tx' | 'overLimit'> & Partial<SendRun>;

/** The deadline of a write, by the group's first command. */
function writeStep(commands: readonly EncodedCommand[]): Step {
  const verb = (commands[0] as EncodedCommand).verb;
  return verb === 'MAIL' ? 'mail' : verb === 'RCPT' ? 'rcpt' : verb === 'DATA' ? 'dataInit' : verb === 'BDAT' ? 'dataBlock' : 'command';
}

/**
 * One transaction, driven through the conversation in one loop: what the transaction asks for is done (write,
 * read, the body, the reset) until it is over. A violation ends the session. A send whose first group went out
 * ahead of its turn only reads; a one-write message takes the queued one-write messages along (write-ahead.ts).
 */
export async function runTransaction(conv: Conversation, run: TransactionRun, ahead?: WriteAhead): Promise<TransactionOutcome> {
  const tx = run.tx;
  let action: TransactionAction = run.written ? READ : tx.start();
  if (run.oneWrite && ahead) action = await writeOneWrite(conv, run as SendRun, action, ahead);
  for (;;) {
    switch (action.type) {
      case 'read':
        break;
      case 'write':
      case 'reset': {
        const pending = conv.send(action.commands, writeStep(action.commands));
        if (pending) await pending;
        break;
      }
      case 'body': {
        const send = run as SendRun;
        send.envelopeDone = Date.now();
        if (action.via === 'DATA') {
          send.bytes = await writeDataBody(conv, send, ahead);
          break;
        }
        const bdat = await writeBdatBody(conv, send);
        send.bytes = bdat.bytes;
        action = bdat.action;
        continue;
      }
      case 'violation':
        throw conv.fail(action.error);
      case 'done':
        return action.outcome;
    }
    const awaiting = tx.awaiting as Awaited;
    const read = conv.read(REPLY_STEP[awaiting], REPLY_COMMAND[awaiting]);
    const reply: Reply = read instanceof Promise ? await read : read;
    // RFC 5321 §4.5.3.1.10: recipients over the server's limit go in a further transaction; nothing goes ahead of it.
    if (awaiting === 'RCPT' && isTooManyRecipients(reply)) run.overLimit = true;
    action = tx.receive(reply);
  }
}

/**
 * A message whole in one write (its `start` action, or nothing when it went out ahead of its turn), with the
 * queued one-write messages that may follow it before its replies return (RFC 3030 §4.2 + RFC 2920).
 */
async function writeOneWrite(conv: Conversation, run: SendRun, start: TransactionAction, ahead: WriteAhead): Promise<TransactionAction> {
  const own = start.type === 'write' ? start.commands : [];
  // From here the whole message may reach the server: its end of data counts as written.
  if (own.length > 0) bodyEnded(run.o, run.progress);
  const behind = ahead.oneWrites(run);
  const commands = behind ? (own.length > 0 ? own.concat(behind) : behind) : own;
  if (commands.length > 0) {
    const pending = conv.send(commands, writeStep(commands));
    if (pending) await pending;
  }
  run.bytes = run.info.size ?? 0;
  bodyProgress(run.o, run.progress, run.bytes);
  return READ;
}
