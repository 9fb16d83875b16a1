import type { EncodedCommand } from './command-encoder.js';
import type { SmtpError } from './errors.js';
import type { Reply } from './reply.js';

/**
 * What became of one recipient:
 * - `accepted`: RCPT TO was answered 2yz (RFC 5321 §4.2.1: 250, 251 and 252 alike); with LMTP, its own reply
 *   after the data was 2yz as well (RFC 2033 §4.2);
 * - `refused`: a negative reply to RCPT TO, or with LMTP to this recipient's share of the end of data;
 * - `deferred`: over the server's recipient limit (452, or 4.5.3, after at least one acceptance): not refused,
 *   to be sent in a further transaction (RFC 5321 §4.5.3.1.10);
 * - `unsent`: never asked (MAIL FROM was refused, or `stopAfter: 'mail'`).
 */
export type RecipientStatus = 'accepted' | 'refused' | 'deferred' | 'unsent';

/** One recipient of a transaction, in envelope order. */
export interface RecipientOutcome {
  address: string;
  status: RecipientStatus;
  /** The reply that decided the status; undefined when the recipient was never asked. */
  reply?: Reply;
  /** The command `reply` answers, as logged (`RCPT TO:<b@example.net>`, or the end of data with LMTP). */
  command: string;
}

/**
 * How a transaction ended:
 * - `sent`: the server took responsibility for the message (final 2yz; with LMTP, for at least one recipient);
 * - `checked`: `stopAfter` asked the envelope only, and the transaction was reset;
 * - `mail-refused`, `recipients-refused` (none accepted, or one not accepted under all-or-nothing),
 *   `data-refused` (DATA not answered 354), `message-refused` (the final reply or a BDAT chunk refused);
 * - `closing`: the server said 421 and is closing the channel (RFC 5321 §3.8);
 * - `reset-refused`: RSET was refused; the session cannot go on.
 */
export type TransactionEnd =
  | 'sent'
  | 'checked'
  | 'mail-refused'
  | 'recipients-refused'
  | 'data-refused'
  | 'message-refused'
  | 'closing'
  | 'reset-refused';

/** The outcome of a transaction: data, not an exception (the client turns it into a result or an error). */
export interface TransactionOutcome {
  end: TransactionEnd;
  /** The final reply when sent; else the reply that ended the transaction (undefined for `checked`). */
  reply?: Reply;
  /** The command `reply` answers, as logged. */
  command?: string;
  /** The reply to MAIL FROM, when it came. */
  mail?: Reply;
  recipients: RecipientOutcome[];
  /** False after a 421 or a refused RSET: the session must end without QUIT. */
  sessionUsable: boolean;
}

/**
 * The next thing the caller does for a transaction:
 * - `write`: write `commands` at once (each command's `bytes`, then its `data` if any), then feed replies;
 * - `reset`: the same, for the RSET that ends a transaction that went wrong;
 * - `read`: feed the next reply to {@link ClientTransaction.receive};
 * - `body`: send the message data: after 354 the dot-stuffed body and its terminator (DATA), or BDAT chunks
 *   through {@link ClientTransaction.bdatChunk}; then feed replies;
 * - `violation`: the server broke the protocol; end the session (the stream can no longer be trusted);
 * - `done`: the transaction is over.
 */
export type TransactionAction =
  | { type: 'write'; commands: readonly EncodedCommand[] }
  | { type: 'reset'; commands: readonly EncodedCommand[] }
  | { type: 'read' }
  | { type: 'body'; via: 'DATA' | 'BDAT' }
  | { type: 'violation'; error: SmtpError }
  | { type: 'done'; outcome: TransactionOutcome };

/** Options of a {@link ClientTransaction}. */
export interface TransactionOptions {
  /** How the message data goes: `DATA` (RFC 5321 §4.1.1.4, the default) or `BDAT` (RFC 3030, needs CHUNKING). */
  body?: 'DATA' | 'BDAT';
  /** The transaction uses SMTPUTF8 (RFC 6531). */
  smtputf8?: boolean;
  /** Ask MAIL FROM (`mail`) or MAIL FROM and every RCPT TO (`rcpt`), then RSET; no message data is ever sent. */
  stopAfter?: 'mail' | 'rcpt';
  /** Send nothing unless every recipient is accepted: the data waits for every RCPT reply. */
  allOrNothing?: boolean;
  /** Start with RSET in the same group: for a transaction written behind one whose outcome is not known yet. */
  resetFirst?: boolean;
  /**
   * BDAT: the whole message data (line ends canonical unless BINARYMIME), sent as `BDAT n LAST` with the
   * envelope's group when PIPELINING allows (RFC 3030 §4.2), or on its own after the RCPT replies.
   */
  wholeBody?: Uint8Array;
  /** BDAT: the first chunk of a larger body, as `BDAT n` in the envelope's group (RFC 3030 §4.2). */
  firstChunk?: Uint8Array;
  /** LMTP (RFC 2033 §4.2): after the end of data, one reply per accepted recipient, in RCPT order. */
  lmtp?: boolean;
}
