import { describe, expect, it } from 'vitest';
import type { MessageInput } from '../src/index.js';
import { MimeError, buildMessage, isMimeError } from '../src/index.js';

const base: MessageInput = { from: 'a@example.com', to: ['b@example.org'], subject: 'ok', text: 'body' };
const BAD = ['\r', '\n', '\r\n', '\0', '\u001b', '\u007f', '\r\nBcc: victim@example.net'];

/** Every header position a caller controls, with a way to put a string there. */
const positions: Array<[string, (bad: string) => MessageInput]> = [
  ['from (string)', (x) => ({ ...base, from: `a${x}@example.com` })],
  ['from.name', (x) => ({ ...base, from: { name: `Alice${x}`, address: 'a@example.com' } })],
  ['from.address', (x) => ({ ...base, from: { address: `a@example.com${x}` } })],
  ['to (string with name)', (x) => ({ ...base, to: [`"B${x}" <b@example.org>`] })],
  ['to.name', (x) => ({ ...base, to: [{ name: `B${x}`, address: 'b@example.org' }] })],
  ['cc', (x) => ({ ...base, cc: [`c@example.org${x}`] })],
  ['bcc', (x) => ({ ...base, bcc: [{ name: 'x', address: `d${x}@example.org` }] })],
  ['replyTo', (x) => ({ ...base, replyTo: { name: `R${x}`, address: 'r@example.org' } })],
  ['sender', (x) => ({ ...base, sender: `s@example.org${x}` })],
  ['subject', (x) => ({ ...base, subject: `Hello${x}there` })],
  ['custom header value', (x) => ({ ...base, headers: { 'X-Tag': `v${x}` } })],
  ['custom header name', (x) => ({ ...base, headers: [[`X-Tag${x}`, 'v']] })],
  ['messageId', (x) => ({ ...base, messageId: `<id${x}@example.com>` })],
  ['attachment filename', (x) => ({ ...base, attachments: [{ filename: `a${x}.pdf`, content: 'x' }] })],
  ['attachment contentType', (x) => ({ ...base, attachments: [{ contentType: `text/plain${x}`, content: 'x' }] })],
  ['attachment cid', (x) => ({ ...base, attachments: [{ cid: `c${x}@x`, content: 'x' }] })],
  ['inline filename', (x) => ({ ...base, html: '<p>', inline: [{ cid: 'c@x', filename: `i${x}.png`, content: 'x' }] })],
  ['inline cid', (x) => ({ ...base, html: '<p>', inline: [{ cid: `c@x${x}`, content: 'x' }] })],
  ['envelope.from', (x) => ({ ...base, envelope: { from: `e@example.org${x}` } })],
  ['envelope.to', (x) => ({ ...base, envelope: { to: [`e@example.org${x}`] } })],
];

describe('header injection is impossible', () => {
  for (const [where, make] of positions) {
    it.each(BAD)(`${where}: %j is a MimeError before any byte`, (bad) => {
      let caught: unknown;
      let message: ReturnType<typeof buildMessage> | undefined;
      try {
        message = buildMessage(make(bad));
      } catch (e) {
        caught = e;
      }
      expect(message).toBeUndefined();
      expect(isMimeError(caught)).toBe(true);
      expect((caught as MimeError).kind).toBe('input');
      expect(['ERR_MIME_HEADER_INJECTION', 'ERR_MIME_INVALID_HEADER_NAME']).toContain((caught as MimeError).code);
    });
  }

  it.each(['X Tag', 'X:Tag', '', 'Tëst', 'X\tTag'])('rejects header name %j', (name) => {
    expect(() => buildMessage({ ...base, headers: [[name, 'v']] })).toThrow(expect.objectContaining({ code: 'ERR_MIME_INVALID_HEADER_NAME' }));
  });

  it('allows TAB in values and keeps it', async () => {
    const msg = buildMessage({ ...base, headers: { 'X-Tab': 'a\tb' } });
    expect(await msg.toString()).toContain('X-Tab: a\tb\r\n');
  });
});

describe('structural and reserved headers', () => {
  it.each(['Content-Type', 'content-transfer-encoding', 'MIME-Version'])('refuses to override %s without the escape hatch', (name) => {
    expect(() => buildMessage({ ...base, headers: { [name]: 'text/plain' } })).toThrow(expect.objectContaining({ code: 'ERR_MIME_STRUCTURAL_HEADER' }));
  });

  it.each(['From', 'To', 'cc', 'BCC', 'Subject', 'Date', 'Message-ID', 'Reply-To', 'Sender'])('points %s to its field', (name) => {
    expect(() => buildMessage({ ...base, headers: { [name]: 'x@example.com' } })).toThrow(expect.objectContaining({ code: 'ERR_MIME_RESERVED_HEADER' }));
  });

  it('lets dangerouslyAllowStructuralHeaders replace the top-level Content-Type', async () => {
    const msg = buildMessage({
      ...base,
      text: 'pre-encoded',
      headers: { 'Content-Type': 'text/plain; charset=iso-8859-1; format=flowed' },
      dangerouslyAllowStructuralHeaders: true,
    });
    const out = await msg.toString();
    expect(out.match(/^Content-Type:/gim)).toHaveLength(1);
    expect(out).toContain('Content-Type: text/plain; charset=iso-8859-1; format=flowed\r\n');
    expect(out).toContain('Content-Transfer-Encoding: 7bit\r\n');
  });

  it('is a MimeError across copies of the package (brand, not prototype)', () => {
    const foreign = Object.assign(Object.create(Error.prototype) as object, { [Symbol.for('smtpkit.MimeError')]: true });
    expect(foreign instanceof MimeError).toBe(true);
    expect(new Error('x') instanceof MimeError).toBe(false);
  });
});
