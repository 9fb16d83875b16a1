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


const PASS = 'pa55-w0rd-\u00fc';
const MAIL = { from: 'a@example.com', to: ['b@example.net'], data: 'Subject: auth\r\n\r\nhi\r\n' };

function authServer(extra: Parameters<typeof startTestServer>[0] = {}) {
  return startTestServer({
    key: certs.key,
    cert: certs.cert,
    authMethods: ['PLAIN', 'LOGIN', 'XOAUTH2', 'CRAM-MD5'],
    authOptional: false,
    onAuth(auth, _session, cb) {
      if (auth.method === 'XOAUTH2') {
        if (auth.accessToken === 'fresh-token') return cb(null, { user: auth.username });
        return cb(null, { data: { status: '401', schemes: 'bearer', scope: 'https://mail.google.com/' } });
      }
      if (auth.method === 'CRAM-MD5') {
        return auth.validatePassword(PASS) ? cb(null, { user: auth.username }) : cb(new Error('Invalid username or password'));
      }
      if (auth.username === 'alice' && auth.password === PASS) return cb(null, { user: 'alice' });
      return cb(new Error('Invalid username or password'));
    },
    ...extra,
  });
}

function secrets(events: TranscriptEvent[]): string {
  return events.map((e) => e.text).join('\n');
}

describe('AUTH against smtp-server over STARTTLS', () => {
  it.each(['PLAIN', 'LOGIN', 'CRAM-MD5'] as const)('%s: authenticates, sends, never logs the secret', async (method) => {
    server = await authServer();
    const events: TranscriptEvent[] = [];
    const s = await connect({
      host: '127.0.0.1',
      port: server.port,
      tls: 'starttls',
      ca: certs.caCert,
      auth: { user: 'alice', pass: PASS, method },
      onTranscript: (e) => events.push(e),
    });
    expect(s.authenticated).toBe(method);
    await s.send(MAIL);
    await s.quit();
    expect(server.messages[0]?.user).toBe('alice');
    const text = secrets(events);
    expect(text).not.toContain(PASS);
    expect(text).not.toContain(Buffer.from(`\0alice\0${PASS}`).toString('base64'));
    expect(text).not.toContain(Buffer.from(PASS).toString('base64'));
  });

  it('without a named method the strongest offered is used (CRAM-MD5 before PLAIN and LOGIN)', async () => {
    server = await authServer();
    const s = await connect({ host: '127.0.0.1', port: server.port, tls: 'starttls', ca: certs.caCert, auth: { user: 'alice', pass: PASS } });
    expect(s.authenticated).toBe('CRAM-MD5');
    await s.quit();
  });

  it('XOAUTH2: 334 + error JSON → empty response, 535, then the provider with refresh: true, once', async () => {
    server = await authServer();
    const calls: Array<{ user: string; refresh: boolean }> = [];
    const events: TranscriptEvent[] = [];
    const s = await connect({
      host: '127.0.0.1',
      port: server.port,
      tls: 'starttls',
      ca: certs.caCert,
      onTranscript: (e) => events.push(e),
      auth: {
        user: 'alice@example.com',
        accessToken: (ctx) => {
          calls.push(ctx);
          return ctx.refresh ? 'fresh-token' : 'stale-token';
        },
      },
    });
    expect(s.authenticated).toBe('XOAUTH2');
    expect(calls).toEqual([
      { user: 'alice@example.com', refresh: false },
      { user: 'alice@example.com', refresh: true },
    ]);
    await s.send(MAIL);
    await s.quit();
    const text = secrets(events);
    expect(text).not.toMatch(/stale-token|fresh-token/);
    expect(text).not.toContain(Buffer.from('user=alice@example.com\x01auth=Bearer fresh-token\x01\x01').toString('base64'));
  });

  it('XOAUTH2 with a fixed token that is refused → ERR_SMTP_AUTH_CREDENTIALS, token not in the error', async () => {
    server = await authServer();
    const e = await rejection(
      connect({ host: '127.0.0.1', port: server.port, tls: 'starttls', ca: certs.caCert, auth: { user: 'a', accessToken: 'stale-token' } }),
    );
    expect(e.kind).toBe('auth');
    expect(e.code).toBe('ERR_SMTP_AUTH_CREDENTIALS');
    expect(e.replyCode).toBe(535);
    expect(JSON.stringify(e)).not.toContain('stale-token');
  });

  it('a wrong password → 535, ERR_SMTP_AUTH_CREDENTIALS; the password is nowhere in the error', async () => {
    server = await authServer();
    const e = await rejection(
      sendMail({ host: '127.0.0.1', port: server.port, tls: 'starttls', ca: certs.caCert, auth: { user: 'alice', pass: 'nope-nope', method: 'PLAIN' }, ...MAIL }),
    );
    expect(e.code).toBe('ERR_SMTP_AUTH_CREDENTIALS');
    expect(e.command).toBe('AUTH PLAIN');
    expect(`${e.message} ${JSON.stringify(e)}`).not.toMatch(/nope-nope|AG5vcGU/);
    expect(server.messages).toHaveLength(0);
  });

  it('no password over plaintext unless allowInsecureAuth', async () => {
    server = await authServer({ hideSTARTTLS: true, allowInsecureAuth: true, record: true });
    const e = await rejection(connect({ host: '127.0.0.1', port: server.port, auth: { user: 'alice', pass: PASS } }));
    expect(e.kind).toBe('tls');
    expect(e.code).toBe('ERR_SMTP_INSECURE_AUTH');
    expect(server.clientBytes()).not.toContain('AUTH');
    const s = await connect({ host: '127.0.0.1', port: server.port, auth: { user: 'alice', pass: PASS, method: 'LOGIN' }, allowInsecureAuth: true });
    expect(s.authenticated).toBe('LOGIN');
    await s.quit();
  });
});

describe('AUTH failures: distinct codes and provider hints', () => {
  it.each([
    ['535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.', 'ERR_SMTP_AUTH_CREDENTIALS', /OAuth/],
    ['535 5.7.3 Authentication unsuccessful [BN0PR04CA0000.namprd04.prod.outlook.com]', 'ERR_SMTP_AUTH_CREDENTIALS', /app password|OAuth/],
    ['535 5.7.30 Basic authentication is not supported for Client Submission.', 'ERR_SMTP_AUTH_CREDENTIALS', /OAuth/],
    ['534-5.7.9 Application-specific password required.\r\n534 5.7.9 https://support.google.com/mail/?p=InvalidSecondFactor', 'ERR_SMTP_AUTH_WEAK_MECHANISM', /app password/],
    ['535-5.7.8 Username and Password not accepted.\r\n535 5.7.8 https://support.google.com/mail/?p=BadCredentials', 'ERR_SMTP_AUTH_CREDENTIALS', /app password/],
    ['454 4.7.0 Temporary authentication failure', 'ERR_SMTP_AUTH_TEMPORARY', undefined],
    ['530 5.7.0 Must issue a STARTTLS command first', 'ERR_SMTP_AUTH_REQUIRED', /starttls/],
  ])('%s', async (reply, code, hint) => {
    raw = await startRawServer(async (c) => {
      c.send('220 provider.test ESMTP\r\n');
      await c.waitFor(/EHLO/);
      c.send('250-provider.test\r\n250-ENHANCEDSTATUSCODES\r\n250 AUTH PLAIN LOGIN\r\n');
      await c.waitFor(/AUTH PLAIN .*\r\n/);
      c.send(`${reply}\r\n`);
      await c.waitFor(/QUIT/);
      c.send('221 bye\r\n');
    });
    const e = await rejection(connect({ host: '127.0.0.1', port: raw.port, tls: 'none', allowInsecureAuth: true, auth: { user: 'u', pass: 'p' } }));
    expect(e.kind).toBe('auth');
    expect(e.code).toBe(code);
    expect(e.retryable).toBe(reply.startsWith('4'));
    if (hint) expect(e.hint).toMatch(hint);
    else expect(e.hint).toBeUndefined();
  });
});
