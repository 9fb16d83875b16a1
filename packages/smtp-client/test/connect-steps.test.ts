import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateCertificates, type TestCertificates } from '@smtpkit/testkit';
import { connect } from '../src/index.js';
import type { TranscriptEvent } from '../src/transcript.js';
import { smtpReject, startTestServer, type TestServer } from './helpers/smtp-server.js';

let certs: TestCertificates;
let server: TestServer | undefined;
beforeAll(async () => {
  certs = await generateCertificates();
});
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const PASS = 'hunter2hunter2';

describe('connect: addresses and stopAfter', () => {
  it('a host name: every address is tried until one answers, each attempt in the transcript', async () => {
    server = await startTestServer({ hideSTARTTLS: true });
    const events: TranscriptEvent[] = [];
    const s = await connect({ host: 'localhost', port: server.port, onTranscript: (e) => events.push(e) });
    await s.quit();
    const notes = events.filter((e) => e.dir === '*').map((e) => e.text);
    expect(notes[0]).toBe(`connecting to localhost:${server.port}`);
    expect(notes).toContain(`connected to 127.0.0.1:${server.port}`);
    expect(s.remote).toBe(`127.0.0.1:${server.port}`);
  });

  it.each([
    ['connect', '', { greeting: 0, secure: false, authenticated: null }],
    ['greeting', 'QUIT\r\n', { greeting: 220, secure: false, authenticated: null }],
    ['ehlo', 'EHLO localhost\r\nQUIT\r\n', { greeting: 220, secure: false, authenticated: null }],
  ] as const)('stopAfter %s (plaintext): QUIT, resolve in that state', async (stop, bytes, state) => {
    server = await startTestServer({ hideSTARTTLS: true, record: true });
    const s = await connect({ host: '127.0.0.1', port: server.port, stopAfter: stop });
    expect(s.usable).toBe(false);
    expect(s.greeting.code).toBe(state.greeting);
    expect(s.secure).toBe(state.secure);
    await new Promise((r) => setTimeout(r, 50));
    expect(server.clientBytes()).toBe(bytes);
  });

  it.each([
    ['tls', null],
    ['auth', 'PLAIN'],
  ] as const)('stopAfter %s over STARTTLS', async (stop, authenticated) => {
    server = await startTestServer({
      key: certs.key,
      cert: certs.cert,
      authMethods: ['PLAIN'],
      onAuth: (auth, _s, cb) => (auth.password === PASS ? cb(null, { user: auth.username }) : cb(new Error('no'))),
    });
    const s = await connect({
      host: '127.0.0.1',
      port: server.port,
      tls: 'starttls',
      ca: certs.caCert,
      auth: { user: 'u', pass: PASS },
      stopAfter: stop,
    });
    expect(s.secure).toBe(true);
    expect(s.tls?.verified).toBe('ca');
    expect(s.authenticated).toBe(authenticated);
    expect(s.capabilities.auth).toEqual(['PLAIN']);
  });

  it('421 from smtp-server at RCPT: retryable, session unusable', async () => {
    server = await startTestServer({ hideSTARTTLS: true, rejectRcpt: () => smtpReject(421, 'shutting down') });
    const s = await connect({ host: '127.0.0.1', port: server.port, pipelining: 'never' });
    const e = await s.send({ from: 'a@example.com', to: ['b@example.net'], data: 'x\r\n' }).catch((err: unknown) => err);
    expect(e).toMatchObject({ replyCode: 421, retryable: true, code: 'ERR_SMTP_SERVICE_UNAVAILABLE' });
    expect(s.usable).toBe(false);
    await s.quit();
  });
});
