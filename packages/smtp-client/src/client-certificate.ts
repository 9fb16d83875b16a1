import { createSecureContext } from 'node:tls';
import { SmtpError } from '@smtpkit/wire';
import type { TlsUpgradeOptions } from './transport.js';

/** The TLS client certificate fields of the connect options (RFC 5246 §7.4.6 / RFC 8446 §4.4.2). */
export interface ClientCertificateOptions {
  cert?: string | Buffer | Array<string | Buffer>;
  key?: string | Buffer | Array<string | Buffer>;
  pfx?: string | Buffer | Array<string | Buffer>;
  passphrase?: string;
}

/** The client certificate fields, only those set (for `tls.connect` and the transport's options). */
export function clientCertificateOptions(o: ClientCertificateOptions): ClientCertificateOptions {
  return {
    ...(o.cert !== undefined ? { cert: o.cert } : {}),
    ...(o.key !== undefined ? { key: o.key } : {}),
    ...(o.pfx !== undefined ? { pfx: o.pfx } : {}),
    ...(o.passphrase !== undefined ? { passphrase: o.passphrase } : {}),
  };
}

function certificateError(message: string, cause?: unknown): SmtpError {
  return new SmtpError(message, {
    kind: 'input',
    code: 'ERR_SMTP_CLIENT_CERT',
    retryable: false,
    ...(cause !== undefined ? { cause } : {}),
  });
}

/**
 * Check the client certificate before connecting: both halves present, the key readable with the
 * passphrase, the key matching the certificate. A problem here is the caller's input, named clearly,
 * instead of a TLS alert from the server later.
 */
export function checkClientCertificate(o: ClientCertificateOptions): Pick<TlsUpgradeOptions, 'cert' | 'key' | 'pfx' | 'passphrase'> {
  const hasPair = o.cert !== undefined || o.key !== undefined;
  if (!hasPair && o.pfx === undefined) {
    if (o.passphrase !== undefined) throw certificateError('`passphrase` is set but there is no `key` or `pfx` to decrypt');
    return {};
  }
  if (hasPair && o.pfx !== undefined) throw certificateError('give the client certificate as `cert` + `key` or as `pfx`, not both');
  if (hasPair && (o.cert === undefined || o.key === undefined)) {
    throw certificateError(o.cert === undefined ? '`key` is set without `cert`' : '`cert` is set without its `key`');
  }
  try {
    createSecureContext(clientCertificateOptions(o));
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err);
    if (/bad decrypt|bad password|maybe wrong password|mac verify failure|interrupted or cancelled|no start line.*key|unable to load/i.test(text) && (o.key !== undefined || o.pfx !== undefined)) {
      throw certificateError(
        o.passphrase === undefined
          ? `the client key could not be read: it is encrypted and no passphrase was given, or it is not a PEM/PKCS#12 key (${text})`
          : `the client key could not be decrypted with the given passphrase (${text})`,
        err,
      );
    }
    if (/key values mismatch/i.test(text)) throw certificateError(`the client key does not belong to the client certificate (${text})`, err);
    throw certificateError(`the client certificate could not be loaded: ${text}`, err);
  }
  return clientCertificateOptions(o);
}
