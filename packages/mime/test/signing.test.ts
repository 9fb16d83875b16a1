import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { buildMessage, isMimeError } from '@smtpkit/mime';
import type { MessageInput } from '@smtpkit/mime';

const base: MessageInput = { from: 'zoe@example.com', to: 'bob@example.org', subject: 'Grüße', text: 'Grüße aus dem Labor — ça va ?' };

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isMimeError(e) ? e.code : String(e);
  }
  return undefined;
}

describe('signing: the 7-bit guard for DKIM (RFC 6376 §5.3)', () => {
  it('without transfer options the bytes are the same with and without signing', async () => {
    const plain = await buildMessage(base, { seed: 's' }).toString();
    const signed = buildMessage({ ...base, signing: true }, { seed: 's' });
    expect(await signed.toString()).toBe(plain);
    expect(signed.eightBit).toBe(false);
    expect(plain).toContain('Content-Transfer-Encoding: quoted-printable');
  });

  it('refuses transferEncoding 8bit or binary while signing, naming the option', () => {
    expect(codeOf(() => buildMessage({ ...base, signing: true, transferEncoding: { eightBit: true } }))).toBe('ERR_MIME_8BIT_WHEN_SIGNING');
    expect(codeOf(() => buildMessage({ ...base, signing: true, transferEncoding: { binary: true } }))).toBe('ERR_MIME_8BIT_WHEN_SIGNING');
  });

  it('refuses an 8bit Content-Transfer-Encoding set through the structural escape hatch', () => {
    const input: MessageInput = {
      ...base,
      signing: true,
      dangerouslyAllowStructuralHeaders: true,
      headers: [['Content-Transfer-Encoding', '8bit']],
    };
    expect(codeOf(() => buildMessage(input))).toBe('ERR_MIME_8BIT_WHEN_SIGNING');
  });

  it('allow8bit lets 8bit parts through, marked eightBit for the signer to see', async () => {
    const m = buildMessage({ ...base, signing: { allow8bit: true }, transferEncoding: { eightBit: true } }, { seed: 's' });
    expect(m.eightBit).toBe(true);
    expect(await m.toString()).toContain('Content-Transfer-Encoding: 8bit');
  });

  it('signing: false changes nothing', async () => {
    const m = buildMessage({ ...base, signing: false, transferEncoding: { eightBit: true } }, { seed: 's' });
    expect(m.eightBit).toBe(true);
  });
});

describe('content given as a function opening a fresh stream', () => {
  it('keeps the message reusable: two streams, the same bytes', async () => {
    let opened = 0;
    const content = async function* (): AsyncGenerator<Uint8Array> {
      opened++;
      for (let i = 0; i < 4; i++) yield Buffer.alloc(70_000, i + 65);
    };
    const m = buildMessage({ ...base, attachments: [{ filename: 'a.bin', content: () => content(), size: 280_000 }] });
    expect(m.reusable).toBe(true);
    const first = Buffer.from(await m.toBuffer());
    const second = Buffer.from(await m.toBuffer());
    expect(second.equals(first)).toBe(true);
    expect(opened).toBe(2);
    expect(m.size).toBe(first.length);
  });

  it('a function returning something that is not a stream is a MimeError while streaming', async () => {
    const m = buildMessage({ ...base, attachments: [{ filename: 'a.bin', content: (() => 42) as never }] });
    await expect(m.toBuffer()).rejects.toMatchObject({ code: 'ERR_MIME_INVALID_CONTENT' });
  });
});
