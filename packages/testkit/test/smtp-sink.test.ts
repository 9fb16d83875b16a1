import { describe, expect, it } from 'vitest';
import { freePort, startSmtpSink } from '../src/index.js';
import { isAlive } from './alive.js';
import { Dialogue, sendOne } from './dialogue.js';

describe('startSmtpSink', () => {
  it('accepts a whole SMTP dialogue and stops, freeing the port', async () => {
    const sink = await startSmtpSink();
    expect(isAlive(sink.pid)).toBe(true);
    const d = await Dialogue.open(sink.port);
    try {
      expect((await d.reply()).code).toBe(220);
      const ehlo = await d.command('EHLO client.test');
      expect(ehlo.code).toBe(250);
      expect(ehlo.lines).toContain('PIPELINING');
      expect((await sendOne(d, 's@client.test', ['r@example.com'], 'Subject: x\n\nbody\n')).code).toBe(250);
      expect((await d.command('QUIT')).code).toBe(221);
    } finally {
      d.close();
      await sink.stop();
    }
    expect(isAlive(sink.pid)).toBe(false);
    await expect(Dialogue.open(sink.port)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('listens on the port it is given', async () => {
    const port = await freePort();
    const sink = await startSmtpSink({ port });
    try {
      expect(sink.port).toBe(port);
      const d = await Dialogue.open(port);
      expect((await d.reply()).code).toBe(220);
      d.close();
    } finally {
      await sink.stop();
    }
  });
});
