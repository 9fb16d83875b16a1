import { X509Certificate, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './process.js';

/** A private key and its certificate, both PEM. */
export interface KeyPair {
  key: string;
  cert: string;
}

/**
 * Certificates for TLS tests, all generated on the fly with the `openssl` CLI.
 * Every certificate except `selfSigned` is signed by `caCert`.
 */
export interface TestCertificates {
  /** The test CA certificate (pass as `ca` to trust the others). */
  caCert: string;
  /** The test CA key. */
  caKey: string;
  /** Server key for `cert`. */
  key: string;
  /** Server certificate: CN=localhost, SAN DNS:localhost and IP:127.0.0.1, valid now. */
  cert: string;
  /** Signed by the CA, valid now, but for `wrong.example` only. */
  wrongHost: KeyPair;
  /** For localhost, valid now, signed by itself. */
  selfSigned: KeyPair;
  /** For localhost, signed by the CA, valid 2020-01-01 to 2020-01-02 only. */
  expired: KeyPair;
  /** SHA-256 of `cert`'s DER form, 'AA:BB:…' (what a pin compares with). */
  fingerprint256: string;
}

const CURVE = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
const SERVER_EXT = 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n';

let memo: Promise<TestCertificates> | undefined;

/**
 * Generates (once per process; later calls share the result) a CA, a localhost server
 * certificate, a wrong-host one, a self-signed one and an expired one.
 * Fails with the openssl error when the `openssl` CLI is missing or fails.
 *
 * @example
 * const certs = await generateCertificates();
 * tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: certs.caCert });
 */
export function generateCertificates(): Promise<TestCertificates> {
  memo ??= create().catch((error: unknown) => {
    memo = undefined;
    throw error;
  });
  return memo;
}

async function create(): Promise<TestCertificates> {
  const dir = await mkdtemp(join(tmpdir(), 'smtpkit-certs-'));
  try {
    const openssl = (...args: string[]): Promise<unknown> => run('openssl', args, { cwd: dir });
    const file = (name: string): string => join(dir, name);

    await openssl(
      'req', '-x509', '-new', ...CURVE, '-nodes', '-sha256', '-days', '3650',
      '-keyout', file('ca.key'), '-out', file('ca.crt'), '-subj', '/CN=smtpkit test CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    );

    const signed = async (name: string, san: string): Promise<KeyPair> => {
      await openssl('req', '-new', ...CURVE, '-nodes', '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`), '-subj', '/CN=' + san.split(',')[0]!.replace(/^DNS:/, ''));
      await writeFile(file(`${name}.ext`), `${SERVER_EXT}subjectAltName=${san}\n`);
      await openssl(
        'x509', '-req', '-sha256', '-days', '825', '-in', file(`${name}.csr`),
        '-CA', file('ca.crt'), '-CAkey', file('ca.key'), '-set_serial', serial(),
        '-extfile', file(`${name}.ext`), '-out', file(`${name}.crt`),
      );
      return { key: await readFile(file(`${name}.key`), 'utf8'), cert: await readFile(file(`${name}.crt`), 'utf8') };
    };

    const server = await signed('server', 'DNS:localhost,IP:127.0.0.1');
    const wrongHost = await signed('wrong', 'DNS:wrong.example');

    await openssl(
      'req', '-x509', '-new', ...CURVE, '-nodes', '-sha256', '-days', '825',
      '-keyout', file('self.key'), '-out', file('self.crt'), '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-addext', 'basicConstraints=critical,CA:FALSE',
    );
    const selfSigned = { key: await readFile(file('self.key'), 'utf8'), cert: await readFile(file('self.crt'), 'utf8') };

    const expired = await expiredPair(dir, openssl);

    const cert = server.cert;
    return {
      caCert: await readFile(file('ca.crt'), 'utf8'),
      caKey: await readFile(file('ca.key'), 'utf8'),
      key: server.key,
      cert,
      wrongHost,
      selfSigned,
      expired,
      fingerprint256: new X509Certificate(cert).fingerprint256,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * `openssl x509 -not_before` exists only from OpenSSL 3.4, so the expired certificate comes from
 * `openssl ca`, whose -startdate/-enddate accept any dates, with a minimal throw-away CA config.
 */
async function expiredPair(dir: string, openssl: (...args: string[]) => Promise<unknown>): Promise<KeyPair> {
  const file = (name: string): string => join(dir, name);
  await mkdir(file('newcerts'));
  await writeFile(file('index.txt'), '');
  await writeFile(file('serial'), serial().slice(2) + '\n');
  await writeFile(
    file('ca.cnf'),
    [
      '[ ca ]',
      'default_ca = test_ca',
      '[ test_ca ]',
      `dir = ${dir}`,
      'database = $dir/index.txt',
      'new_certs_dir = $dir/newcerts',
      'serial = $dir/serial',
      'default_md = sha256',
      'policy = policy_any',
      'unique_subject = no',
      'copy_extensions = none',
      '[ policy_any ]',
      'commonName = supplied',
      '[ server_ext ]',
      'basicConstraints = critical,CA:FALSE',
      'keyUsage = critical,digitalSignature',
      'extendedKeyUsage = serverAuth',
      'subjectAltName = DNS:localhost,IP:127.0.0.1',
      '',
    ].join('\n'),
  );
  await openssl('req', '-new', ...CURVE, '-nodes', '-keyout', file('expired.key'), '-out', file('expired.csr'), '-subj', '/CN=localhost');
  await openssl(
    'ca', '-batch', '-config', file('ca.cnf'), '-cert', file('ca.crt'), '-keyfile', file('ca.key'),
    '-in', file('expired.csr'), '-out', file('expired.crt'), '-notext', '-extensions', 'server_ext',
    '-startdate', '20200101000000Z', '-enddate', '20200102000000Z',
  );
  return { key: await readFile(file('expired.key'), 'utf8'), cert: await readFile(file('expired.crt'), 'utf8') };
}

/** A random positive 64-bit serial number in openssl's 0x form. */
function serial(): string {
  const bytes = randomBytes(8);
  bytes[0] = (bytes[0]! & 0x7f) | 0x10;
  return '0x' + bytes.toString('hex');
}
