import { isIP } from 'node:net';
import type { ConnectionOptions, PeerCertificate, TLSSocket } from 'node:tls';
import { SmtpError } from '@smtpkit/wire';
import { clientCertificateOptions } from './client-certificate.js';
import type { TlsUpgradeOptions } from './transport.js';
import type { TlsInfo } from './types.js';

export { normalizePins } from './pins.js';

/**
 * Options for `tls.connect`: SNI unless the host is an IP literal (RFC 6066 §3). Node checks the
 * certificate against `servername`, else `host` (IP SANs for an address).
 */
export function tlsConnectOptions(o: TlsUpgradeOptions): ConnectionOptions {
  const servername = o.servername ?? (isIP(o.host) ? undefined : o.host);
  return {
    host: o.host,
    ...(servername !== undefined ? { servername } : {}),
    ...(o.ca !== undefined ? { ca: o.ca } : {}),
    ...clientCertificateOptions(o),
    // With a pin the chain may be private: verify by hand after the handshake (see verifyPeer).
    rejectUnauthorized: o.pin ? false : o.rejectUnauthorized,
  };
}

/** Check the peer after the handshake: pin first, then the CA verdict. Throws kind 'tls'. */
export function verifyPeer(socket: TLSSocket, o: TlsUpgradeOptions): TlsInfo {
  const cert = socket.getPeerCertificate();
  const cipher = socket.getCipher();
  const authorizationError = socket.authorizationError ? String(socket.authorizationError) : undefined;
  const peer = describeCert(cert);
  const base = {
    protocol: socket.getProtocol() ?? 'unknown',
    cipher: cipher?.name ?? 'unknown',
    authorized: socket.authorized,
    ...(authorizationError !== undefined ? { authorizationError } : {}),
    ...(peer ? { peer } : {}),
  };
  if (o.pin) {
    const got = peer?.fingerprint256.replace(/:/g, '').toUpperCase();
    if (!got || !o.pin.includes(got)) {
      throw new SmtpError(`server certificate does not match the pinned fingerprint (got ${peer?.fingerprint256 ?? 'none'})`, {
        kind: 'tls',
        code: 'ERR_SMTP_TLS_PIN_MISMATCH',
        retryable: false,
      });
    }
    return { ...base, verified: 'pin' };
  }
  if (socket.authorized) return { ...base, verified: 'ca' };
  if (o.rejectUnauthorized) {
    // Node rejects before this point; keep the check so a changed default cannot slip through.
    throw new SmtpError(`server certificate not trusted: ${authorizationError ?? 'unknown reason'}`, {
      kind: 'tls',
      code: 'ERR_SMTP_TLS_CERT',
      retryable: false,
    });
  }
  return { ...base, verified: 'none' };
}

function describeCert(cert: PeerCertificate | undefined): TlsInfo['peer'] {
  if (!cert || Object.keys(cert).length === 0) return undefined;
  const name = (n: Record<string, unknown> | undefined) =>
    n ? Object.entries(n).map(([k, v]) => `${k}=${String(v)}`).join(', ') : '';
  return {
    subject: name(cert.subject as unknown as Record<string, unknown>),
    issuer: name(cert.issuer as unknown as Record<string, unknown>),
    validFrom: cert.valid_from,
    validTo: cert.valid_to,
    fingerprint256: cert.fingerprint256,
  };
}

const WRONG_VERSION = /WRONG_VERSION_NUMBER|wrong version number|packet length too long|unknown protocol|record layer failure|ERR_SSL_HTTP_REQUEST/i;

/** Turn a handshake failure into a typed error; a plaintext answer to our hello gets a hint. */
export function tlsHandshakeError(err: unknown, mode: 'implicit' | 'starttls'): SmtpError {
  if (err instanceof SmtpError) return err;
  const e = err as { code?: string; message?: string };
  const text = `${e.code ?? ''} ${e.message ?? String(err)}`;
  const wrongVersion = WRONG_VERSION.test(text);
  const certProblem = /CERT|certificate|self.signed|Hostname\/IP does not match|altnames/i.test(text);
  return new SmtpError(`TLS handshake failed: ${e.message ?? String(err)}`, {
    kind: 'tls',
    code: wrongVersion ? 'ERR_SMTP_TLS_WRONG_VERSION' : certProblem ? 'ERR_SMTP_TLS_CERT' : 'ERR_SMTP_TLS_HANDSHAKE',
    retryable: false,
    ...(wrongVersion && mode === 'implicit'
      ? { hint: "the server answered in plaintext: this port expects STARTTLS, use tls: 'starttls' (e.g. port 587) or tls: 'none'" }
      : {}),
    ...(certProblem ? { hint: 'pass the private CA as `ca`, or its certificate fingerprint as `pin`' } : {}),
    cause: err,
  });
}
