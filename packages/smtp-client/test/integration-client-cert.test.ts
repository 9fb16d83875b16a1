import { generateCertificates, generateClientCertificate, startPostfix, type ClientCertificate, type PostfixServer, type TestCertificates } from '@smtpkit/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, sendMail } from '../src/index.js';
import type { ConnectOptions } from '../src/types.js';

// A private Postfix that asks for a client certificate (smtpd_tls_ask_ccert) and accepts mail only from
// clients whose certificate the test CA signed (permit_tls_all_clientcerts); one that requires it.

const MESSAGE = 'From: a@example.com\r\nTo: b@example.net\r\nSubject: client certificate\r\n\r\nHello.\r\n';
/** Postfix's answer to RCPT from a client without a trusted certificate. */
const CLIENT_REJECTED = {
  code: 'ERR_SMTP_RECIPIENTS_REJECTED',
  replyCode: 554,
  message: expect.stringMatching(/Client host rejected: Access denied/),
};
let certs: TestCertificates;
let client: ClientCertificate;
let stranger: ClientCertificate;
let postfix: PostfixServer;
let strict: PostfixServer;

beforeAll(async () => {
  certs = await generateCertificates();
  [client, stranger] = await Promise.all([
    generateClientCertificate(certs, { commonName: 'relay-client.example' }),
    generateClientCertificate(certs, { commonName: 'stranger.example', issuer: certs.selfSigned }),
  ]);
  [postfix, strict] = await Promise.all([
    startPostfix({ tls: 'may', certs, clientCertificates: 'ask' }),
    startPostfix({ tls: 'encrypt', certs, clientCertificates: 'require' }),
  ]);
});

afterAll(async () => {
  await Promise.all([postfix?.stop(), strict?.stop()]);
});

const base = (server: PostfixServer): ConnectOptions => ({ host: '127.0.0.1', port: server.port, tls: 'starttls', servername: 'localhost', ca: certs.caCert });
const send = (server: PostfixServer, extra: Partial<ConnectOptions>) =>
  sendMail({ ...base(server), ...extra, from: 'a@example.com', to: ['b@example.net'], data: MESSAGE });

describe('TLS client certificates against Postfix (smtpd_tls_ask_ccert)', () => {
  it('accepted with the CA-signed certificate and key (PEM); Postfix logs it as trusted', async () => {
    const before = (await postfix.messages()).length;
    const result = await send(postfix, { cert: client.cert, key: client.key });
    expect(result.accepted).toEqual(['b@example.net']);
    await postfix.waitForMessages(before + 1);
    expect(await postfix.log()).toMatch(/Trusted TLS connection established from \S+\[127\.0\.0\.1\]: .* client-signature ECDSA/);
  });

  it('accepted with the key encrypted and its passphrase, and with a PKCS#12 bundle', async () => {
    expect((await send(postfix, { cert: client.cert, key: client.encryptedKey, passphrase: client.passphrase })).accepted).toEqual(['b@example.net']);
    expect((await send(postfix, { pfx: client.pfx, passphrase: client.passphrase })).accepted).toEqual(['b@example.net']);
  });

  it('refused without a certificate: the recipient is rejected and nothing is sent', async () => {
    await expect(send(postfix, {})).rejects.toMatchObject(CLIENT_REJECTED);
  });

  it('refused with a certificate the CA did not sign', async () => {
    await expect(send(postfix, { cert: stranger.cert, key: stranger.key })).rejects.toMatchObject(CLIENT_REJECTED);
  });

  it('smtpd_tls_req_ccert: no certificate, no session; with it, the message goes', async () => {
    await expect(send(strict, {})).rejects.toMatchObject({
      code: 'ERR_SMTP_SERVICE_UNAVAILABLE', replyCode: 421, message: expect.stringMatching(/No client certificate presented/),
    });
    expect((await send(strict, { cert: client.cert, key: client.key })).accepted).toEqual(['b@example.net']);
  });
});

describe('client certificate input errors, before any connection', () => {
  it.each([
    ['a wrong passphrase', () => ({ cert: client.cert, key: client.encryptedKey, passphrase: 'wrong' }), /could not be decrypted with the given passphrase/],
    ['an encrypted key without passphrase', () => ({ cert: client.cert, key: client.encryptedKey }), /encrypted and no passphrase was given/],
    ['a key of another certificate', () => ({ cert: client.cert, key: stranger.key }), /does not belong to the client certificate/],
    ['cert without key', () => ({ cert: client.cert }), /`cert` is set without its `key`/],
    ['cert and pfx', () => ({ cert: client.cert, key: client.key, pfx: client.pfx }), /not both/],
    ['a pfx with a wrong passphrase', () => ({ pfx: client.pfx, passphrase: 'wrong' }), /could not be decrypted/],
  ])('%s', async (_name, options, message) => {
    await expect(connect({ host: '127.0.0.1', port: 9, tls: 'starttls', ...options() })).rejects.toMatchObject({
      kind: 'input', code: 'ERR_SMTP_CLIENT_CERT', message: expect.stringMatching(message),
    });
  });
});
