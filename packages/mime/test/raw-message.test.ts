import { describe, expect, it } from 'vitest';
import { LineEndCanonicalizer, MimeError, rawMessage, readRawMessage } from '../src/index.js';

const RAW = [
  'From: "Alice" <alice@example.com>',
  'To: bob@example.org,',
  ' "Carol, C" <carol@example.org>',
  'Cc: dave@example.net',
  'Bcc: eve@example.net,',
  '\tfrank@example.net',
  'Subject: hi',
  'Message-ID: <abc.123@example.com>',
  '',
  'line one',
  'Bcc: not a header, just body',
  '',
].join('\n');

describe('rawMessage', () => {
  it('canonicalises line ends and extracts Message-ID and envelope', async () => {
    const msg = rawMessage(RAW);
    const out = Buffer.from(await msg.toBuffer()).toString('utf8');
    expect(out).toBe(RAW.replace(/\n/g, '\r\n'));
    expect(msg.messageId).toBe('<abc.123@example.com>');
    expect(msg.envelope).toEqual({
      from: 'alice@example.com',
      to: ['bob@example.org', 'carol@example.org', 'dave@example.net', 'eve@example.net', 'frank@example.net'],
    });
    expect(msg.size).toBe(out.length);
    expect(msg.eightBit).toBe(false);
  });

  it('strips Bcc (with its continuation lines) but keeps the recipients, like sendmail -t', async () => {
    const msg = rawMessage(Buffer.from(RAW), { stripBcc: true });
    const out = Buffer.from(await msg.toBuffer()).toString('utf8');
    const head = out.slice(0, out.indexOf('\r\n\r\n'));
    expect(head).not.toMatch(/^Bcc:/im);
    expect(out).not.toContain('frank@');
    expect(out).toBe(RAW.replace(/\n/g, '\r\n').replace('Bcc: eve@example.net,\r\n\tfrank@example.net\r\n', ''));
    expect(out).toContain('Bcc: not a header, just body');
    expect(msg.envelope.to).toContain('frank@example.net');
    expect(msg.size).toBe(out.length);
  });

  it('keeps the bytes unchanged otherwise, even 8-bit and odd line ends', async () => {
    const input = Buffer.from('Subject: x\r\n\r\nbare\rcr and ünïcode\r\n\r\r\n');
    const msg = rawMessage(input);
    expect(Buffer.from(await msg.toBuffer()).toString('utf8')).toBe('Subject: x\r\n\r\nbare\r\ncr and ünïcode\r\n\r\n\r\n');
    expect(msg.eightBit).toBe(true);
    expect(msg.messageId).toBe('');
  });

  it('points streams to readRawMessage, which reads them lazily', async () => {
    async function* chunks(): AsyncGenerator<Uint8Array> {
      for (const piece of ['From: a@example.com\r', '\nTo: b@exa', 'mple.org\n\nbody\r', '\n']) yield Buffer.from(piece);
    }
    expect(() => rawMessage(chunks())).toThrow(expect.objectContaining({ code: 'ERR_MIME_ASYNC_SOURCE' }));
    const msg = await readRawMessage(chunks());
    expect(msg.envelope).toEqual({ from: 'a@example.com', to: ['b@example.org'] });
    expect(Buffer.from(await msg.toBuffer()).toString()).toBe('From: a@example.com\r\nTo: b@example.org\r\n\r\nbody\r\n');
    expect(() => msg.stream()).toThrow(MimeError);
  });

  it('bounds the header section it buffers', async () => {
    async function* endless(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 100; i++) yield Buffer.from(`X-${i}: ${'y'.repeat(100)}\r\n`);
    }
    await expect(readRawMessage(endless(), { maxHeaderSize: 1000 })).rejects.toMatchObject({ code: 'ERR_MIME_HEADER_TOO_LARGE' });
  });
});

describe('LineEndCanonicalizer', () => {
  it('gives the same output for every split of the input', () => {
    const input = Buffer.from('a\rb\nc\r\nd\r\r\n\n\re');
    const expected = 'a\r\nb\r\nc\r\nd\r\n\r\n\r\n\r\ne';
    for (let i = 0; i <= input.length; i++) {
      for (let j = i; j <= input.length; j++) {
        const c = new LineEndCanonicalizer();
        const parts = [c.push(input.subarray(0, i)), c.push(input.subarray(i, j)), c.push(input.subarray(j)), c.end()];
        expect(Buffer.concat(parts).toString()).toBe(expected);
      }
    }
  });
});
