import type { ConnectOptions, Session, TlsMode } from '@smtpkit/client';
import { exitCodeFor, type ExitCode } from './exit-codes.js';
import { hintFor, type HintContext } from './hints.js';
import { oneLine } from './output.js';
import type { ConnectionConfig } from './send-options.js';

/** What error reporting needs to know about the connection. */
export interface ConnectionContext extends HintContext {
  authHint?: string;
  /** `--socket`: the Unix socket, named instead of host:port. */
  socket?: string;
}

/** The server as messages name it: `host:port`, or `unix:PATH` for `--socket`. */
export function serverLabel(ctx: { host: string; port: number; socket?: string }): string {
  return ctx.socket !== undefined ? `unix:${ctx.socket}` : `${ctx.host}:${ctx.port}`;
}

/** The client's TLS mode for the CLI's `--tls`/`--require-tls`. */
export function clientTlsMode(cfg: Pick<ConnectionConfig, 'tls' | 'port' | 'requireTls' | 'socket'>): TlsMode | undefined {
  // A Unix socket never leaves the machine: TLS only when asked for (--tls, or --require-tls for STARTTLS).
  if (cfg.socket !== undefined && cfg.tls === 'auto') return cfg.requireTls ? 'starttls' : 'none';
  switch (cfg.tls) {
    case 'implicit':
      return 'implicit';
    case 'starttls':
      return 'starttls';
    case 'none':
      return 'none';
    case 'auto':
      // RFC 8314 §3.3: 465 is TLS from the first byte. Elsewhere STARTTLS when offered, required with --require-tls.
      if (cfg.port === 465) return 'implicit';
      if (cfg.port === 587 || cfg.requireTls) return 'starttls';
      return 'opportunistic';
  }
}

/** Client options from the resolved flags. */
export function connectOptions(
  cfg: ConnectionConfig & { heloOnly?: boolean },
  extra: Pick<ConnectOptions, 'auth' | 'onTranscript'> & { ca?: Buffer },
): ConnectOptions {
  const tls = clientTlsMode(cfg);
  const timeouts = cfg.timeoutMs
    ? Object.fromEntries(
        ['connect', 'greeting', 'ehlo', 'starttls', 'auth', 'mail', 'rcpt', 'dataInit', 'dataBlock', 'dataDone', 'command'].map(
          (k) => [k, cfg.timeoutMs],
        ),
      )
    : undefined;
  return {
    ...(cfg.socket !== undefined ? { path: cfg.socket } : { host: cfg.host, port: cfg.port }),
    ...(cfg.protocol === 'lmtp' ? { protocol: 'lmtp' as const } : {}),
    ...(tls ? { tls } : {}),
    ...(extra.ca ? { ca: extra.ca } : {}),
    ...(cfg.insecure ? { rejectUnauthorized: false } : {}),
    ...(cfg.pin ? { pin: cfg.pin } : {}),
    ...(cfg.helo ? { clientName: cfg.helo } : {}),
    ...(cfg.heloOnly ? { helo: true } : {}),
    ...(extra.auth ? { auth: extra.auth } : {}),
    ...(timeouts ? { timeouts } : {}),
    ...(extra.onTranscript ? { onTranscript: extra.onTranscript } : {}),
  };
}

interface ReplyLike {
  code: number;
  enhanced?: { klass: number; subject: number; detail: number };
  lines: string[];
  text: string;
}

/** A reply as --json prints it. */
export function replyJson(reply: ReplyLike | undefined) {
  if (!reply) return null;
  const e = reply.enhanced;
  return { code: reply.code, enhanced: e ? `${e.klass}.${e.subject}.${e.detail}` : null, text: reply.text };
}

interface ErrorLike {
  name?: string;
  message?: string;
  kind?: string;
  code?: string;
  replyCode?: number;
  enhancedStatus?: string;
  command?: string;
  hint?: string;
  reply?: ReplyLike;
  rejected?: Array<{ address: string; reply?: ReplyLike; error?: { enhancedStatus?: string } }>;
}

/** The --json object for a failure. */
export function errorJson(error: unknown, exit: ExitCode, session?: Session) {
  const e = (error ?? {}) as ErrorLike;
  return {
    ok: false,
    exitCode: exit,
    messageId: null,
    accepted: [],
    // RecipientsRejectedError carries every refusal: report them all, not just the first.
    rejected: (e.rejected ?? []).map((r) => ({
      address: r.address,
      code: r.reply?.code ?? null,
      enhanced: r.error?.enhancedStatus ?? null,
      text: r.reply?.text ?? '',
    })),
    reply: replyJson(e.reply),
    tls: session?.tls ?? null,
    error: {
      kind: e.kind ?? (e.name === 'MimeError' ? 'input' : e.name === 'UsageError' ? 'usage' : e.name === 'InputFileError' ? 'input-file' : 'internal'),
      code: e.code ?? null,
      message: e.message ?? String(error),
      replyCode: e.replyCode ?? null,
      enhanced: e.enhancedStatus ?? null,
      command: e.command ?? null,
    },
  };
}

/**
 * One line for stderr: what failed, the server's reply, a hint where one is known.
 * `smtpkit: RCPT TO:<b@x> rejected: 550 5.1.1 no such user (hint: …)`
 */
export function describeError(error: unknown, ctx: ConnectionContext): string {
  const e = (error ?? {}) as ErrorLike;
  let line = `smtpkit: ${e.message ?? String(error)}`;
  if (e.reply && !line.includes(String(e.reply.code))) line += `: server said ${e.reply.code} ${e.reply.text}`;
  const where = e.kind === 'connection' || e.kind === 'timeout' || e.kind === 'tls' || e.kind === 'protocol' ? ` [${serverLabel(ctx)}]` : '';
  let hint = hintFor(error, ctx);
  if (!hint && (e.kind === 'auth' || exitCodeFor(error) === 77)) hint = ctx.authHint;
  return oneLine(line + where + (hint ? ` (hint: ${hint})` : ''));
}
