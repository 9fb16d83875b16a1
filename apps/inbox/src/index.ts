/**
 * @smtpkit/inbox: a local capture inbox that shows what a client really said.
 * @packageDocumentation
 */
export { startInbox, isLoopback } from './inbox.js';
export type { Inbox, InboxOptions } from './inbox.js';
export type { InboxAuth } from './smtp-listener.js';
export { readUsersFile, selfSignedCertificate } from './tls-files.js';
export { MESSAGE_FINDINGS } from './analysis.js';
export type { MessageFindingCode } from './analysis.js';
export type { MessageStore, SessionRecord, StoredMessage, TranscriptLine, WaitFilter } from './store.js';
export { evidenceScreenshot } from './screenshot.js';
export type { ScreenshotOptions } from './screenshot.js';
