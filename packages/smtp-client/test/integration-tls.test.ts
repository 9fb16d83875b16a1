import { X509Certificate } from 'node:crypto';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateCertificates, type TestCertificates } from '@smtpkit/testkit';
import { connect, sendMail } from '../src/index.js';
import type { TranscriptEvent } from '../src/transcript.js';
import { startRawServer, type RawServer } from './helpers/raw-server.js';
import { startTestServer, type TestServer } from './helpers/smtp-server.js';
import { rejection } from './helpers/rejection.js';

let certs: TestCertificates;
let server: TestServer | undefined;
let raw: RawServer | undefined;
beforeAll(async () => {
  certs = await generateCertificates();
});
afterEach(async () => {
  await server?.close();
  await raw?.close();
  server = undefined;
  raw = undefined;
});


const MAIL = { from: 'a@example.com', to: ['b@example.net'], data: 'Subject: tls\r\n\r\nsecret body\r\n' };

describe('STARTTLS and implicit TLS against smtp-server', () => {
  it('STARTTLS verified by the CA; EHLO again; the message arrives over TLS', async () => {
    server = await startTestServer({ key: certs.key, cert: certs.cert, hideREQUIRETLS: false });
    const events: TranscriptEvent[] = [];
    const s = await connect({ host: '127.0.0.1', port: server.port, tls: 'starttls', ca: certs.caCert, onTranscript: (e) => events.push(e) });
    expect(s.secure).toBe(true);
    expect(s.tls?.verified).toBe('ca');
    expect(s.tls?.protocol).toMatch(/^TLSv1\.[23]$/);
    expect(s.capabilities.starttls).toBe(false);
    expect(s.capabilities.requireTls).toBe(true);
    await s.send({ ...MAIL, requireTls: true });
    await s.quit();
    expect(server.messages[0]?.secure).toBe(true);
    expect(server.messages[0]?.data.toString()).toBe(MAIL.data);
    expect(server.messages[0]?.fromArgs).toMatchObject({ REQUIRETLS: true });
    const text = events.map((e) => `${e.dir}: ${e.text}`);
    expect(text.filter((l) => l.startsWith('C: EHLO'))).toHaveLength(2);
    expect(text.some((l) => l.startsWith('*: TLS up: TLSv1.'))).toBe(true);
  });

  it('implicit TLS (no SNI for an IP literal) verified by the CA', async () => {
    server = await startTestServer({ secure: true, key: certs.key, cert: certs.cert });
    const result = await sendMail({ host: '127.0.0.1', port: server.port, tls: 'implicit', ca: certs.caCert, ...MAIL });
    expect(result.accepted).toEqual(['b@example.net']);
    expect(server.messages[0]?.secure).toBe(true);
  });

  it('a pinned self-signed certificate is trusted; a wrong pin is a tls error', async () => {
    server = await startTestServer({ secure: true, key: certs.selfSigned.key, cert: certs.selfSigned.cert });
    const pin = new X509Certificate(certs.selfSigned.cert).fingerprint256;
    const s = await connect({ host: '127.0.0.1', port: server.port, tls: 'implicit', pin: pin.toLowerCase() });
    expect(s.tls?.verified).toBe('pin');
    expect(s.tls?.authorized).toBe(false);
    await s.quit();
    const e = await rejection(connect({ host: '127.0.0.1', port: server.port, tls: 'implicit', pin: certs.fingerprint256 }));
    expect(e.kind).toBe('tls');
    expect(e.code).toBe('ERR_SMTP_TLS_PIN_MISMATCH');
    expect(e.retryable).toBe(false);
  });

  it('an untrusted or wrong-host certificate is a tls error; rejectUnauthorized: false is reported', async () => {
    server = await startTestServer({ key: certs.wrongHost.key, cert: certs.wrongHost.cert });
    const untrusted = await rejection(connect({ host: '127.0.0.1', port: server.port, tls: 'starttls' }));
    expect(untrusted.kind).toBe('tls');
    expect(untrusted.code).toBe('ERR_SMTP_TLS_CERT');
    const wrongHost = await rejection(connect({ host: '127.0.0.1', port: server.port, tls: 'starttls', ca: certs.caCert }));
    expect(wrongHost.kind).toBe('tls');
    const events: TranscriptEvent[] = [];
    const s = await connect({
      host: '127.0.0.1',
      port: server.port,
      tls: 'starttls',
      rejectUnauthorized: false,
      onTranscript: (e) => events.push(e),
    });
    expect(s.tls?.verified).toBe('none');
    expect(events.some((e) => e.dir === '*' && e.text.startsWith('warning: rejectUnauthorized is false'))).toBe(true);
    await s.quit();
  });

  it('an expired certificate is a tls error even with the right CA', async () => {
    server = await startTestServer({ secure: true, key: certs.expired.key, cert: certs.expired.cert });
    const e = await rejection(connect({ host: '127.0.0.1', port: server.port, tls: 'implicit', ca: certs.caCert }));
    expect(e.kind).toBe('tls');
    expect(e.code).toBe('ERR_SMTP_TLS_CERT');
    expect(e.message).toMatch(/expired/i);
  });

  it("tls: 'starttls' fails before MAIL FROM when STARTTLS is not offered; 'opportunistic' goes on in plaintext", async () => {
    server = await startTestServer({ hideSTARTTLS: true, record: true });
    const e = await rejection(sendMail({ host: '127.0.0.1', port: server.port, tls: 'starttls', ...MAIL }));
    expect(e.kind).toBe('tls');
    expect(e.code).toBe('ERR_SMTP_STARTTLS_UNAVAILABLE');
    expect(e.retryable).toBe(false);
    expect(server.clientBytes()).not.toContain('MAIL FROM');
    const ok = await sendMail({ host: '127.0.0.1', port: server.port, tls: 'opportunistic', ...MAIL });
    expect(ok.accepted).toEqual(['b@example.net']);
  });

  it('STARTTLS refused: starttls mode fails, opportunistic continues', async () => {
    raw = await startRawServer(async (c) => {
      c.send('220 t ESMTP\r\n');
      await c.waitFor(/EHLO/);
      c.send('250-t\r\n250 STARTTLS\r\n');
      await c.waitFor(/STARTTLS\r\n/);
      c.send('454 4.7.0 TLS not available\r\n');
      await c.waitFor(/QUIT/);
      c.send('221 bye\r\n');
    });
    const e = await rejection(connect({ host: '127.0.0.1', port: raw.port, tls: 'starttls' }));
    expect(e.code).toBe('ERR_SMTP_STARTTLS_FAILED');
    expect(e.replyCode).toBe(454);
    expect(e.retryable).toBe(false);
    const s = await connect({ host: '127.0.0.1', port: raw.port, tls: 'opportunistic' });
    expect(s.secure).toBe(false);
    await s.quit();
  });

  it('TLS/port mismatch: implicit TLS against a plaintext server gets a wrong-version error naming starttls', async () => {
    server = await startTestServer({ hideSTARTTLS: true });
    const e = await rejection(connect({ host: '127.0.0.1', port: server.port, tls: 'implicit', timeouts: { connect: 5000 } }));
    expect(e.kind).toBe('tls');
    expect(e.code).toBe('ERR_SMTP_TLS_WRONG_VERSION');
    expect(e.hint).toContain("tls: 'starttls'");
  });

  it('TLS/port mismatch: plaintext against an implicit-TLS server times out with a hint naming implicit', async () => {
    server = await startTestServer({ secure: true, key: certs.key, cert: certs.cert });
    const e = await rejection(connect({ host: '127.0.0.1', port: server.port, tls: 'none', timeouts: { greeting: 300 } }));
    expect(e.kind).toBe('timeout');
    expect(e.hint).toContain("tls: 'implicit'");
  });

  it('REQUIRETLS without TLS is refused before anything is sent', async () => {
    server = await startTestServer({ hideSTARTTLS: true, record: true });
    const s = await connect({ host: '127.0.0.1', port: server.port });
    const e = await rejection(s.send({ ...MAIL, requireTls: true }));
    expect(e.kind).toBe('tls');
    expect(e.code).toBe('ERR_SMTP_REQUIRETLS_UNSUPPORTED');
    await s.quit();
    expect(server.clientBytes()).not.toContain('MAIL FROM');
  });
});

