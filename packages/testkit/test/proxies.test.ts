import { createPrivateKey, X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort, generateCertificates, generateClientCertificate, startDante, startSilentServer, startTinyproxy } from '../src/index.js';
import { isAlive } from './alive.js';

/** Write `bytes`, then collect what comes back until `n` octets or the peer closes (bounded). */
async function exchange(port: number, bytes: Buffer | string, n: number, waitMs = 5000): Promise<Buffer> {
  const socket: Socket = connect(port, '127.0.0.1');
  try {
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    socket.write(bytes);
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, waitMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      socket.on('data', (c: Buffer) => {
        chunks.push(c);
        if (Buffer.concat(chunks).length >= n) done();
      });
      socket.on('close', done);
      socket.on('error', done);
    });
    return Buffer.concat(chunks);
  } finally {
    socket.destroy();
  }
}

describe('startDante', () => {
  it('speaks SOCKS5: no authentication, or user/password when asked to; stops by PID', async () => {
    const open = await startDante();
    const locked = await startDante({ auth: { user: 'smtpkit-proxy', pass: 'pr0xy-pass' } });
    try {
      expect(open.url).toBe(`socks5://127.0.0.1:${open.port}`);
      expect([...(await exchange(open.port, Buffer.from([5, 1, 0]), 2))]).toEqual([5, 0]);
      expect([...(await exchange(locked.port, Buffer.from([5, 2, 0, 2]), 2))]).toEqual([5, 2]);
      expect([...(await exchange(locked.port, Buffer.from([5, 1, 0]), 2))]).toEqual([5, 0xff]);
    } finally {
      await Promise.all([open.stop(), locked.stop()]);
    }
    expect(isAlive(open.pid)).toBe(false);
    expect(isAlive(locked.pid)).toBe(false);
  });
});

describe('startTinyproxy', () => {
  it('answers CONNECT: 403 outside ConnectPort, 407 without credentials', async () => {
    const allowed = await freePort();
    const proxy = await startTinyproxy({ connectPorts: [allowed] });
    const locked = await startTinyproxy({ auth: { user: 'u', pass: 'p' } });
    try {
      const other = (await exchange(proxy.port, `CONNECT 127.0.0.1:${allowed + 1} HTTP/1.1\r\nHost: x\r\n\r\n`, 12)).toString('latin1');
      expect(other).toMatch(/^HTTP\/1\.[01] 403 /);
      const anonymous = (await exchange(locked.port, 'CONNECT 127.0.0.1:25 HTTP/1.1\r\nHost: x\r\n\r\n', 12)).toString('latin1');
      expect(anonymous).toMatch(/^HTTP\/1\.[01] 407 /);
    } finally {
      await Promise.all([proxy.stop(), locked.stop()]);
    }
    expect(isAlive(proxy.pid)).toBe(false);
  });
});

describe('startSilentServer', () => {
  it('accepts and says nothing', async () => {
    const silent = await startSilentServer();
    try {
      expect((await exchange(silent.port, 'hello', 1, 300)).length).toBe(0);
      expect(silent.connections()).toBe(1);
    } finally {
      await silent.stop();
    }
  });
});

describe('generateClientCertificate', () => {
  it('issues a clientAuth certificate the test CA signed, with its key in PEM, encrypted PEM and PKCS#12', async () => {
    const certs = await generateCertificates();
    const client = await generateClientCertificate(certs, { commonName: 'alice@example.com' });
    const cert = new X509Certificate(client.cert);
    const ca = new X509Certificate(certs.caCert);
    expect(cert.subject).toBe('CN=alice@example.com');
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.keyUsage).toContain('1.3.6.1.5.5.7.3.2'); // id-kp-clientAuth
    expect(cert.checkPrivateKey(createPrivateKey(client.key))).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey({ key: client.encryptedKey, passphrase: client.passphrase }))).toBe(true);
    expect(() => createPrivateKey(client.encryptedKey)).toThrow();
    expect(() => createSecureContext({ pfx: client.pfx, passphrase: client.passphrase })).not.toThrow();
    expect(client.fingerprint256).toBe(cert.fingerprint256);
    const stranger = await generateClientCertificate(certs, { issuer: certs.selfSigned });
    expect(new X509Certificate(stranger.cert).verify(ca.publicKey)).toBe(false);
  });
});
