import { encodeCommand } from '@smtpkit/wire';
import { SCRAM_MECHANISMS } from './auth-scram.js';
import { checkClientCertificate } from './client-certificate.js';
import { inputError } from './errors.js';
import { normalizePins } from './pins.js';
import { parseProxy, type ProxyConfig } from './proxy.js';
import { resolveTimeouts, type Timeouts } from './timeouts.js';
import { Transcript } from './transcript.js';
import type { TlsUpgradeOptions } from './transport.js';
import type { ConnectOptions, MailProtocol, TlsMode } from './types.js';

/**
 * RFC 2033 (abstract): LMTP "MUST NOT be used on TCP port 25"; that port is SMTP's. The same port is SMTP's default,
 * so LMTP over TCP takes no default port either.
 */
export const SMTP_PORT = 25;

/** Settings derived once from {@link ConnectOptions}. */
export interface ResolvedConnect {
  /** The server's name or address; `localhost` over a Unix socket (the name TLS checks when `servername` is not set). */
  host: string;
  /** 0 over a Unix socket. */
  port: number;
  /** The Unix domain socket, when the connection goes there instead of TCP. */
  path?: string;
  protocol: MailProtocol;
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

/** The protocol, checked against what it cannot go with: HELO (RFC 2033 §4.1) and port 25. */
function checkProtocol(o: ConnectOptions): MailProtocol {
  const protocol = o.protocol ?? 'smtp';
  if (protocol !== 'smtp' && protocol !== 'lmtp') {
    throw inputError('ERR_SMTP_INPUT', `invalid protocol ${JSON.stringify(protocol)}: 'smtp' or 'lmtp'`);
  }
  if (protocol === 'lmtp') {
    if (o.helo) throw inputError('ERR_SMTP_INPUT', "`helo` cannot be used with protocol 'lmtp': LMTP has LHLO and no HELO (RFC 2033 §4.1)");
    if (o.path === undefined && o.port === undefined) {
      throw inputError('ERR_SMTP_INPUT', "protocol 'lmtp' needs a `port` (or a Unix socket `path`): LMTP has no default port", 'Dovecot and Cyrus commonly listen for LMTP on port 24');
    }
    if (o.port === SMTP_PORT) {
      throw inputError('ERR_SMTP_INPUT', "protocol 'lmtp' cannot be used on port 25: that is SMTP's port (RFC 2033: LMTP MUST NOT be used on TCP port 25)");
    }
  }
  return protocol;
}

/** A Unix domain socket stands for the whole address: no host, port, proxy or source address with it. */
function checkPath(o: ConnectOptions): string | undefined {
  if (o.path === undefined) return undefined;
  if (typeof o.path !== 'string' || o.path === '' || o.path.includes('\0')) {
    throw inputError('ERR_SMTP_INPUT', '`path` must be a non-empty Unix socket path without NUL');
  }
  for (const name of ['host', 'port', 'proxy', 'family', 'localAddress'] as const) {
    if (o[name] !== undefined) {
      throw inputError('ERR_SMTP_INPUT', `\`${name}\` cannot be used with \`path\`: a Unix socket is reached by its path alone`);
    }
  }
  return o.path;
}

/** Validate and default the options (port → TLS mode, timeouts, pins). */
export function resolveConnectOptions(o: ConnectOptions): ResolvedConnect {
  if (!o || typeof o !== 'object') throw inputError('ERR_SMTP_INPUT', '`host` (or a Unix socket `path`) is required');
  const path = checkPath(o);
  if (path === undefined && (typeof o.host !== 'string' || o.host === '')) {
    throw inputError('ERR_SMTP_INPUT', '`host` (or a Unix socket `path`) is required');
  }
  const protocol = checkProtocol(o);
  const port = path !== undefined ? 0 : (o.port ?? SMTP_PORT);
  if (path === undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) throw inputError('ERR_SMTP_INPUT', `invalid port ${String(port)}`);
  const mode: TlsMode = o.tls ?? (path !== undefined ? 'none' : port === 465 ? 'implicit' : port === 587 ? 'starttls' : 'opportunistic');
  if (!['implicit', 'starttls', 'opportunistic', 'none'].includes(mode)) {
    throw inputError('ERR_SMTP_INPUT', `invalid tls mode ${JSON.stringify(mode)}`);
  }
  const pin = normalizePins(o.pin);
  // Everything that will go on the wire is checked before connecting: the EHLO/LHLO name through the
  // one command validator, AUTH credentials for controls that base64 would hide from it.
  encodeCommand({ verb: protocol === 'lmtp' ? 'LHLO' : o.helo ? 'HELO' : 'EHLO', domain: o.clientName ?? 'localhost' });
  if (o.auth) checkCredentials(o.auth);
  const clientCert = checkClientCertificate(o);
  const proxy = o.proxy === undefined ? undefined : parseProxy(o.proxy);
  const host = path !== undefined ? 'localhost' : (o.host as string);
  return {
    ...(proxy ? { proxy } : {}),
    ...(path !== undefined ? { path } : {}),
    host,
    port,
    protocol,
    mode,
    timeouts: resolveTimeouts(o.timeouts),
    transcript: new Transcript(o.onTranscript),
    tls: {
      host,
      ...(o.servername !== undefined ? { servername: o.servername } : {}),
      ...(o.ca !== undefined ? { ca: o.ca } : {}),
      rejectUnauthorized: o.rejectUnauthorized ?? true,
      ...(pin ? { pin } : {}),
      ...clientCert,
    },
  };
}
