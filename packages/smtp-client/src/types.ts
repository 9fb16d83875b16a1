import type { BodySource, Capabilities, RcptParams, Reply } from '@smtpkit/wire';
import type { RecipientRejection } from './errors.js';
import type { Timeouts } from './timeouts.js';
import type { TranscriptEvent } from './transcript.js';

/**
 * How TLS is used on the connection.
 * - `implicit`: TLS from the first byte (port 465, RFC 8314 §3.3).
 * - `starttls`: plaintext, then STARTTLS (RFC 3207); fails before MAIL FROM when it is not offered or fails.
 * - `opportunistic`: STARTTLS when offered, plaintext otherwise (said so in the transcript).
 * - `none`: never TLS.
 */
export type TlsMode = 'implicit' | 'starttls' | 'opportunistic' | 'none';

/**
 * SASL mechanisms the client speaks (RFC 4954, RFC 4616, RFC 7628, RFC 2195; SCRAM RFC 5802 / RFC 7677 with
 * channel binding RFC 9266; EXTERNAL RFC 4422 appendix A). `SCRAM-SHA-256` and `SCRAM-SHA-1` move to their
 * `-PLUS` form by themselves when the server offers it over TLS.
 */
export type AuthMethod =
  | 'PLAIN'
  | 'LOGIN'
  | 'XOAUTH2'
  | 'OAUTHBEARER'
  | 'CRAM-MD5'
  | 'SCRAM-SHA-256'
  | 'SCRAM-SHA-256-PLUS'
  | 'SCRAM-SHA-1'
  | 'SCRAM-SHA-1-PLUS'
  | 'EXTERNAL';

/** A token or a provider of OAuth 2.0 access tokens; `refresh: true` asks for a fresh one. */
export type AccessTokenProvider = (ctx: { user: string; refresh: boolean }) => string | Promise<string>;

/** Credentials for SMTP AUTH (RFC 4954). */
export interface AuthOptions {
  /** The user; with EXTERNAL the authorization identity to ask for, '' for the one the certificate names. */
  user: string;
  pass?: string;
  /** Force a mechanism; default: the strongest one the server offers after TLS. */
  method?: AuthMethod;
  /** OAuth 2.0 bearer token (XOAUTH2 / OAUTHBEARER) or an async provider of one. */
  accessToken?: string | AccessTokenProvider;
}

/** The handshake step after which {@link connect} stops (QUIT, then resolve with the session in that state). */
export type StopAfter = 'connect' | 'greeting' | 'ehlo' | 'tls' | 'auth';

/**
 * The protocol spoken on the connection. `lmtp` (RFC 2033) greets with LHLO, never falls back to HELO (§4.1), and
 * after the end of the data reads one reply per accepted recipient (§4.2), reported per recipient in
 * {@link SendResult.rejected} as RCPT refusals are.
 */
export type MailProtocol = 'smtp' | 'lmtp';

/** Options of {@link connect}. */
export interface ConnectOptions {
  /** The server's name or address; required unless `path` is given. */
  host?: string;
  /** Default 25; 465 implies `tls: 'implicit'`, 587 `tls: 'starttls'`. Not with `path`. */
  port?: number;
  /**
   * A Unix domain socket to connect to instead of `host`/`port` (e.g. Dovecot's LMTP socket). The connection never
   * leaves the machine, so `tls` defaults to `none`; an explicit mode needs `servername` to check the certificate.
   */
  path?: string;
  /** `smtp` (default) or `lmtp` (RFC 2033): LHLO instead of EHLO, one final reply per recipient. */
  protocol?: MailProtocol;
  /** Default from the port: 465 implicit, 587 starttls, else opportunistic; `none` over a Unix socket (`path`). */
  tls?: TlsMode;
  /** TLS SNI and certificate name; default `host` (no SNI for an IP literal, RFC 6066 §3). */
  servername?: string;
  /** Extra trusted CA certificates (PEM). */
  ca?: string | Buffer | Array<string | Buffer>;
  /** TLS client certificate (PEM, chain allowed) with `key`, for relays that authenticate clients by certificate. */
  cert?: string | Buffer | Array<string | Buffer>;
  /** The private key of `cert` (PEM), encrypted or not. */
  key?: string | Buffer | Array<string | Buffer>;
  /** Decrypts `key` or `pfx`. */
  passphrase?: string;
  /** The client certificate and key as one PKCS#12 bundle, instead of `cert` + `key`. */
  pfx?: string | Buffer | Array<string | Buffer>;
  /**
   * Reach the server through a proxy: `socks5://[user:pass@]host[:port]` (the name resolved here),
   * `socks5h://…` and `socks4a://…` (resolved by the proxy), `socks4://…`, or `http://[user:pass@]host[:port]`
   * (HTTP CONNECT, RFC 9110 §9.3.6). The connect timeout and `signal` cover the proxy's handshake too.
   */
  proxy?: string | URL;
  /** Default true. `false` accepts any certificate: reported as `tls.verified = 'none'` and in the transcript. */
  rejectUnauthorized?: boolean;
  /** SHA-256 of the server certificate (DER), hex with or without ':'; a match is trusted even without a CA. */
  pin?: string | string[];
  /** EHLO/HELO/LHLO name; default `localhost`. */
  clientName?: string;
  /** Send HELO only, never EHLO (RFC 5321 §4.1.1.1, for servers without extensions). Not with `protocol: 'lmtp'`. */
  helo?: boolean;
  auth?: AuthOptions;
  /** Allow AUTH over a connection without TLS. Default false. */
  allowInsecureAuth?: boolean;
  /** BDAT (RFC 3030) when offered: `auto` (default) or `never`. */
  chunking?: 'auto' | 'never';
  /** PIPELINING (RFC 2920) when offered: `auto` (default) or `never`. */
  pipelining?: 'auto' | 'never';
  timeouts?: Partial<Timeouts>;
  signal?: AbortSignal;
  onTranscript?: (e: TranscriptEvent) => void;
  family?: 0 | 4 | 6;
  localAddress?: string;
  /** Stop the handshake after this step (QUIT, then resolve). */
  stopAfter?: StopAfter;
}

/** What TLS gave the session. */
export interface TlsInfo {
  protocol: string;
  cipher: string;
  authorized: boolean;
  authorizationError?: string;
  /** How the peer was trusted: by a CA chain, by a pinned fingerprint, or not at all. */
  verified: 'ca' | 'pin' | 'none';
  peer?: { subject: string; issuer: string; validFrom: string; validTo: string; fingerprint256: string };
}

/** Options of {@link Session.send}. */
export interface SendOptions {
  /** Reverse-path; '' is the null path `<>`. */
  from: string;
  to: readonly string[];
  /**
   * The message: text, octets, or a stream of octets. A stream that also offers its whole octets as `bytes`
   * (a `BuiltMessage` of @smtpkit/mime held in memory) is sent from `bytes`, like octets given directly.
   */
  data: BodySource;
  /** Message size in octets (SIZE=, RFC 1870); computed for string/Uint8Array bodies. */
  size?: number;
  /** Force SMTPUTF8 (RFC 6531); otherwise used when an address needs it. */
  smtputf8?: boolean;
  /** Body has 8-bit octets (BODY=8BITMIME, RFC 6152); detected for string/Uint8Array bodies. */
  eightBit?: boolean;
  /** Body is binary (BODY=BINARYMIME, RFC 3030); needs CHUNKING. */
  binary?: boolean;
  /**
   * DSN parameters (RFC 3461); left out, with a transcript note, when the server does not offer DSN. `orcpt: true`
   * sends each recipient as given as its original recipient (ORCPT): `rfc822;` for an ASCII address, `utf-8;` for
   * one with non-ASCII characters (RFC 6533 §3).
   */
  dsn?: { ret?: 'FULL' | 'HDRS'; envid?: string; notify?: RcptParams['notify']; orcpt?: boolean };
  /** REQUIRETLS (RFC 8689): needs TLS and the extension. */
  requireTls?: boolean;
  /** `allow` (default): send to the accepted recipients; `all-or-nothing`: RSET when any is rejected. */
  partial?: 'allow' | 'all-or-nothing';
  /**
   * Recipients the server refused as over its limit (452 or x.5.3 after an accepted one, RFC 5321 §4.5.3.1.10):
   * `continue` (default) sends them the same message in further transactions on this session; `report` ends
   * the send after one transaction and returns them in `rejected` with their 452 (retryable), for a caller that
   * records each transaction's outcome before the next (a durable queue).
   */
  overLimit?: 'continue' | 'report';
  signal?: AbortSignal;
  onProgress?: (bytesSent: number) => void;
  /**
   * Called once the end of the message data has been written: the final `.` after DATA, or the
   * `BDAT n LAST` chunk (RFC 3030 §2). From then on a failure without a reply leaves the message's
   * fate unknown (RFC 5321 §4.1.1.4, §6.1).
   */
  onEndOfData?: () => void;
}

/** What {@link Session.checkEnvelope} asks: an envelope, and where to stop. */
export interface CheckEnvelopeOptions extends Omit<SendOptions, 'data' | 'partial' | 'onProgress' | 'onEndOfData'> {
  /** `mail`: MAIL FROM only; `rcpt` (default): MAIL FROM and every RCPT TO. */
  stopAfter?: 'mail' | 'rcpt';
}

/** The server's answers to an envelope; nothing was sent, and the transaction was reset. */
export interface EnvelopeCheck {
  /** The reply to MAIL FROM. */
  mail: Reply;
  /** Recipients the server would accept (empty with `stopAfter: 'mail'`). */
  accepted: string[];
  /** Recipients it refused, with their replies. */
  rejected: RecipientRejection[];
}

export type { RecipientRejection };

/** The outcome of a message the server took responsibility for (final 2xx). */
export interface SendResult {
  accepted: string[];
  rejected: RecipientRejection[];
  reply: Reply;
  /** Octets of the message as given (before dot-stuffing). */
  bytes: number;
  timings: { startedAt: number; envelopeMs: number; dataMs: number; totalMs: number };
  /** From the body's Message-ID header, when found near the start of a string/Uint8Array body. */
  messageId?: string;
  /**
   * Only when the server's recipient limit split the send (452 / x.5.3, RFC 5321 §4.5.3.1.10): each
   * transaction in order, with the recipients it delivered to and its final reply. `reply` is then the first
   * transaction's; `accepted` and `rejected` cover every recipient once, in the order of `to`.
   */
  transactions?: TransactionResult[];
}

/** One transaction of a send that the server's recipient limit split (see {@link SendResult.transactions}). */
export interface TransactionResult {
  /** The recipients this transaction delivered to (its final reply was 2xx). */
  accepted: string[];
  /** Its final reply. */
  reply: Reply;
}

/** An open SMTP or LMTP session. */
export interface Session {
  /** The protocol spoken: `lmtp` sent LHLO and reads one final reply per accepted recipient. */
  readonly protocol: MailProtocol;
  readonly capabilities: Capabilities;
  readonly tls: TlsInfo | null;
  readonly secure: boolean;
  /** The 220 greeting (code 0 and no lines when stopped after `connect`). */
  readonly greeting: Reply;
  /** The AUTH mechanism that succeeded, or null. */
  readonly authenticated: string | null;
  /** False after a timeout, abort, 421, protocol error, failed RSET, or QUIT. */
  readonly usable: boolean;
  /** The peer as `address:port`. */
  readonly remote: string;
  send(options: SendOptions): Promise<SendResult>;
  /**
   * MAIL FROM and RCPT TO, then RSET, without sending a message: does the server take this envelope?
   * Throws like {@link Session.send} when MAIL FROM is refused; refused recipients are data.
   */
  checkEnvelope(options: CheckEnvelopeOptions): Promise<EnvelopeCheck>;
  reset(options?: { signal?: AbortSignal }): Promise<Reply>;
  noop(options?: { signal?: AbortSignal }): Promise<Reply>;
  /** QUIT and close; never throws; waits at most the command timeout, capped at 5 s. */
  quit(): Promise<void>;
  destroy(error?: Error): void;
}
