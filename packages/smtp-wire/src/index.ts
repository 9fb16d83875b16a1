/**
 * @smtpkit/wire: the SMTP protocol without I/O. Bytes in, replies out; commands in, bytes out.
 * @packageDocumentation
 */
export { SmtpError, isSmtpError } from './errors.js';
export type { SmtpErrorInit, SmtpErrorKind } from './errors.js';

export {
  encodeReply,
  formatEnhanced,
  isPermanent,
  isPositiveCompletion,
  isPositiveIntermediate,
  isTooManyRecipients,
  isTransient,
  parseEnhanced,
} from './reply.js';
export type { EnhancedStatus, Reply } from './reply.js';

export {
  DEFAULT_MAX_LINE_LENGTH,
  DEFAULT_MAX_REPLY_LINES,
  DEFAULT_MAX_REPLY_SIZE,
  ReplyParser,
  parseReply,
} from './reply-parser.js';
export type { ReplyParserOptions } from './reply-parser.js';

export { heloCapabilities, parseEhlo } from './capabilities.js';
export type { Capabilities } from './capabilities.js';

export {
  MAX_DOMAIN,
  MAX_LOCAL_PART,
  MAX_PATH,
  formatPath,
  isValidEhloDomain,
  needsSmtputf8,
  parseMailbox,
} from './address.js';
export type { EncodeOptions, Mailbox } from './address.js';

export {
  MAX_AUTH_RESPONSE_LINE,
  MAX_COMMAND_LINE,
  MAX_ENVID,
  decodeXtext,
  encodeCommand,
  encodeXtext,
} from './command-encoder.js';
export type { Command, EncodedCommand, MailParams, RcptParams } from './command-encoder.js';

export { toChunks } from './body-source.js';
export type { BodySource } from './body-source.js';

export { CrlfCanonicalizer, DataEncoder, MAX_DATA_LINE, encodeData } from './data-encoder.js';
export type { DataEncoderOptions } from './data-encoder.js';

export { DEFAULT_BDAT_CHUNK_SIZE, encodeBdatChunk, frameBdat } from './bdat.js';
export type { BdatChunk, FrameBdatOptions } from './bdat.js';

export { planTransaction } from './pipelining.js';
export type { Envelope, PlanOptions, TransactionPlan } from './pipelining.js';

export { DOWNGRADE_SAMPLE, SevenBitDowngrade } from './seven-bit.js';
export { ClientTransaction } from './client-transaction.js';
export type {
  RecipientOutcome,
  RecipientStatus,
  TransactionAction,
  TransactionEnd,
  TransactionOptions,
  TransactionOutcome,
} from './transaction-outcome.js';

// The server side: command parser, reply encoder, DATA decoder, session state machine.
export { AuthExchange } from './server/auth-exchange.js';
export type { AuthCredentials, AuthStep, ServerAuthMechanism } from './server/auth-exchange.js';
export { parseCommand } from './server/command-parser.js';
export type { EsmtpParams, ParsedCommand, ServerCommand } from './server/command-parser.js';
export { BodyScanner, DataDecoder } from './server/data-decoder.js';
export type { BodyTraits, DataStep } from './server/data-decoder.js';
export { SESSION_FINDINGS, sessionFinding } from './server/findings.js';
export type { Finding, FindingCode } from './server/findings.js';
export { MAX_REPLY_LINE, encodeServerReply } from './server/reply-encoder.js';
export type { ServerReply } from './server/reply-encoder.js';
export { ServerSession } from './server/session.js';
export { DEFAULT_MAX_ERRORS, DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_MAX_RECIPIENTS } from './server/session-types.js';
export type { ReceivedTransaction, ServerAuthOptions, ServerEvent, ServerSessionOptions } from './server/session-types.js';
