import PostalMime from 'postal-mime';
import { describe, expect, it } from 'vitest';
import { buildMessage } from '../src/index.js';

describe('buildMessage', () => {
  it('builds text, html, inline image and attachment that postal-mime reads back', async () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3, 255]);
    const pdf = new Uint8Array(5000).map((_, i) => (i * 31) & 255);
    const msg = buildMessage({
      from: 'Zoë <zoe@example.com>',
      to: ['bob@example.org'],
      bcc: ['hidden@example.net'],
      subject: 'Grüße 😀',
      text: 'Hello\nFrom here\n.dot\n',
      html: '<p>Hi <img src="cid:logo@x"></p>',
      inline: [{ cid: 'logo@x', filename: 'logo.png', content: png }],
      attachments: [{ filename: 'Résumé.pdf', content: pdf }],
    });
    const bytes = await msg.toBuffer();
    expect(msg.size).toBe(bytes.length);
    const text = Buffer.from(bytes).toString('latin1');
    expect(text).not.toMatch(/^bcc:/im);
    expect(msg.envelope).toEqual({ from: 'zoe@example.com', to: ['bob@example.org', 'hidden@example.net'] });
    const parsed = await PostalMime.parse(bytes);
    expect(parsed.subject).toBe('Grüße 😀');
    expect(parsed.from?.name).toBe('Zoë');
    expect(parsed.text?.replace(/\r\n/g, '\n').replace(/\n+$/, '')).toBe('Hello\nFrom here\n.dot');
    expect(parsed.html?.trimEnd()).toBe('<p>Hi <img src="cid:logo@x"></p>');
    expect(parsed.attachments.map((a) => a.filename)).toEqual(['logo.png', 'Résumé.pdf']);
    expect(new Uint8Array(parsed.attachments[1]?.content as ArrayBuffer)).toEqual(pdf);
    expect(parsed.messageId).toBe(msg.messageId);
  });
});
