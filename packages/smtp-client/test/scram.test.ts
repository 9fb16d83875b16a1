import { X509Certificate, createHash } from 'node:crypto';
import { generateCertificates } from '@smtpkit/testkit';
import { describe, expect, it } from 'vitest';
import { chooseMechanism } from '../src/auth.js';
import { upgradeToPlus } from '../src/auth-scram.js';
import { certificateSignatureHash, serverEndPoint } from '../src/channel-binding.js';
import { ScramClient, encodeSaslName, saslPrep } from '../src/scram.js';

describe('SCRAM (RFC 5802, RFC 7677) test vectors', () => {
  it('SCRAM-SHA-1: the RFC 5802 §5 exchange', async () => {
    const scram = new ScramClient('sha1', 'user', 'pencil', { kind: 'none' }, 'fyko+d2lbbFgONRv9qkxdawL');
    expect(scram.clientFirst()).toBe('n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL');
    const final = await scram.clientFinal('r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096');
    expect(final).toBe('c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=');
    expect(() => scram.verifyServer('v=rmF9pqV8S7suAoZWja4dJRkFsKQ=')).not.toThrow();
  });

  it('SCRAM-SHA-256: the RFC 7677 §3 exchange', async () => {
    const scram = new ScramClient('sha256', 'user', 'pencil', { kind: 'none' }, 'rOprNGfwEbeRWgbNEkqO');
    expect(scram.clientFirst()).toBe('n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
    const final = await scram.clientFinal('r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096');
    expect(final).toBe('c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=');
    expect(() => scram.verifyServer('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=')).not.toThrow();
  });

  it('a wrong server signature fails the exchange (the server does not know the password)', async () => {
    const scram = new ScramClient('sha256', 'user', 'pencil', { kind: 'none' }, 'rOprNGfwEbeRWgbNEkqO');
    scram.clientFirst();
    await scram.clientFinal('r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096');
    expect(() => scram.verifyServer('v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=')).toThrow(
      expect.objectContaining({ kind: 'auth', code: 'ERR_SMTP_AUTH_SERVER_SIGNATURE' }),
    );
    expect(() => scram.verifyServer('e=invalid-proof')).toThrow(/refused SCRAM: invalid-proof/);
  });

  it.each([
    ['r=someoneelses,s=QSXCR+Q6sek8bf92,i=4096', /does not extend the client nonce/],
    ['r=abc,s=QSXCR+Q6sek8bf92,i=4096', /does not extend the client nonce/],
    ['r=abcdef,i=4096', /no salt/],
    ['r=abcdef,s=QSXCR+Q6sek8bf92,i=0', /iteration count/],
    ['r=abcdef,s=QSXCR+Q6sek8bf92,i=99999999999', /iteration count/],
    ['m=ext,r=abcdef,s=QSXCR+Q6sek8bf92,i=4096', /extension/],
    ['garbage', /malformed/],
  ])('server-first %j is refused', async (serverFirst, message) => {
    const scram = new ScramClient('sha1', 'user', 'pencil', { kind: 'none' }, 'abc');
    scram.clientFirst();
    await expect(scram.clientFinal(serverFirst)).rejects.toThrow(message);
  });

  it('GS2 header and c= carry the channel binding flag and data (RFC 5802 §6–7)', async () => {
    const data = Buffer.from('0123456789abcdef0123456789abcdef');
    const plus = new ScramClient('sha256', 'user', 'pencil', { kind: 'bind', binding: { type: 'tls-exporter', data } }, 'abc');
    expect(plus.clientFirst()).toBe('p=tls-exporter,,n=user,r=abc');
    const final = await plus.clientFinal('r=abcdef,s=QSXCR+Q6sek8bf92,i=1');
    const c = /^c=([^,]+),/.exec(final)?.[1] ?? '';
    expect(Buffer.from(c, 'base64')).toEqual(Buffer.concat([Buffer.from('p=tls-exporter,,'), data]));
    const unused = new ScramClient('sha256', 'user', 'pencil', { kind: 'unused' }, 'abc');
    expect(unused.clientFirst()).toBe('y,,n=user,r=abc');
    expect(await unused.clientFinal('r=abcdef,s=QSXCR+Q6sek8bf92,i=1')).toMatch(/^c=eSws,/); // base64('y,,')
  });

  it('user names escape "=" and ","; SASLprep maps spaces and refuses controls (RFC 4013)', () => {
    expect(encodeSaslName('a=b,c')).toBe('a=3Db=2Cc');
    expect(saslPrep('I\u00ADX')).toBe('IX');
    expect(saslPrep('a\u00A0b')).toBe('a b');
    expect(saslPrep('\u2168')).toBe('IX');
    expect(() => saslPrep('a\u0007b')).toThrow(/SASLprep/);
  });
});

describe('choosing SCRAM', () => {
  it.each([
    [['PLAIN', 'SCRAM-SHA-1', 'SCRAM-SHA-256'], 'SCRAM-SHA-256'],
    [['PLAIN', 'SCRAM-SHA-1', 'CRAM-MD5'], 'SCRAM-SHA-1'],
    [['PLAIN', 'SCRAM-SHA-256-PLUS'], 'SCRAM-SHA-256'],
  ])('offered %j → %s (before CRAM-MD5 and cleartext)', (offered, expected) => {
    expect(chooseMechanism(offered, { user: 'u', pass: 'p' })).toBe(expected);
  });

  it('moves to -PLUS only when offered and a channel binding exists', () => {
    expect(upgradeToPlus('SCRAM-SHA-256', ['SCRAM-SHA-256', 'SCRAM-SHA-256-PLUS'], true)).toBe('SCRAM-SHA-256-PLUS');
    expect(upgradeToPlus('SCRAM-SHA-256', ['SCRAM-SHA-256', 'SCRAM-SHA-256-PLUS'], false)).toBe('SCRAM-SHA-256');
    expect(upgradeToPlus('SCRAM-SHA-1', ['SCRAM-SHA-1', 'SCRAM-SHA-256-PLUS'], true)).toBe('SCRAM-SHA-1');
  });
});

describe('tls-server-end-point (RFC 5929 §4.1)', () => {
  it('hashes the certificate with its signature hash: SHA-256 for the ECDSA-SHA256 test certificate', async () => {
    const certs = await generateCertificates();
    const der = new X509Certificate(certs.cert).raw;
    expect(certificateSignatureHash(der)).toBe('sha256');
    expect(serverEndPoint(der)).toEqual(createHash('sha256').update(der).digest());
  });

  it('is undefined for DER it cannot read', () => {
    expect(serverEndPoint(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01]))).toBeUndefined();
  });
});
