import { heloCapabilities, isPositiveCompletion, parseEhlo, SmtpError, type Reply } from '@smtpkit/wire';
import { authenticate } from './auth.js';
import { resolveConnectOptions, type ResolvedConnect } from './connect-options.js';
import { quoteReply, replyError } from './errors.js';
import { SmtpSession } from './session.js';
import { startDeadline } from './timeouts.js';
import type { Transcript } from './transcript.js';
import type { Transport } from './transport.js';
import type { ConnectOptions, Session, TlsInfo } from './types.js';

const EMPTY_REPLY: Reply = Object.freeze({ code: 0, lines: [], text: '' }) as Reply;

/** An open transport, and what TLS gave it when TLS came first (implicit TLS). */
export interface OpenedTransport {
  transport: Transport;
  tls: TlsInfo | null;
}

/**
 * How a session's transport is opened: TCP (then implicit TLS) over `node:net` / `node:tls` on Node, Bun
 * and Deno; `cloudflare:sockets` on Workers. An opener that fails destroys what it opened.
 */
export type OpenTransport = (r: ResolvedConnect, options: ConnectOptions, signal: AbortSignal) => Promise<OpenedTransport>;

/**
 * Open a session through `open`, under the connect deadline, then the SMTP handshake. The one path behind
 * every runtime's `connect`.
 */
export async function openSession(options: ConnectOptions, open: OpenTransport): Promise<Session> {
  const r = resolveConnectOptions(options);
  const deadline = startDeadline('connect', r.timeouts.connect, [options.signal]);
  let opened: OpenedTransport;
  try {
    opened = await open(r, options, deadline.signal);
    if (opened.tls) noteTls(r.transcript, opened.tls);
  } catch (err) {
    throw deadline.signal.aborted && deadline.signal.reason instanceof SmtpError ? deadline.signal.reason : err;
  } finally {
    deadline.clear();
  }
  return handshake(opened.transport, options, r, opened.tls);
}

/** Report TLS in the transcript, with a warning when the peer was not verified. */
export function noteTls(t: Transcript, info: TlsInfo): void {
  t.note(`TLS up: ${info.protocol} ${info.cipher}, certificate ${info.verified === 'none' ? 'NOT verified' : `verified by ${info.verified}`}`);
  if (info.verified === 'none') {
    t.note(`warning: rejectUnauthorized is false; the server certificate is not checked (${info.authorizationError ?? 'no error'})`);
  }
}

/**
 * The SMTP part of {@link connect} over any transport (tests drive it in memory): greeting, EHLO/HELO,
 * STARTTLS, AUTH. On failure the session is closed and the error thrown.
 */
export async function handshake(
  transport: Transport,
  options: ConnectOptions,
  r: ResolvedConnect,
  tlsInfo: TlsInfo | null,
): Promise<Session> {
  const s = new SmtpSession({
    transport,
    transcript: r.transcript,
    timeouts: r.timeouts,
    ...(options.signal ? { signal: options.signal } : {}),
    pipelining: options.pipelining ?? 'auto',
    chunking: options.chunking ?? 'auto',
    capabilities: heloCapabilities(EMPTY_REPLY),
    protocol: r.protocol,
  });
  s.tls = tlsInfo;
  const stop = options.stopAfter;
  if (stop === 'connect') {
    // No greeting read: QUIT before the 220 would be out of order (RFC 5321 §3.1), so just hang up.
    transport.end();
    s.destroy(new SmtpError('stopped after connect', { kind: 'aborted', code: 'ERR_SMTP_STOPPED' }));
    return s;
  }
  try {
    s.greeting = await readGreeting(s, r);
    if (stop === 'greeting') return await stopped(s);
    await hello(s, options, r);
    if (stop === 'ehlo') return await stopped(s);
    if (!s.secure && (r.mode === 'starttls' || r.mode === 'opportunistic')) await startTls(s, options, r);
    if (stop === 'tls') return await stopped(s);
    if (options.auth) {
      s.authenticated = await authenticate(s, options.auth, {
        host: r.host,
        port: r.port,
        allowInsecure: options.allowInsecureAuth === true,
      });
      r.transcript.note(`authenticated as ${options.auth.user} with ${s.authenticated}`);
    }
    if (stop === 'auth') return await stopped(s);
    return s;
  } catch (err) {
    if (s.usable) await s.close();
    throw err;
  }
}

async function stopped(s: SmtpSession): Promise<Session> {
  await s.close();
  return s;
}

async function readGreeting(s: SmtpSession, r: ResolvedConnect): Promise<Reply> {
  let greeting: Reply;
  try {
    greeting = await s.step('greeting', (sig) => s.readReply(sig, 'greeting'));
  } catch (err) {
    if (err instanceof SmtpError && err.kind === 'timeout' && r.mode !== 'implicit' && r.path === undefined) {
      // A TLS-first server waits for our ClientHello and never greets in plaintext.
      throw new SmtpError(err.message, {
        kind: 'timeout',
        code: err.code,
        retryable: r.port !== 465,
        hint:
          r.port === 465
            ? "no greeting on port 465: it expects TLS from the first byte, use tls: 'implicit'"
            : "no greeting: if this port expects TLS from the first byte (like 465), use tls: 'implicit'",
        cause: err,
      });
    }
    throw err;
  }
  if (greeting.code === 220) return greeting;
  // RFC 5321 §3.1: 554 means "no service here"; anything else is not a greeting at all.
  const error = new SmtpError(`server refused the session: ${quoteReply(greeting)}`, {
    kind: 'reply',
    code: greeting.code === 554 ? 'ERR_SMTP_GREETING_REJECTED' : 'ERR_SMTP_GREETING',
    replyCode: greeting.code,
    reply: greeting,
    command: 'greeting',
  });
  throw error;
}

/**
 * EHLO, falling back to HELO on 500/502 (RFC 5321 §4.1.4); `helo: true` sends HELO only. LMTP sends LHLO and
 * nothing else: RFC 2033 §4.1 has no HELO, so a refused LHLO ends the session.
 */
async function hello(s: SmtpSession, options: ConnectOptions, r: ResolvedConnect): Promise<void> {
  const domain = options.clientName ?? 'localhost';
  if (r.protocol === 'lmtp') {
    const reply = await lhlo(s, domain);
    if (!isPositiveCompletion(reply)) {
      const error = replyError(reply, `LHLO ${domain}`);
      if (reply.code === 500 || reply.code === 502) {
        throw new SmtpError(`${error.message}: the server does not speak LMTP`, {
          kind: 'reply',
          code: error.code,
          replyCode: reply.code,
          reply,
          command: `LHLO ${domain}`,
          retryable: false,
          hint: "is this an SMTP port? LMTP servers (Dovecot, Cyrus) have their own port or Unix socket; use protocol 'smtp' for SMTP",
        });
      }
      throw error;
    }
    s.capabilities = parseEhlo(reply);
    return;
  }
  if (!options.helo) {
    const reply = await s.command({ verb: 'EHLO', domain }, 'ehlo');
    if (isPositiveCompletion(reply)) {
      s.capabilities = parseEhlo(reply);
      return;
    }
    if (reply.code !== 500 && reply.code !== 502) throw replyError(reply, `EHLO ${domain}`);
    s.transcript.note('EHLO not supported: falling back to HELO');
  }
  const reply = await s.command({ verb: 'HELO', domain }, 'ehlo');
  if (!isPositiveCompletion(reply)) throw replyError(reply, `HELO ${domain}`);
  s.capabilities = heloCapabilities(reply);
}

/** LHLO (RFC 2033 §4.1), under the EHLO deadline; a timeout names LHLO. */
async function lhlo(s: SmtpSession, domain: string): Promise<Reply> {
  try {
    return await s.command({ verb: 'LHLO', domain }, 'ehlo');
  } catch (err) {
    if (!(err instanceof SmtpError) || err.kind !== 'timeout') throw err;
    throw new SmtpError(err.message.replace(/during ehlo$/, 'during LHLO'), { kind: 'timeout', code: err.code, retryable: err.retryable, cause: err });
  }
}

/** STARTTLS (RFC 3207): nothing may follow the 220 in plaintext (§4.2); EHLO again after the handshake. */
async function startTls(s: SmtpSession, options: ConnectOptions, r: ResolvedConnect): Promise<void> {
  const required = r.mode === 'starttls';
  if (!s.capabilities.starttls) {
    if (required) {
      throw new SmtpError('the server does not offer STARTTLS', {
        kind: 'tls',
        code: 'ERR_SMTP_STARTTLS_UNAVAILABLE',
        retryable: false,
        hint: "use tls: 'implicit' on port 465 if the server has it; tls: 'opportunistic' accepts plaintext",
      });
    }
    r.transcript.note('STARTTLS not offered: continuing WITHOUT TLS (opportunistic)');
    return;
  }
  const reply = await s.command({ verb: 'STARTTLS' }, 'starttls');
  if (reply.code !== 220) {
    if (required) {
      throw new SmtpError(`STARTTLS refused: ${quoteReply(reply)}`, {
        kind: 'tls',
        code: 'ERR_SMTP_STARTTLS_FAILED',
        replyCode: reply.code,
        reply,
        command: 'STARTTLS',
        retryable: false,
      });
    }
    r.transcript.note('STARTTLS refused: continuing WITHOUT TLS (opportunistic)');
    return;
  }
  if (!s.reader.isIdle) {
    const error = new SmtpError('server sent data after the STARTTLS 220 before the TLS handshake (possible command injection)', {
      kind: 'protocol',
      code: 'ERR_SMTP_STARTTLS_INJECTION',
      retryable: false,
      command: 'STARTTLS',
    });
    s.fail(error);
    throw error;
  }
  const info = await s.step('starttls', (sig) => s.transport.upgradeToTls({ ...r.tls, mode: 'starttls' }, sig));
  s.tls = info;
  noteTls(r.transcript, info);
  // RFC 3207 §4.2: forget everything learnt before TLS and ask again.
  s.capabilities = heloCapabilities(EMPTY_REPLY);
  await hello(s, options, r);
}
