/**
 * A scriptable, in-process SMTP server for testing SMTP clients against broken and hostile
 * servers: replies split at any byte, delays, stalls, resets, STARTTLS with response
 * injection, and a record of every byte the client sent. Zero dependencies.
 *
 * @packageDocumentation
 */
export { startFaultServer } from './testing/fault-server.js';
export type { FaultHandler, FaultServer, FaultServerOptions } from './testing/fault-server.js';
export { FaultConnection } from './testing/connection.js';
export { ConnectionClosedError, FaultScriptError } from './testing/errors.js';
export type { ConnectionRecord, ReadOptions, ReceivedChunk, UpgradeTlsOptions, WriteOptions } from './testing/types.js';
export { runSteps } from './testing/steps.js';
export type {
  AnswerRemainingStep,
  CloseStep,
  DelayStep,
  DripStep,
  ExpectCloseStep,
  ExpectDataStep,
  ExpectStep,
  FaultScript,
  FaultStep,
  ResetStep,
  SendStep,
  StallStep,
  UpgradeTlsStep,
} from './testing/steps.js';
export { ehloLines, reply, scenarios } from './testing/scenarios.js';
export { mailServer } from './testing/mail-server.js';
export type { MailServerOptions } from './testing/mail-server.js';
export type { AcceptMessageOptions, EhloOptions } from './testing/scenarios.js';
