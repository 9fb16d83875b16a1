/**
 * @smtpkit/client/workers: the same sessions on Cloudflare Workers, over `connect()` from
 * `cloudflare:sockets` instead of `node:net` / `node:tls` (which the main entry imports, with `node:dns`
 * for MX delivery, and which Workers do not have as sockets). Needs the `nodejs_compat` flag for
 * `node:buffer`, `node:crypto` and `node:url`, as every smtpkit package does.
 *
 * @example
 * ```ts
 * import { sendMail } from '@smtpkit/client/workers';
 * export default {
 *   async fetch(): Promise<Response> {
 *     const result = await sendMail({ host: 'smtp.example.com', port: 587, auth: { user, pass },
 *       from: 'a@example.com', to: ['b@example.com'], data: 'Subject: hi\r\n\r\nhello\r\n' });
 *     return Response.json(result.accepted);
 *   },
 * };
 * ```
 *
 * @packageDocumentation
 */
import { inputError } from './errors.js';
import { openSession, type OpenedTransport } from './handshake.js';
import type { ResolvedConnect } from './connect-options.js';
import { sendMailWith } from './send-mail.js';
import type { ConnectOptions, SendOptions, SendResult, Session } from './types.js';
import { openSocketsTransport } from './workers/sockets-transport.js';

export { SmtpError, isSmtpError } from '@smtpkit/wire';
export type { BodySource, Capabilities, EnhancedStatus, Reply, SmtpErrorKind } from '@smtpkit/wire';
export { DEFAULT_TIMEOUTS } from './timeouts.js';
export type { Timeouts } from './timeouts.js';
export { formatTranscriptEvent } from './transcript.js';
export type { TranscriptEvent } from './transcript.js';
export type {
  AccessTokenProvider,
  AuthMethod,
  AuthOptions,
  ConnectOptions,
  MailProtocol,
  RecipientRejection,
  SendOptions,
  SendResult,
  Session,
  StopAfter,
  TlsInfo,
  TlsMode,
} from './types.js';

/**
 * Options that need Node's TLS or socket API. On Workers the runtime checks the certificate against its own
 * trust store and picks the address: they are refused rather than silently ignored.
 */
const NODE_ONLY = ['ca', 'pin', 'servername', 'rejectUnauthorized', 'family', 'localAddress'] as const;

/**
 * Open an SMTP session from a Worker: implicit TLS (`secureTransport: 'on'`) or STARTTLS
 * (`socket.startTls()`), EHLO, AUTH, exactly as `connect` of the main entry.
 */
export function connect(options: ConnectOptions): Promise<Session> {
  if (options?.path !== undefined) {
    return Promise.reject(inputError('ERR_SMTP_INPUT', '`path` is not available on Workers: `cloudflare:sockets` has no Unix domain sockets'));
  }
  for (const name of NODE_ONLY) {
    if (options?.[name] !== undefined) {
      return Promise.reject(
        inputError('ERR_SMTP_INPUT', `\`${name}\` is not available on Workers: the runtime checks certificates against its own trust store`),
      );
    }
  }
  return openSession(options, openSockets);
}

/** Connect, send one message, QUIT (see `sendMail` of the main entry). */
export function sendMail(options: ConnectOptions & SendOptions): Promise<SendResult> {
  return sendMailWith(connect, options);
}

async function openSockets(r: ResolvedConnect, _options: ConnectOptions, signal: AbortSignal): Promise<OpenedTransport> {
  const transport = await openSocketsTransport({ host: r.host, port: r.port, mode: r.mode }, signal, r.transcript);
  return { transport, tls: transport.tlsInfo };
}
