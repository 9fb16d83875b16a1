import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  dovecotClientCertificateConf, generateCertificates, generateClientCertificate, startDovecot, startSmtpSink,
  type ClientCertificate, type DovecotServer, type SmtpSink, type TestCertificates,
} from '@smtpkit/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../src/index.js';
import type { ConnectOptions } from '../src/types.js';

// A private Dovecot 2.3 submission service (relaying to smtp-sink) checks SCRAM-SHA-256 and SCRAM-SHA-1
// against its passwd-file, and AUTH EXTERNAL against the TLS client certificate (its CN names the user).

const MESSAGE = 'From: alice@example.com\r\nTo: bob@example.com\r\nSubject: scram\r\n\r\nHello.\r\n';
let certs: TestCertificates;
let alice: ClientCertificate;
let stranger: ClientCertificate;
let sink: SmtpSink;
let dovecot: DovecotServer;
let caDir: string;

beforeAll(async () => {
  certs = await generateCertificates();
  [alice, stranger] = await Promise.all([
    generateClientCertificate(certs, { commonName: 'alice@example.com' }),
    generateClientCertificate(certs, { commonName: 'alice@example.com', issuer: certs.selfSigned }),
  ]);
  caDir = await mkdtemp(join(tmpdir(), 'smtpkit-client-ca-'));
  await writeFile(join(caDir, 'ca.crt'), certs.caCert);
  sink = await startSmtpSink();
  dovecot = await startDovecot({
    submission: { relayPort: sink.port },
    certs,
    mechanisms: ['plain', 'cram-md5', 'scram-sha-1', 'scram-sha-256', 'external'],
    extraConf: dovecotClientCertificateConf(join(caDir, 'ca.crt')),
  });
});

afterAll(async () => {
  await Promise.all([dovecot?.stop(), sink?.stop()]);
  if (caDir) await rm(caDir, { recursive: true, force: true });
});

const options = (extra: Partial<ConnectOptions>): ConnectOptions => ({
  host: '127.0.0.1', port: dovecot.submissionPort as number, tls: 'starttls', servername: 'localhost', ca: certs.caCert, ...extra,
});

describe('SCRAM against Dovecot', () => {
  it('chooses SCRAM-SHA-256 by itself over CRAM-MD5 and PLAIN, verifies the server, and sends', async () => {
    const lines: string[] = [];
    const session = await connect(options({ auth: { user: 'alice@example.com', pass: 'alice-password' }, onTranscript: (e) => lines.push(`${e.dir}: ${e.text}`) }));
    expect(session.authenticated).toBe('SCRAM-SHA-256');
    const result = await session.send({ from: 'alice@example.com', to: ['bob@example.com'], data: MESSAGE });
    expect(result.accepted).toEqual(['bob@example.com']);
    await session.quit();
    expect(lines).toContain('C: AUTH SCRAM-SHA-256 <redacted>');
    expect(lines.join('\n')).not.toContain('alice-password');
    expect(await dovecot.log()).toMatch(/Login: user=<alice@example\.com>, method=SCRAM-SHA-256/);
  });

  it('SCRAM-SHA-1 when asked for', async () => {
    const session = await connect(options({ auth: { user: 'bob@example.com', pass: 'bob-password', method: 'SCRAM-SHA-1' }, stopAfter: 'auth' }));
    expect(session.authenticated).toBe('SCRAM-SHA-1');
  });

  it('a wrong password is 535, ERR_SMTP_AUTH_CREDENTIALS', async () => {
    await expect(connect(options({ auth: { user: 'alice@example.com', pass: 'wrong', method: 'SCRAM-SHA-256' } }))).rejects.toMatchObject({
      kind: 'auth', code: 'ERR_SMTP_AUTH_CREDENTIALS', replyCode: 535,
    });
  });

  it('-PLUS forced where the server does not offer it is refused by the server, not faked', async () => {
    await expect(
      connect(options({ auth: { user: 'alice@example.com', pass: 'alice-password', method: 'SCRAM-SHA-256-PLUS' } })),
    ).rejects.toMatchObject({ kind: 'auth' });
  });
});

describe('AUTH EXTERNAL against Dovecot (RFC 4422 appendix A)', () => {
  it('the client certificate authenticates alice; the authorization identity left empty', async () => {
    const session = await connect(options({ cert: alice.cert, key: alice.key, auth: { user: '', method: 'EXTERNAL' } }));
    expect(session.authenticated).toBe('EXTERNAL');
    const result = await session.send({ from: 'alice@example.com', to: ['bob@example.com'], data: MESSAGE });
    expect(result.accepted).toEqual(['bob@example.com']);
    await session.quit();
    expect(await dovecot.log()).toMatch(/Login: user=<alice@example\.com>, method=EXTERNAL/);
  });

  it('with the authorization identity named', async () => {
    const session = await connect(options({ cert: alice.cert, key: alice.key, auth: { user: 'alice@example.com', method: 'EXTERNAL' }, stopAfter: 'auth' }));
    expect(session.authenticated).toBe('EXTERNAL');
  });

  it('refused without a certificate, and with one the CA did not sign', async () => {
    await expect(connect(options({ auth: { user: '', method: 'EXTERNAL' } }))).rejects.toMatchObject({ kind: 'auth', replyCode: 535 });
    await expect(connect(options({ cert: stranger.cert, key: stranger.key, auth: { user: '', method: 'EXTERNAL' } }))).rejects.toMatchObject({
      kind: 'auth', replyCode: 535,
    });
  });

  it('never over a connection without TLS', async () => {
    await expect(
      connect(options({ tls: 'none', allowInsecureAuth: true, auth: { user: '', method: 'EXTERNAL' } })),
    ).rejects.toMatchObject({ code: 'ERR_SMTP_AUTH_EXTERNAL' });
  });
});
