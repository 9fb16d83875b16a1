import { encodeCommand } from '@smtpkit/wire';
import { SCRAM_MECHANISMS } from './auth-scram.js';
import { checkClientCertificate } from './client-certificate.js';
import { inputError } from './errors.js';
import { normalizePins } from './pins.js';
import { parseProxy, type ProxyConfig } from './proxy.js';
import { resolveTimeouts, type Timeouts } from './timeouts.js';
import { Transcript } from './transcript.js';
import type { TlsUpgradeOptions } from './transport.js';
import type { ConnectOptions, TlsMode } from './types.js';

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
