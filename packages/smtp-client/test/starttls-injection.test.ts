import { afterEach, describe, expect, it } from 'vitest';
import { isSmtpError, type SmtpError } from '@smtpkit/wire';
import { connect } from '../src/index.js';
import { startRawServer, type RawServer } from './helpers/raw-server.js';

let server: RawServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

// RFC 3207 §4.2 / GHSA-vxj7-4xrp-5vr4: bytes that arrive in plaintext after the STARTTLS 220
// must never be taken as replies on the TLS session.
describe('STARTTLS response injection', () => {
  it.each([
    ['an extra reply in the same segment', '220 go ahead\r\n250 injected\r\n'],
    ['a partial reply after the 220', '220 go ahead\r\n250-inj'],
  ])('%s → protocol error, nothing more sent', async (_name, segment) => {
    let closed: Promise<void> | undefined;
    server = await startRawServer(async (c) => {
      closed = c.closed;
      c.send('220 hostile.test ESMTP\r\n');
      await c.waitFor(/EHLO/);
      c.send('250-hostile.test\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n');
      await c.waitFor(/STARTTLS\r\n/);
      c.send(segment);
    });
    const e = await connect({
      host: '127.0.0.1',
      port: server.port,
      tls: 'starttls',
      auth: { user: 'u', pass: 'p' },
      timeouts: { starttls: 2000 },
    }).then(
      () => {
        throw new Error('expected a rejection');
      },
      (err: unknown) => err,
    );
    expect(isSmtpError(e)).toBe(true);
    expect((e as SmtpError).kind).toBe('protocol');
    expect((e as SmtpError).code).toBe('ERR_SMTP_STARTTLS_INJECTION');
    await closed;
    // No ClientHello, no QUIT, no AUTH: the client hung up right after the 220.
    expect(server.received().toString('latin1')).toBe('EHLO localhost\r\nSTARTTLS\r\n');
  });
});
