import { join } from 'node:path';
import { generateCertificates, startPostfix, type PostfixServer, type TestCertificates } from '@smtpkit/testkit';
import PostalMime from 'postal-mime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, scratch } from './helpers.js';

// A real MTA where smtp-server cannot stand in: CHUNKING/BDAT (RFC 3030) and Postfix's own STARTTLS.
let certs: TestCertificates;
let postfix: PostfixServer;
let dir: string;

beforeAll(async () => {
  certs = await generateCertificates();
  postfix = await startPostfix({ tls: 'may', certs, chunking: true });
  dir = scratch({ 'ca.pem': certs.caCert, 'data.bin': Buffer.alloc(200_000, 0xa5) });
}, 60_000);
afterAll(async () => {
  await postfix?.stop();
});

describe('against Postfix', () => {
  it('STARTTLS, then BDAT: the message arrives intact', async () => {
    const r = await runCli([
      'send', '-p', String(postfix.port), '--tls', 'starttls', '--ca', join(dir, 'ca.pem'), '-v',
      '-f', 'alice@example.com', '-t', 'Bob <bob@example.com>', '--subject', 'via postfix', '--body', 'through a real MTA',
      '-a', join(dir, 'data.bin'),
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('C: STARTTLS');
    expect(r.stderr).toMatch(/C: BDAT \d+ LAST/);
    expect(r.stderr).not.toContain('C: DATA');
    const [m] = await postfix.waitForMessages(1, 15_000);
    const parsed = await PostalMime.parse(m!.raw);
    expect(parsed.subject).toBe('via postfix');
    expect(parsed.text?.trim()).toBe('through a real MTA');
    const att = parsed.attachments.find((a) => a.filename === 'data.bin')!;
    expect(Buffer.from(att.content as ArrayBuffer).equals(Buffer.alloc(200_000, 0xa5))).toBe(true);
  });

  it('probe shows CHUNKING and STARTTLS before TLS, and the certificate', async () => {
    const r = await runCli(['probe', '-p', String(postfix.port), '--ca', join(dir, 'ca.pem'), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.before.keywords).toEqual(expect.arrayContaining(['PIPELINING', 'CHUNKING', 'STARTTLS', '8BITMIME']));
    expect(j.after.keywords).not.toContain('STARTTLS');
    expect(j.certificate.fingerprint256).toBe(certs.fingerprint256);
  });

  it('67 when Postfix refuses one recipient (relay denied) and delivers to the other', async () => {
    const r = await runCli(['send', '-p', String(postfix.port), '--ca', join(dir, 'ca.pem'), '--json', '-f', 'alice@example.com', '-t', 'carol@example.org', '-t', 'mallory@elsewhere.test']);
    expect(r.code, r.stderr).toBe(67);
    const j = JSON.parse(r.stdout);
    expect(j.accepted).toEqual(['carol@example.org']);
    expect(j.rejected[0]).toMatchObject({ address: 'mallory@elsewhere.test', code: 554, enhanced: '5.7.1' });
  });
});
