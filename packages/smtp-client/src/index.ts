/**
 * @smtpkit/client: SMTP sessions over node:net / node:tls with STARTTLS and implicit TLS, AUTH,
 * PIPELINING, CHUNKING, RFC 5321 timeouts, typed errors and a redacted transcript.
 */
export { SmtpError, isSmtpError } from '@smtpkit/wire';
export type { BodySource, Capabilities, EnhancedStatus, Reply, SmtpErrorKind } from '@smtpkit/wire';
export { connect, sendMail } from './connect.js';
export { RecipientsRejectedError } from './send.js';
export { DEFAULT_TIMEOUTS } from './timeouts.js';
export type { Timeouts } from './timeouts.js';
export { formatTranscriptEvent } from './transcript.js';
export type { TranscriptEvent } from './transcript.js';
export type {
  AccessTokenProvider,
  AuthMethod,
  AuthOptions,
  CheckEnvelopeOptions,
  ConnectOptions,
  EnvelopeCheck,
  MailProtocol,
  RecipientRejection,
  SendOptions,
  SendResult,
  Session,
  TransactionResult,
  StopAfter,
  TlsInfo,
  TlsMode,
} from './types.js';
export { createPool } from './pool.js';
export type { ConnectFn, Pool, PoolOptions } from './pool.js';
export { deliver } from './deliver.js';
export type { DeliverOptions, DeliverResult, DeliveryAttempt, DeliveryRejection, DomainDelivery } from './deliver.js';
export type { MailHost, MxRecord, MxResolver } from './mx.js';
