import { X509Certificate } from 'node:crypto';
import { createServer, connect, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { generateCertificates, type KeyPair } from '../src/index.js';

/** Handshakes against a TLS server holding `pair`, trusting only the test CA, as `localhost`. */
async function handshake(pair: KeyPair, ca: string, servername = 'localhost'): Promise<{ authorized: boolean; error?: string }> {
  const server = createServer({ key: pair.key, cert: pair.cert }, (socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise((resolve, reject) => {
      const socket: TLSSocket = connect({ port, host: '127.0.0.1', servername, ca, rejectUnauthorized: false }, () => {
        resolve({ authorized: socket.authorized, error: socket.authorizationError?.toString() });
        socket.destroy();
      });
      socket.once('error', reject);
    });
  } finally {
    server.close();
  }
}

describe('generateCertificates', () => {
  it('is memoised: one set per process', async () => {
    const [a, b] = await Promise.all([generateCertificates(), generateCertificates()]);
    expect(a).toBe(b);
  });

  it('makes a localhost server certificate signed by the CA, with SAN DNS:localhost and IP:127.0.0.1', async () => {
    const certs = await generateCertificates();
    const cert = new X509Certificate(certs.cert);
    const ca = new X509Certificate(certs.caCert);
    expect(cert.checkIssued(ca)).toBe(true);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1');
    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(certs.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(certs.fingerprint256).toBe(cert.fingerprint256);
    expect(await handshake({ key: certs.key, cert: certs.cert }, certs.caCert)).toEqual({ authorized: true, error: undefined });
  });

  it('makes a wrong-host certificate that fails hostname checks for localhost', async () => {
    const certs = await generateCertificates();
    const cert = new X509Certificate(certs.wrongHost.cert);
    expect(cert.checkIssued(new X509Certificate(certs.caCert))).toBe(true);
    expect(cert.checkHost('localhost')).toBeUndefined();
    expect(cert.checkHost('wrong.example')).toBe('wrong.example');
    expect(await handshake(certs.wrongHost, certs.caCert)).toEqual({ authorized: false, error: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });

  it('makes a self-signed certificate that the test CA does not vouch for', async () => {
    const certs = await generateCertificates();
    const cert = new X509Certificate(certs.selfSigned.cert);
    expect(cert.checkIssued(cert)).toBe(true);
    expect(cert.checkIssued(new X509Certificate(certs.caCert))).toBe(false);
    expect(await handshake(certs.selfSigned, certs.caCert)).toEqual({ authorized: false, error: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
  });

  it('makes an expired certificate signed by the CA', async () => {
    const certs = await generateCertificates();
    const cert = new X509Certificate(certs.expired.cert);
    expect(cert.checkIssued(new X509Certificate(certs.caCert))).toBe(true);
    expect(new Date(cert.validTo).getTime()).toBeLessThan(Date.now());
    expect(await handshake(certs.expired, certs.caCert)).toEqual({ authorized: false, error: 'CERT_HAS_EXPIRED' });
  });
});
