import type { AuthCredentials, ServerAuthMechanism } from './auth-exchange.js';
import type { EsmtpParams } from './command-parser.js';
import type { BodyTraits } from './data-decoder.js';
import type { Finding, FindingCode } from './findings.js';

/** Default SIZE offered and enforced (RFC 1870): 25 MiB. */
export const DEFAULT_MAX_MESSAGE_SIZE = 25 * 1024 * 1024;
/** Default recipients per transaction; RFC 5321 §4.5.3.1.8 asks servers to take at least 100. */
export const DEFAULT_MAX_RECIPIENTS = 100;
/** Default count of failed commands after which the session ends with 421. */
export const DEFAULT_MAX_ERRORS = 20;

/** AUTH offered by a {@link ServerSession}. */
export interface ServerAuthOptions {
  mechanisms: ServerAuthMechanism[];
  /** MAIL is refused with 530 until the client authenticated (RFC 4954 §6). Default false. */
  required?: boolean;
  /** Checks credentials, synchronously. */
  verify(credentials: AuthCredentials): boolean;
}

/** Options of {@link ServerSession}. Every extension but STARTTLS and AUTH is offered unless turned off. */
export interface ServerSessionOptions {
  /** The server's name, in the greeting and the EHLO reply. */
  hostname: string;
  /** Text after the name in the 220 greeting (default `ESMTP`). */
  greeting?: string;
  /** SIZE offered and enforced while the data streams (default 25 MiB). */
  maxMessageSize?: number;
  maxRecipients?: number;
  maxErrors?: number;
  pipelining?: boolean;
  chunking?: boolean;
  smtputf8?: boolean;
  eightBitMime?: boolean;
  dsn?: boolean;
  /** Offer STARTTLS (RFC 3207); the caller upgrades the socket on the `starttls` event. */
  starttls?: boolean;
  /** The connection is already TLS (implicit TLS, RFC 8314). */
  secure?: boolean;
  auth?: ServerAuthOptions;
  /** Lenient: accept a command line ended by a bare LF (the finding is still recorded). Default false: 500. */
  allowBareLf?: boolean;
  /** Makes the id given in the reply to the end of a message. */
  queueId(): string;
  /** The CRAM-MD5 challenge (RFC 2195 §2: `<unique.timestamp@host>`). */
  cramChallenge?(): string;
}

/** One accepted message's envelope and what the client used for it. */
export interface ReceivedTransaction {
  id: string;
  /** Reverse path, `''` for the null path `<>`. */
  from: string;
  to: string[];
  mailParams: EsmtpParams;
  rcptParams: EsmtpParams[];
  /** Message octets, after un-stuffing. */
  size: number;
  via: 'DATA' | 'BDAT';
  /** BDAT chunk sizes, in order (empty for DATA). */
  chunks: number[];
  /** EHLO keywords the client used in this session up to and in this transaction: `PIPELINING`, `CHUNKING`, `AUTH PLAIN` … */
  extensions: string[];
  /** Protocol findings of this transaction and of its data. */
  findings: Finding[];
  /** What the data scan counted. */
  traits: BodyTraits;
}

/** What {@link ServerSession.push} reports, in order. The caller writes every `reply` event's bytes. */
export type ServerEvent =
  | { type: 'command'; line: string; pipelined: boolean }
  | { type: 'reply'; bytes: Uint8Array; code: number }
  | { type: 'finding'; finding: Finding }
  | { type: 'data'; bytes: Uint8Array }
  | { type: 'message'; transaction: ReceivedTransaction }
  | { type: 'discard' }
  | { type: 'starttls' }
  | { type: 'auth'; mechanism: ServerAuthMechanism; user: string; ok: boolean }
  | { type: 'close' };

/** How the parts of a {@link ServerSession} report to it, in the order things happen. */
export interface SessionHost {
  /** Records a finding: in the open transaction, and as an event the first time in the session. */
  find(code: FindingCode, detail?: string): void;
  reply(code: number, enhanced: string | undefined, text: string): void;
  /** A refusal; the session ends with 421 after too many 5yz (`maxErrors`). */
  fail(code: number, enhanced: string, text: string): void;
  event(e: ServerEvent): void;
}
