import { ConnectionClosedError } from './errors.js';
import type { FaultConnection } from './connection.js';
import type { FaultHandler } from './fault-server.js';
import { ehloLines, reply, type EhloOptions } from './scenarios.js';

/** Options of {@link mailServer}. */
export interface MailServerOptions {
  /** What EHLO advertises (default: nothing but ENHANCEDSTATUSCODES). */
  ehlo?: EhloOptions;
  /**
   * RCPT commands taken per transaction; the ones beyond get `452 4.5.3 Error: too many recipients`, as
   * Postfix answers past `smtpd_recipient_limit` (RFC 5321 §4.5.3.1.10). Default: no limit.
   */
  recipientLimit?: number;
  /**
   * The reply line to RCPT (CRLF added), or undefined for the default: `250 2.1.5 Ok`, or the 452 above
   * the limit. `n` counts the recipients of the transaction, from 0; `transaction` the transactions, from 0.
   */
  rcpt?: (address: string, n: number, transaction: number) => string | undefined;
  /** The final reply line after the data of transaction `transaction` (default `250 2.0.0 Ok: queued as Tn`). */
  final?: (transaction: number) => string;
  /** After this many transactions the server says `421` and closes (a server that limits messages per connection). */
  closeAfter?: number;
  /** Commands read at most (default 10 000), so the loop is bounded. */
  maxCommands?: number;
}

/**
 * A well-behaved SMTP server as a {@link FaultHandler}: the greeting, EHLO with the extensions given,
 * then MAIL, RCPT, DATA (payloads recorded in `connection.messages`), RSET, NOOP and QUIT, one reply per
 * command in order, so pipelined groups work. Recipient limits and per-recipient replies are scripted by
 * options.
 *
 * @example
 * const server = await startFaultServer(mailServer({ ehlo: { pipelining: true }, recipientLimit: 100 }));
 */
export function mailServer(options: MailServerOptions = {}): FaultHandler {
  return async (conn: FaultConnection) => {
    await conn.write('220 fault.test ESMTP\r\n');
    let transaction = 0;
    let recipients = -1; // -1: no MAIL yet
    let accepted = 0;
    const max = options.maxCommands ?? 10_000;
    for (let i = 0; i < max; i++) {
      let line: string;
      try {
        line = await conn.readLine();
      } catch (error) {
        if (error instanceof ConnectionClosedError) return;
        throw error;
      }
      const verb = line.split(/[ :]/, 1)[0]!.toUpperCase();
      if (verb === 'EHLO') await conn.write(reply(250, ehloLines(options.ehlo)));
      else if (verb === 'HELO' || verb === 'NOOP') await conn.write('250 2.0.0 Ok\r\n');
      else if (verb === 'RSET') {
        recipients = -1;
        await conn.write('250 2.0.0 Ok\r\n');
      } else if (verb === 'MAIL') {
        recipients = 0;
        accepted = 0;
        await conn.write('250 2.1.0 Ok\r\n');
      } else if (verb === 'RCPT') {
        const address = /<(.*)>/.exec(line)?.[1] ?? '';
        const n = recipients++;
        const over = options.recipientLimit !== undefined && n >= options.recipientLimit;
        const answer = options.rcpt?.(address, n, transaction) ?? (over ? '452 4.5.3 Error: too many recipients' : '250 2.1.5 Ok');
        if (answer.startsWith('2')) accepted++;
        await conn.write(`${answer}\r\n`);
      } else if (verb === 'DATA') {
        if (recipients < 0 || accepted === 0) {
          await conn.write('554 5.5.1 Error: no valid recipients\r\n');
          continue;
        }
        await conn.write('354 End data with <CR><LF>.<CR><LF>\r\n');
        await conn.readData();
        await conn.write(`${options.final?.(transaction) ?? `250 2.0.0 Ok: queued as T${transaction}`}\r\n`);
        transaction++;
        recipients = -1;
        if (options.closeAfter !== undefined && transaction >= options.closeAfter) {
          await conn.write('421 4.3.2 Service shutting down, closing transmission channel\r\n');
          await conn.close();
          return;
        }
      } else if (verb === 'QUIT') {
        await conn.write('221 2.0.0 Bye\r\n');
        await conn.close();
        return;
      } else await conn.write('502 5.5.2 Error: command not recognized\r\n');
    }
  };
}
