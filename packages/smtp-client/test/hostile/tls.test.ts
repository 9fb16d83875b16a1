// Hostile TLS: STARTTLS missing or refused, response injection, certificates that must be
// refused unless trusted through `ca` or `pin`, TLS/plaintext port mix-ups, and AUTH that a
// server offers only in plaintext.
import { generateCertificates, type TestCertificates } from '@smtpkit/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/index.js';
import { scenarios, type FaultServer, type FaultStep } from '../../src/testing.js';
import { clientBytes, expectFailure, expectSent, FROM, MESSAGE, outcomeOf, send, serve, SHORT_TIMEOUTS, TO, useHostileHooks } from './harness.js';

useHostileHooks();

let certs: TestCertificates;
beforeAll(async () => {
  certs = await generateCertificates();
});

/** Bytes the client sent in plaintext / inside TLS on the first connection. */
function plaintext(server: FaultServer): string {
  return Buffer.concat((server.connections[0]?.chunks ?? []).filter((c) => !c.tls).map((c) => c.data)).toString('latin1');
}
function encrypted(server: FaultServer): string {
  return Buffer.concat((server.connections[0]?.chunks ?? []).filter((c) => c.tls).map((c) => c.data)).toString('latin1');
}

/** Greeting, EHLO offering STARTTLS, the upgrade, EHLO again, one message, QUIT. */
function tlsSession(): FaultStep[] {
  return [
    ...scenarios.plainGreeting(),
    ...scenarios.ehlo({ starttls: true }),
    ...scenarios.startTls(),
    ...scenarios.acceptMessage(),
    ...scenarios.quit(),
  ];
}

describe('STARTTLS offered or not', () => {
  it("not offered, tls: 'starttls': ERR_SMTP_STARTTLS_UNAVAILABLE, nothing after EHLO but QUIT", async () => {
    const server = await serve([...scenarios.plainGreeting(), ...scenarios.ehlo(), { answerRemaining: true }]);
    expectFailure(await send(server, { tls: 'starttls' }), { kind: 'tls', code: 'ERR_SMTP_STARTTLS_UNAVAILABLE', retryable: false });
    expect(clientBytes(server)).toMatch(/^EHLO [^\r\n]+\r\n(QUIT\r\n)?$/);
  });

  it("not offered, tls: 'opportunistic': sent in plaintext, reported as such (tls null, transcript note)", async () => {
    const server = await serve([...scenarios.plainGreeting(), ...scenarios.ehlo(), ...scenarios.acceptMessage(), ...scenarios.quit()]);
    const notes: string[] = [];
    const o = await outcomeOf(async (onTranscript) => {
      const session = await connect({
        host: server.host,
        port: server.port,
        tls: 'opportunistic',
        timeouts: SHORT_TIMEOUTS,
        onTranscript: (e) => {
          if (e.dir === '*') notes.push(e.text);
          onTranscript?.(e);
        },
      });
      expect(session.secure).toBe(false);
      expect(session.tls).toBeNull();
      try {
        return await session.send({ from: FROM, to: [TO], data: MESSAGE });
      } finally {
        await session.quit();
      }
    });
    expectSent(o);
    expect(notes.some((n) => /without tls/i.test(n))).toBe(true);
  });

  it("454 to STARTTLS, tls: 'starttls': ERR_SMTP_STARTTLS_FAILED 454, nothing after STARTTLS but QUIT", async () => {
    const server = await serve([
      ...scenarios.plainGreeting(),
      ...scenarios.ehlo({ starttls: true }),
      { expect: /^STARTTLS$/i },
      { send: '454 4.7.0 TLS not available due to local problem\r\n' },
      { answerRemaining: true },
    ]);
    expectFailure(await send(server, { tls: 'starttls', ca: certs.caCert }), {
      kind: 'tls',
      code: 'ERR_SMTP_STARTTLS_FAILED',
      replyCode: 454,
      retryable: false,
    });
    expect(clientBytes(server)).toMatch(/^EHLO [^\r\n]+\r\nSTARTTLS\r\n(QUIT\r\n)?$/);
  });

  it('the STARTTLS response injection ("220 go ahead\\r\\n250 injected\\r\\n"): ERR_SMTP_STARTTLS_INJECTION, no handshake, nothing more sent', async () => {
    const server = await serve(
      [
        ...scenarios.plainGreeting(),
        ...scenarios.ehlo({ starttls: true }),
        { expect: /^STARTTLS$/i },
        { upgradeTls: true, reply: '220 go ahead\r\n', injectPlaintext: '250 injected\r\n', timeoutMs: 3000 },
        ...scenarios.ehlo(),
        ...scenarios.acceptMessage(),
      ],
      { tls: { key: certs.key, cert: certs.cert } },
    );
    expectFailure(await send(server, { tls: 'starttls', ca: certs.caCert }), { kind: 'protocol', code: 'ERR_SMTP_STARTTLS_INJECTION', retryable: false });
    await server.close();
    expect(server.connections[0]?.tls).toBe(false);
    expect(plaintext(server)).toMatch(/^EHLO [^\r\n]+\r\nSTARTTLS\r\n$/);
  });

  it('a good certificate verified through ca: sent over TLS, nothing but EHLO and STARTTLS in plaintext', async () => {
    const server = await serve(tlsSession(), { tls: { key: certs.key, cert: certs.cert } });
    expectSent(await send(server, { tls: 'starttls', ca: certs.caCert, servername: 'localhost' }));
    expect(plaintext(server)).toMatch(/^EHLO [^\r\n]+\r\nSTARTTLS\r\n$/);
    expect(encrypted(server)).toMatch(/^EHLO [^\r\n]+\r\nMAIL FROM:/);
    expect(server.connections[0]?.scriptError).toBeUndefined();
  });
});

describe('certificates', () => {
  const refused = [
    { name: 'wrong-host', pair: () => certs.wrongHost },
    { name: 'self-signed', pair: () => certs.selfSigned },
    { name: 'expired', pair: () => certs.expired },
  ];

  it.each(refused)('$name certificate with only the test CA trusted: ERR_SMTP_TLS_CERT, nothing sent inside TLS', async ({ pair }) => {
    const server = await serve(tlsSession(), { tls: pair() });
    expectFailure(await send(server, { tls: 'starttls', ca: certs.caCert, servername: 'localhost' }), { kind: 'tls', code: 'ERR_SMTP_TLS_CERT', retryable: false });
    await server.close();
    expect(server.connections[0]?.tls).toBe(false);
    expect(encrypted(server)).toBe('');
    expect(plaintext(server)).toMatch(/^EHLO [^\r\n]+\r\nSTARTTLS\r\n/);
    expect(plaintext(server)).not.toMatch(/MAIL|AUTH/);
  });

  it.each(refused)('$name certificate with implicit TLS: ERR_SMTP_TLS_CERT, nothing sent', async ({ pair }) => {
    const server = await serve([...scenarios.plainGreeting(), ...scenarios.ehlo(), ...scenarios.acceptMessage()], { tls: pair(), implicitTls: true });
    expectFailure(await send(server, { tls: 'implicit', ca: certs.caCert, servername: 'localhost' }), { kind: 'tls', code: 'ERR_SMTP_TLS_CERT' });
    expect(clientBytes(server)).toBe('');
  });

  it('self-signed certificate trusted by passing it as ca: sent, verified by ca', async () => {
    const server = await serve(tlsSession(), { tls: certs.selfSigned });
    expectSent(await send(server, { tls: 'starttls', ca: certs.selfSigned.cert, servername: 'localhost' }));
  });

  it.each(refused)('$name certificate trusted by pin: sent', async ({ pair }) => {
    const { X509Certificate } = await import('node:crypto');
    const pin = new X509Certificate(pair().cert).fingerprint256;
    const server = await serve(tlsSession(), { tls: pair() });
    expectSent(await send(server, { tls: 'starttls', pin, servername: 'localhost' }));
    expect(encrypted(server)).toMatch(/MAIL FROM:/);
  });

  it('a pin that does not match a CA-valid certificate: ERR_SMTP_TLS_PIN_MISMATCH, nothing sent inside TLS', async () => {
    const server = await serve(tlsSession(), { tls: { key: certs.key, cert: certs.cert } });
    const wrongPin = 'AB'.repeat(32);
    expectFailure(await send(server, { tls: 'starttls', ca: certs.caCert, pin: wrongPin, servername: 'localhost' }), {
      kind: 'tls',
      code: 'ERR_SMTP_TLS_PIN_MISMATCH',
    });
    expect(encrypted(server)).toBe('');
  });
});

describe('port mix-ups', () => {
  it("TLS spoken to a plaintext port (tls: 'implicit' against a 220 greeting): ERR_SMTP_TLS_WRONG_VERSION with the starttls hint", async () => {
    const server = await serve([...scenarios.plainGreeting(), { stall: true }]);
    const error = expectFailure(await send(server, { tls: 'implicit', ca: certs.caCert }), { kind: 'tls', code: 'ERR_SMTP_TLS_WRONG_VERSION' });
    expect(error.hint).toMatch(/starttls/);
    // At most a TLS ClientHello went out: no SMTP command in plaintext.
    for (let i = 0; i < 100 && server.received().length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(server.received()[0]).toBe(0x16);
    expect(clientBytes(server)).not.toMatch(/EHLO|MAIL/);
  });

  it("plaintext spoken to an implicit-TLS port (tls: 'none'): greeting timeout with the implicit hint, nothing sent", async () => {
    const server = await serve([...scenarios.plainGreeting()], { tls: { key: certs.key, cert: certs.cert }, implicitTls: true });
    const error = expectFailure(await send(server, { tls: 'none' }), { kind: 'timeout', code: 'ERR_SMTP_TIMEOUT' });
    expect(error.hint).toMatch(/implicit/);
    expect(clientBytes(server)).toBe('');
  });
});

describe('AUTH offered only before TLS', () => {
  it("AUTH in the plaintext EHLO only, tls: 'starttls': never sent in plaintext; after TLS none offered → ERR_SMTP_AUTH_UNSUPPORTED", async () => {
    const server = await serve(
      [
        ...scenarios.plainGreeting(),
        ...scenarios.ehlo({ starttls: true, auth: ['PLAIN', 'LOGIN'] }),
        { expect: /^STARTTLS$/i },
        { upgradeTls: true },
        ...scenarios.ehlo(),
        { answerRemaining: true },
      ],
      { tls: { key: certs.key, cert: certs.cert } },
    );
    expectFailure(await send(server, { tls: 'starttls', ca: certs.caCert, servername: 'localhost', auth: { user: 'user', pass: 'secret-password' } }), {
      kind: 'auth',
      code: 'ERR_SMTP_AUTH_UNSUPPORTED',
      retryable: false,
    });
    expect(plaintext(server)).not.toMatch(/AUTH/);
    expect(clientBytes(server)).not.toMatch(/AUTH/);
    expect(clientBytes(server)).not.toContain(Buffer.from('\0user\0secret-password').toString('base64'));
  });

  it("AUTH offered, STARTTLS not, tls: 'opportunistic': ERR_SMTP_INSECURE_AUTH, no AUTH sent", async () => {
    const server = await serve([...scenarios.plainGreeting(), ...scenarios.ehlo({ auth: ['PLAIN', 'LOGIN'] }), { answerRemaining: true }]);
    expectFailure(await send(server, { tls: 'opportunistic', auth: { user: 'user', pass: 'secret-password' } }), {
      kind: 'tls',
      code: 'ERR_SMTP_INSECURE_AUTH',
      retryable: false,
    });
    expect(clientBytes(server)).not.toMatch(/AUTH|MAIL/);
  });

  it("STARTTLS stripped by a 454, tls: 'opportunistic' with auth: ERR_SMTP_INSECURE_AUTH, no AUTH sent", async () => {
    const server = await serve([
      ...scenarios.plainGreeting(),
      ...scenarios.ehlo({ starttls: true, auth: ['PLAIN'] }),
      { expect: /^STARTTLS$/i },
      { send: '454 4.7.0 TLS not available\r\n' },
      { answerRemaining: true },
    ]);
    expectFailure(await send(server, { tls: 'opportunistic', auth: { user: 'user', pass: 'secret-password' } }), {
      kind: 'tls',
      code: 'ERR_SMTP_INSECURE_AUTH',
    });
    expect(clientBytes(server)).not.toMatch(/AUTH|MAIL/);
  });
});
