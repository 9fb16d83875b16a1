import { describe, expect, it } from 'vitest';
import { generateCertificates, startAiosmtpd } from '../src/index.js';
import { isAlive } from './alive.js';
import { Dialogue, sendOne } from './dialogue.js';

describe('startAiosmtpd', () => {
  it('records each message with its envelope and raw bytes, and stops, freeing the port', async () => {
    const server = await startAiosmtpd();
    expect(isAlive(server.pid)).toBe(true);
    const d = await Dialogue.open(server.port);
    try {
      expect((await d.reply()).code).toBe(220);
      const ehlo = await d.command('EHLO client.test');
      expect(ehlo.lines).toContain('SMTPUTF8');
      expect((await sendOne(d, 's@client.test', ['a@example.com', 'b@example.net'], 'Subject: hi\n\n..stuffed\nend\n')).code).toBe(250);
      expect((await d.command('QUIT')).code).toBe(221);
      const [message, ...rest] = await server.waitForMessages(1);
      expect(rest).toEqual([]);
      expect(message?.from).toBe('s@client.test');
      expect(message?.to).toEqual(['a@example.com', 'b@example.net']);
      expect(message?.raw.toString('latin1')).toBe('Subject: hi\r\n\r\n.stuffed\r\nend\r\n');
    } finally {
      d.close();
      await server.stop();
    }
    expect(isAlive(server.pid)).toBe(false);
    await expect(Dialogue.open(server.port)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('offers STARTTLS with the generated certificates when given them', async () => {
    const certs = await generateCertificates();
    const server = await startAiosmtpd({ certs, requireTls: true });
    const d = await Dialogue.open(server.port);
    try {
      await d.reply();
      expect((await d.command('EHLO client.test')).lines).toContain('STARTTLS');
      expect((await d.command('MAIL FROM:<s@client.test>')).code).toBe(530);
      expect((await d.command('STARTTLS')).code).toBe(220);
      expect((await d.startTls(certs.caCert)).authorized).toBe(true);
      expect((await d.command('EHLO client.test')).code).toBe(250);
      expect((await sendOne(d, 's@client.test', ['a@example.com'], 'Subject: tls\n\nbody\n')).code).toBe(250);
      expect((await server.waitForMessages(1)).length).toBe(1);
    } finally {
      d.close();
      await server.stop();
    }
  });
});
