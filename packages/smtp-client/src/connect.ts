import { encodeCommand, heloCapabilities, parseEhlo, SmtpError, type Reply } from '@smtpkit/wire';
import { authenticate } from './auth.js';
import { SCRAM_MECHANISMS } from './auth-scram.js';
import { checkClientCertificate } from './client-certificate.js';
import { openProxyTransport } from './proxy-transport.js';
import { parseProxy, type ProxyConfig } from './proxy.js';
import { inputError, quoteReply, replyError } from './errors.js';
import { openNetTransport } from './net-transport.js';
import { SmtpSession } from './session.js';
import { normalizePins } from './tls.js';
import { resolveTimeouts, startDeadline, type Timeouts } from './timeouts.js';
import { Transcript } from './transcript.js';
import type { TlsUpgradeOptions, Transport } from './transport.js';
import type { ConnectOptions, Session, TlsInfo, TlsMode } from './types.js';

const EMPTY_REPLY: Reply = Object.freeze({ code: 0, lines: [], text: '' }) as Reply;

/** Settings derived once from {@link ConnectOptions}. */
export interface ResolvedConnect {
  host: string;
  port: number;
  mode: TlsMode;
  timeouts: Timeouts;
  transcript: Transcript;
  tls: TlsUpgradeOptions;
  proxy?: ProxyConfig;
}

/** RFC 4616 §2 / RFC 4954: no NUL in PLAIN fields, no control characters in a user name. */
function checkCredentials(auth: NonNullable<ConnectOptions['auth']>): void {
  if (typeof auth.user !== 'string' || (auth.user === '' && auth.method !== 'EXTERNAL')) throw inputError('ERR_SMTP_INPUT', '`auth.user` must be a non-empty string');
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(auth.user)) throw inputError('ERR_SMTP_INPUT', '`auth.user` contains control characters');
  if (auth.pass !== undefined && (typeof auth.pass !== 'string' || auth.pass.includes('\0'))) {
    throw inputError('ERR_SMTP_INPUT', '`auth.pass` must be a string without NUL');
  }
  const methods = ['PLAIN', 'LOGIN', 'XOAUTH2', 'OAUTHBEARER', 'CRAM-MD5', 'EXTERNAL', ...SCRAM_MECHANISMS];
  if (auth.method !== undefined && !methods.includes(auth.method)) {
    throw inputError('ERR_SMTP_INPUT', `unknown auth.method ${JSON.stringify(auth.method)}: one of ${methods.join(', ')}`);
  }
}

/** Validate and default the options (port → TLS mode, timeouts, pins). */
export function resolveConnectOptions(o: ConnectOptions): ResolvedConnect {
  if (!o || typeof o.host !== 'string' || o.host === '') throw inputError('ERR_SMTP_INPUT', '`host` is required');
  const port = o.port ?? 25;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw inputError('ERR_SMTP_INPUT', `invalid port ${String(port)}`);
  const mode: TlsMode = o.tls ?? (port === 465 ? 'implicit' : port === 587 ? 'starttls' : 'opportunistic');
  if (!['implicit', 'starttls', 'opportunistic', 'none'].includes(mode)) {
    throw inputError('ERR_SMTP_INPUT', `invalid tls mode ${JSON.stringify(mode)}`);
  }
  const pin = normalizePins(o.pin);
  // Everything that will go on the wire is checked before connecting: the EHLO name through the
  // one command validator, AUTH credentials for controls that base64 would hide from it.
  encodeCommand({ verb: o.helo ? 'HELO' : 'EHLO', domain: o.clientName ?? 'localhost' });
  if (o.auth) checkCredentials(o.auth);
  const clientCert = checkClientCertificate(o);
  const proxy = o.proxy === undefined ? undefined : parseProxy(o.proxy);
  return {
    ...(proxy ? { proxy } : {}),
    host: o.host,
    port,
    mode,
    timeouts: resolveTimeouts(o.timeouts),
    transcript: new Transcript(o.onTranscript),
    tls: {
      host: o.host,
      ...(o.servername !== undefined ? { servername: o.servername } : {}),
      ...(o.ca !== undefined ? { ca: o.ca } : {}),
      rejectUnauthorized: o.rejectUnauthorized ?? true,
      ...(pin ? { pin } : {}),
      ...clientCert,
    },
  };
}

/**
 * Open an SMTP session: TCP (every address of the host tried), implicit TLS or STARTTLS, EHLO, AUTH.
 *
 * With `stopAfter` the handshake stops after that step, sends QUIT, and the session resolves in that
 * state (`usable` false) so its `greeting`, `capabilities`, `tls` and `authenticated` can be inspected.
 *
 * @example
 * ```ts
 * const session = await connect({ host: '127.0.0.1', port: 1025, tls: 'none' });
 * await session.send({ from: 'a@example.com', to: ['b@example.com'], data: 'Subject: hi\r\n\r\nhello\r\n' });
 * await session.quit();
 * ```
 */
export async function connect(options: ConnectOptions): Promise<Session> {
  const r = resolveConnectOptions(options);
  const deadline = startDeadline('connect', r.timeouts.connect, [options.signal]);
  let transport: Transport | undefined;
  let tlsInfo: TlsInfo | null = null;
  try {
    const target = { host: r.host, port: r.port, ...(options.family ? { family: options.family } : {}), ...(options.localAddress ? { localAddress: options.localAddress } : {}) };
    transport = r.proxy
      ? await openProxyTransport(r.proxy, target, deadline.signal, r.transcript)
      : await openNetTransport(target, deadline.signal, r.transcript);
    if (r.mode === 'implicit' && options.stopAfter !== 'connect') {
      tlsInfo = await transport.upgradeToTls({ ...r.tls, mode: 'implicit' }, deadline.signal);
      noteTls(r.transcript, tlsInfo);
    }
  } catch (err) {
    transport?.destroy();
    throw deadline.signal.aborted && deadline.signal.reason instanceof SmtpError ? deadline.signal.reason : err;
  } finally {
    deadline.clear();
  }
  return handshake(transport, options, r, tlsInfo);
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
    await hello(s, options);
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
    if (err instanceof SmtpError && err.kind === 'timeout' && r.mode !== 'implicit') {
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

/** EHLO, falling back to HELO on 500/502 (RFC 5321 §4.1.4); `helo: true` sends HELO only. */
async function hello(s: SmtpSession, options: ConnectOptions): Promise<void> {
  const domain = options.clientName ?? 'localhost';
  if (!options.helo) {
    const reply = await s.command({ verb: 'EHLO', domain }, 'ehlo');
    if (reply.code === 250) {
      s.capabilities = parseEhlo(reply);
      return;
    }
    if (reply.code !== 500 && reply.code !== 502) throw replyError(reply, `EHLO ${domain}`);
    s.transcript.note('EHLO not supported: falling back to HELO');
  }
  const reply = await s.command({ verb: 'HELO', domain }, 'ehlo');
  if (reply.code !== 250) throw replyError(reply, `HELO ${domain}`);
  s.capabilities = heloCapabilities(reply);
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
  await hello(s, options);
}
