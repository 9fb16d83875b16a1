import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestCertificates } from './certificates.js';
import { run } from './process.js';

/** A TLS client certificate in every form a client may be given it. */
export interface ClientCertificate {
  /** The certificate (PEM), `CN=<commonName>`, extendedKeyUsage clientAuth. */
  cert: string;
  /** Its private key, unencrypted (PEM). */
  key: string;
  /** The same key encrypted with `passphrase` (PKCS#8, AES-256). */
  encryptedKey: string;
  /** The certificate and key as PKCS#12, protected by `passphrase`. */
  pfx: Buffer;
  passphrase: string;
  /** SHA-256 of the certificate's DER form, 'AA:BB:…'. */
  fingerprint256: string;
}

/** Options for {@link generateClientCertificate}. */
export interface ClientCertificateOptions {
  /** Default 'client.example'. */
  commonName?: string;
  /** Default: a fixed test passphrase. */
  passphrase?: string;
  /** Sign by this CA (PEM cert + key) instead of the test CA: a certificate the server does not trust. */
  issuer?: { cert: string; key: string };
}

/**
 * Issues a TLS client certificate signed by the test CA (or `issuer`) with the `openssl` CLI.
 *
 * @example
 * const certs = await generateCertificates();
 * const client = await generateClientCertificate(certs);
 * await connect({ host, port, ca: certs.caCert, cert: client.cert, key: client.key });
 */
export async function generateClientCertificate(certs: TestCertificates, options: ClientCertificateOptions = {}): Promise<ClientCertificate> {
  const cn = options.commonName ?? 'client.example';
  if (!/^[A-Za-z0-9.@_-]+$/.test(cn)) throw new Error(`generateClientCertificate: unusable common name ${JSON.stringify(cn)}`);
  const passphrase = options.passphrase ?? 'client-key-passphrase';
  const dir = await mkdtemp(join(tmpdir(), 'smtpkit-client-cert-'));
  try {
    const file = (name: string): string => join(dir, name);
    const openssl = (...args: string[]): Promise<unknown> => run('openssl', args, { cwd: dir });
    await writeFile(file('ca.crt'), options.issuer?.cert ?? certs.caCert);
    await writeFile(file('ca.key'), options.issuer?.key ?? certs.caKey, { mode: 0o600 });
    await writeFile(file('pass'), passphrase, { mode: 0o600 });
    await writeFile(file('client.ext'), 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n');
    await openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', file('client.key'), '-out', file('client.csr'), '-subj', `/CN=${cn}`);
    await openssl(
      'x509', '-req', '-sha256', '-days', '825', '-in', file('client.csr'), '-CA', file('ca.crt'), '-CAkey', file('ca.key'),
      '-CAcreateserial', '-extfile', file('client.ext'), '-out', file('client.crt'),
    );
    await openssl('pkcs8', '-topk8', '-v2', 'aes-256-cbc', '-in', file('client.key'), '-out', file('client.enc.key'), '-passout', `file:${file('pass')}`);
    await openssl('pkcs12', '-export', '-in', file('client.crt'), '-inkey', file('client.key'), '-out', file('client.p12'), '-passout', `file:${file('pass')}`);
    const cert = await readFile(file('client.crt'), 'utf8');
    return {
      cert,
      key: await readFile(file('client.key'), 'utf8'),
      encryptedKey: await readFile(file('client.enc.key'), 'utf8'),
      pfx: await readFile(file('client.p12')),
      passphrase,
      fingerprint256: new X509Certificate(cert).fingerprint256,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * `extraConf` for {@link startDovecot} that asks every TLS client for a certificate signed by the CA in
 * `caFile`, takes the user name from its CN, and lets the EXTERNAL mechanism (add `external` to
 * `mechanisms`) log in on that certificate alone.
 */
export function dovecotClientCertificateConf(caFile: string): string {
  return [
    `ssl_ca = <${caFile}`,
    'ssl_verify_client_cert = yes',
    'ssl_require_crl = no', // the test CA publishes no CRL
    'auth_ssl_username_from_cert = yes',
    'ssl_cert_username_field = commonName',
    // EXTERNAL carries no password: a passdb for that mechanism alone says none is needed.
    'passdb {\n  driver = static\n  mechanisms = external\n  args = nopassword=y\n}',
  ].join('\n');
}
