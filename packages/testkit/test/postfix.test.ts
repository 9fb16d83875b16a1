import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCertificates, startPostfix, type PostfixServer, type TestCertificates } from '../src/index.js';
import { isAlive } from './alive.js';
import { Dialogue, sendOne } from './dialogue.js';

describe('startPostfix', () => {
  let certs: TestCertificates;
  let postfix: PostfixServer;

  beforeAll(async () => {
    certs = await generateCertificates();
    postfix = await startPostfix({ tls: 'may', certs });
  });
  afterAll(async () => {
    await postfix?.stop();
  });

  it('offers the default Postfix extensions, including STARTTLS and CHUNKING', async () => {
    const d = await Dialogue.open(postfix.port);
    try {
      expect((await d.reply()).code).toBe(220);
      const ehlo = await d.command('EHLO client.test');
      expect(ehlo.code).toBe(250);
      expect(ehlo.lines).toEqual(expect.arrayContaining(['PIPELINING', 'STARTTLS', 'CHUNKING', 'SIZE 10240000', '8BITMIME', 'SMTPUTF8']));
      expect((await d.command('QUIT')).code).toBe(221);
    } finally {
      d.close();
    }
  });

  it('delivers a message to the Maildir of each recipient and reports the recipient and raw bytes', async () => {
    const d = await Dialogue.open(postfix.port);
    try {
      await d.reply();
      await d.command('EHLO client.test');
      const done = await sendOne(d, 'sender@client.test', ['alice@example.com', 'bob@example.org'], 'Subject: hello\n\nfirst line\n..dot line\n');
      expect(done.code).toBe(250);
      await d.command('QUIT');
    } finally {
      d.close();
    }
    const messages = await postfix.waitForMessages(2);
    expect(messages.map((m) => m.recipient).sort()).toEqual(['alice@example.com', 'bob@example.org']);
    for (const m of messages) {
      const text = m.raw.toString('latin1');
      expect(text).toContain('Subject: hello\n');
      // Maildir stores LF line ends; the dot-stuffed line arrives unstuffed.
      expect(text).toContain('\nfirst line\n.dot line\n');
    }
  });

  it('refuses recipients outside the test domains (no relaying)', async () => {
    const d = await Dialogue.open(postfix.port);
    try {
      await d.reply();
      await d.command('EHLO client.test');
      expect((await d.command('MAIL FROM:<s@client.test>')).code).toBe(250);
      const rcpt = await d.command('RCPT TO:<someone@elsewhere.test>');
      expect(rcpt.code).toBe(554);
      expect(rcpt.lines[0]).toContain('Relay access denied');
    } finally {
      d.close();
    }
  });

  it('completes a STARTTLS handshake with a certificate the test CA verifies for localhost', async () => {
    const d = await Dialogue.open(postfix.port);
    try {
      await d.reply();
      await d.command('EHLO client.test');
      expect((await d.command('STARTTLS')).code).toBe(220);
      const secure = await d.startTls(certs.caCert);
      expect(secure.authorized).toBe(true);
      expect(secure.getPeerX509Certificate()?.fingerprint256).toBe(certs.fingerprint256);
      const ehlo = await d.command('EHLO client.test');
      expect(ehlo.code).toBe(250);
      expect(ehlo.lines).not.toContain('STARTTLS');
      expect((await d.command('QUIT')).code).toBe(221);
    } finally {
      d.close();
    }
  });

  it('stops without leaving a process or the directory behind', async () => {
    const other = await startPostfix();
    try {
      expect(existsSync(other.dir)).toBe(true);
      expect(isAlive(other.masterPid)).toBe(true);
    } finally {
      await other.stop();
    }
    expect(existsSync(other.dir)).toBe(false);
    expect(isAlive(other.masterPid)).toBe(false);
    await expect(Dialogue.open(other.port)).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('startPostfix options', () => {
  it('withholds PIPELINING and CHUNKING, and advertises message_size_limit', async () => {
    const postfix = await startPostfix({ pipelining: false, chunking: false, messageSizeLimit: 50_000 });
    const d = await Dialogue.open(postfix.port);
    try {
      await d.reply();
      const ehlo = await d.command('EHLO client.test');
      expect(ehlo.lines).not.toContain('PIPELINING');
      expect(ehlo.lines).not.toContain('CHUNKING');
      expect(ehlo.lines).not.toContain('STARTTLS');
      expect(ehlo.lines).toContain('SIZE 50000');
      expect((await d.command('MAIL FROM:<s@client.test> SIZE=60000')).code).toBe(552);
    } finally {
      d.close();
      await postfix.stop();
    }
  });

  it("with tls 'encrypt' refuses MAIL before STARTTLS", async () => {
    const certs = await generateCertificates();
    const postfix = await startPostfix({ tls: 'encrypt', certs });
    const d = await Dialogue.open(postfix.port);
    try {
      await d.reply();
      await d.command('EHLO client.test');
      const mail = await d.command('MAIL FROM:<s@client.test>');
      expect(mail.code).toBe(530);
    } finally {
      d.close();
      await postfix.stop();
    }
  });

  it('discards accepted messages when asked, and runs several instances at once on their own ports and dirs', async () => {
    const [a, b] = await Promise.all([startPostfix({ discard: true }), startPostfix({ domains: ['test.example'] })]);
    try {
      expect(a.port).not.toBe(b.port);
      expect(a.dir).not.toBe(b.dir);
      for (const [server, rcpt] of [[a, 'x@example.com'], [b, 'y@test.example']] as const) {
        const d = await Dialogue.open(server.port);
        await d.reply();
        await d.command('EHLO client.test');
        expect((await sendOne(d, 's@client.test', [rcpt], 'Subject: x\n\nbody\n')).code).toBe(250);
        d.close();
      }
      const delivered = await b.waitForMessages(1);
      expect(delivered.map((m) => m.recipient)).toEqual(['y@test.example']);
      // Give the discard transport the time a delivery takes, then check nothing was stored.
      await b.waitForMessages(1);
      expect(await a.messages()).toEqual([]);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('rejects tls without certificates with a clear message', async () => {
    await expect(startPostfix({ tls: 'may' })).rejects.toThrow("tls 'may' needs certs");
  });
});
