import type { EsmtpParams } from './command-parser.js';
import type { BodyScanner } from './data-decoder.js';
import type { Finding } from './findings.js';
import type { ServerSessionOptions, SessionHost } from './session-types.js';

/** A session's open mail transaction (RFC 5321 §3.3), from MAIL to the end of its data. */
export interface Transaction {
  from: string;
  mailParams: EsmtpParams;
  to: string[];
  rcptParams: EsmtpParams[];
  /** Findings made while the transaction is open, one per code. */
  findings: Finding[];
  extensions: Set<string>;
  /** BDAT chunk sizes, in order. */
  chunks: number[];
  /** Message octets passed on so far. */
  size: number;
  /** Went over the SIZE offered: the rest of the data is read and dropped (RFC 1870 §6.3). */
  oversize: boolean;
  /** A BDAT was refused: the transaction takes no more data (RFC 3030 §2). */
  bdatFailed: boolean;
  scanner: BodyScanner | undefined;
}

/** A new transaction for `MAIL FROM:<from>`; it starts with the keywords the session used so far. */
export function newTransaction(from: string, mailParams: EsmtpParams, used: ReadonlySet<string>): Transaction {
  return {
    from, mailParams, to: [], rcptParams: [], findings: [], extensions: new Set(used),
    chunks: [], size: 0, oversize: false, bdatFailed: false, scanner: undefined,
  };
}

/** What the transaction's commands (MAIL, RCPT, DATA, BDAT) need from their session. */
export interface TransactionContext extends SessionHost {
  readonly options: ServerSessionOptions;
  /** The SIZE offered and enforced (RFC 1870). */
  readonly maxSize: number;
  readonly maxRecipients: number;
  /** EHLO keywords the client used in the session so far. */
  readonly used: ReadonlySet<string>;
  /** Makes `tx` the open transaction: the findings that follow land in it. */
  open(tx: Transaction): void;
  /** Ends the open transaction as RSET does: octets already passed on are discarded. */
  abort(): void;
  /** Ends the open transaction: its message was handed over, or refused. */
  end(): void;
}
