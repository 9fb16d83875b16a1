import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MimeError, buildMessage } from '../src/index.js';
import { lineProblems, parseWithPython } from './helpers.js';

const base = { from: 'a@example.com', to: ['b@example.org'], subject: 'stream', text: 'see attachment' };

/** 1 MiB of pseudo-random bytes; chunks are uneven windows into it, so every block boundary differs. */
const BASE = Buffer.concat(Array.from({ length: 32_768 }, (_, i) => createHash('sha256').update(String(i)).digest()));

function* pattern(total: number, chunk: number): Generator<Uint8Array> {
  let sent = 0;
  let n = 0;
  while (sent < total) {
    const size = Math.min(chunk + (n % 7) * 1013, total - sent);
    const offset = (n * 4099) % (BASE.length - size);
    sent += size;
    n++;
    yield BASE.subarray(offset, offset + size);
  }
}

async function* asyncPattern(total: number, chunk: number): AsyncGenerator<Uint8Array> {
  yield* pattern(total, chunk);
}

function hashOf(chunks: Iterable<Uint8Array>): string {
  const h = createHash('sha256');
  for (const c of chunks) h.update(c);
  return h.digest('hex');
}

describe('streaming output', () => {
  it('encodes a 20 MB generator attachment lazily and correctly', async () => {
    const total = 20 * 1000 * 1000;
    const msg = buildMessage({ ...base, attachments: [{ filename: 'big.bin', content: asyncPattern(total, 48 * 1024), size: total }] });
    expect(msg.reusable).toBe(false);
    let bytes = 0;
    let largest = 0;
    let carry = '';
    let inBody = false;
    const decoded = createHash('sha256');
    // Decode the base64 body line by line while streaming, holding nothing but the current block.
    for await (const block of msg) {
      bytes += block.length;
      largest = Math.max(largest, block.length);
      const text = carry + Buffer.from(block).toString('latin1');
      const lines = text.split('\r\n');
      carry = lines.pop() as string;
      for (const line of lines) {
        if (!inBody) {
          if (line === 'Content-Disposition: attachment; filename=big.bin') inBody = true;
          continue;
        }
        if (line.startsWith('--')) inBody = false;
        else if (line !== '') {
          expect(line.length).toBeLessThanOrEqual(76);
          decoded.update(Buffer.from(line, 'base64'));
        }
      }
    }
    expect(bytes).toBe(msg.size);
    expect(largest).toBeLessThanOrEqual(128 * 1024);
    expect(decoded.digest('hex')).toBe(hashOf(pattern(total, 48 * 1024)));
    expect(() => msg.stream()).toThrow(expect.objectContaining({ code: 'ERR_MIME_ALREADY_CONSUMED' }));
  });

  it('reads a web ReadableStream and reports size undefined without a declared size', async () => {
    const data = [...pattern(300_000, 10_000)];
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const c of data) controller.enqueue(c);
        controller.close();
      },
    });
    const msg = buildMessage({ ...base, attachments: [{ filename: 'w.bin', content: stream }] });
    expect(msg.size).toBeUndefined();
    const bytes = await msg.toBuffer();
    expect(lineProblems(bytes)).toEqual([]);
    const py = parseWithPython(bytes);
    expect(py.tree.children?.[1]?.sha256).toBe(hashOf(data));
  });

  it('streams again when every content is re-readable', async () => {
    const msg = buildMessage({ ...base, attachments: [{ filename: 'a.bin', content: new Uint8Array(1000).fill(1) }] }, { seed: 's' });
    expect(msg.reusable).toBe(true);
    const first = await msg.toBuffer();
    const second = await msg.toBuffer();
    expect(Buffer.compare(first, second)).toBe(0);
    expect(msg.size).toBe(first.length);
  });

  it('fails clearly when a stream does not match its declared size', async () => {
    const short = buildMessage({ ...base, attachments: [{ filename: 'a.bin', content: asyncPattern(1000, 100), size: 2000 }] });
    await expect(short.toBuffer()).rejects.toMatchObject({ code: 'ERR_MIME_SIZE_MISMATCH' });
    const long = buildMessage({ ...base, attachments: [{ filename: 'a.bin', content: asyncPattern(3000, 100), size: 2000 }] });
    await expect(long.toBuffer()).rejects.toBeInstanceOf(MimeError);
  });

  it('rejects a stream that yields something other than bytes', async () => {
    async function* bad(): AsyncGenerator<unknown> {
      yield 42;
    }
    const msg = buildMessage({ ...base, attachments: [{ content: bad() as AsyncIterable<Uint8Array> }] });
    await expect(msg.toBuffer()).rejects.toMatchObject({ code: 'ERR_MIME_INVALID_CONTENT' });
  });

  it('sends attachments unencoded only when the transport takes binary', async () => {
    const raw = new Uint8Array([0, 13, 10, 255, 13, 0]);
    const msg = buildMessage({ ...base, text: 'ünï', attachments: [{ filename: 'b.bin', content: raw }], transferEncoding: { binary: true } });
    expect(msg.binary).toBe(true);
    expect(msg.eightBit).toBe(true);
    const out = Buffer.from(await msg.toBuffer());
    expect(out.includes(Buffer.from(raw))).toBe(true);
    expect(out.toString('latin1')).toContain('Content-Transfer-Encoding: binary');
    const eight = buildMessage({ ...base, text: 'ünï', transferEncoding: { eightBit: true } });
    expect(eight.eightBit).toBe(true);
    expect(eight.binary).toBe(false);
    expect(await eight.toString()).toContain('Content-Transfer-Encoding: 8bit\r\n\r\nünï\r\n');
    const seven = buildMessage({ ...base, text: 'Grüße aus Köln' });
    expect(seven.eightBit).toBe(false);
    expect(await seven.toString()).toContain('Content-Transfer-Encoding: quoted-printable');
  });
});

describe('binary content and the multipart boundary (RFC 2046 §5.1.1)', () => {
  const binary = { transferEncoding: { binary: true } } as const;

  /** The boundaries of the message built from `input` with `seed`, outermost first. */
  async function boundariesOf(input: Parameters<typeof buildMessage>[0], seed: string): Promise<string[]> {
    const text = await buildMessage(input, { seed }).toString();
    return [...text.matchAll(/boundary="([^"]+)"/g)].map((m) => m[1] as string);
  }

  async function* chunks(...parts: string[]): AsyncGenerator<Uint8Array> {
    for (const p of parts) yield Buffer.from(p, 'latin1');
  }

  it('fails a streamed binary content that contains the boundary, also split across chunks', async () => {
    const input = { ...base, ...binary };
    const [boundary] = await boundariesOf({ ...input, attachments: [{ filename: 'a.bin', content: chunks('\0harmless\0') }] }, 'b1');
    expect(boundary).toBeDefined();
    const delimiter = `\r\n--${boundary as string}\r\n`;
    for (const split of [0, 1, 5, delimiter.length - 1]) {
      const content = chunks('\0head', delimiter.slice(0, split), delimiter.slice(split), 'Content-Type: text/html\r\n\r\nforged');
      const msg = buildMessage({ ...input, attachments: [{ filename: 'a.bin', content }] }, { seed: 'b1' });
      await expect(msg.toBuffer()).rejects.toMatchObject({ code: 'ERR_MIME_INVALID_CONTENT', field: 'attachments[0].content' });
    }
    // One character off is not the boundary: the content goes out as it is.
    const near = `--${(boundary as string).slice(0, -1)}x`;
    const msg = buildMessage({ ...input, attachments: [{ filename: 'a.bin', content: chunks('\0', near, '\0') }] }, { seed: 'b1' });
    const ok = Buffer.from(await msg.toBuffer());
    expect(ok.includes(Buffer.from(`\0${near}\0`, 'latin1'))).toBe(true);
  });

  it('watches for every enclosing boundary, not only the nearest', async () => {
    const input = { ...base, html: '<p>hi <img src="cid:pic"></p>', ...binary };
    const image = (content: AsyncIterable<Uint8Array>) => ({ filename: 'p.png', content, cid: 'pic' });
    const attachment = { filename: 'a.txt', content: 'plain' };
    const all = await boundariesOf({ ...input, inline: [image(chunks('\x89PNG'))], attachments: [attachment] }, 'b2');
    expect(all.length).toBe(3); // mixed ⊃ alternative ⊃ related ⊃ the image
    for (const boundary of all) {
      const content = chunks('\x89PNG\r\n--', `${boundary}--\r\n`);
      const msg = buildMessage({ ...input, inline: [image(content)], attachments: [attachment] }, { seed: 'b2' });
      await expect(msg.toBuffer()).rejects.toMatchObject({ code: 'ERR_MIME_INVALID_CONTENT', field: 'inline[0].content' });
    }
  });

  it('picks another boundary when binary content given in memory contains the first one drawn', async () => {
    const input = { ...base, ...binary };
    const [first] = await boundariesOf({ ...input, attachments: [{ filename: 'a.bin', content: Buffer.from('\0plain') }] }, 'b3');
    const content = Buffer.from(`\0\r\n--${first as string}\r\nforged`, 'latin1');
    const out = Buffer.from(await buildMessage({ ...input, attachments: [{ filename: 'a.bin', content }] }, { seed: 'b3' }).toBuffer());
    const [chosen] = [...out.toString('latin1').matchAll(/boundary="([^"]+)"/g)].map((m) => m[1] as string);
    expect(chosen).toBeDefined();
    expect(chosen).not.toBe(first);
    expect(out.includes(content)).toBe(true);
    expect(content.includes(Buffer.from(`--${chosen as string}`, 'latin1'))).toBe(false);
  });
});

describe('transfer encoding by content', () => {
  it.each([
    ['short ASCII lines', 'Hello\nworld', '7bit'],
    ['a line over 998 octets', 'x'.repeat(1200), 'quoted-printable'],
    ['a line starting with From', 'From me', 'quoted-printable'],
    ['mostly ASCII with accents', 'Grüße aus Köln, sagt der Absender', 'quoted-printable'],
    ['mostly non-ASCII', '日本語のテキストです。'.repeat(5), 'base64'],
    ['a NUL octet', 'text with a \0 inside', 'quoted-printable'],
    ['very short non-ASCII', 'ünï', 'base64'],
  ])('%s → %s', async (_name, text, encoding) => {
    const out = await buildMessage({ ...base, text }).toString();
    expect(out).toContain(`Content-Transfer-Encoding: ${encoding}\r\n`);
  });
});

describe('deterministic mode', () => {
  it('derives boundaries, Message-ID and Date from the seed', async () => {
    const input = { ...base, html: '<b>x</b>', attachments: [{ filename: 'a.txt', content: 'a' }] };
    const a = await buildMessage(input, { seed: 'one' }).toString();
    const b = await buildMessage(input, { seed: 'one' }).toString();
    const c = await buildMessage(input, { seed: 'two' }).toString();
    expect(a).toBe(b);
    expect(a).not.toBe(c);
    expect(buildMessage(input, { seed: 'one' }).messageId).toMatch(/^<[0-9a-f]{32}@example\.com>$/);
    const given = buildMessage({ ...input, date: new Date(0), messageId: 'x@y' }, { seed: 'one' });
    expect(given.messageId).toBe('<x@y>');
    expect(await given.toString()).toContain('Date: Thu, 1 Jan 1970 00:00:00 +0000\r\n');
  });

  it('never uses a boundary that occurs in the content, even when the seed is known', async () => {
    const seed = 'predictable';
    const probe = await buildMessage({ ...base, html: 'x' }, { seed }).toString();
    const boundary = /boundary="([^"]+)"/.exec(probe)?.[1] as string;
    const msg = await buildMessage({ ...base, text: `see attachment\n--${boundary}\n`, html: 'x' }, { seed }).toString();
    const used = /boundary="([^"]+)"/.exec(msg)?.[1] as string;
    expect(used).not.toBe(boundary);
    expect(parseWithPython(Buffer.from(msg)).tree.children).toHaveLength(2);
  });

  it('honours boundaryPrefix and checks it', async () => {
    expect(await buildMessage({ ...base, html: 'x' }, { boundaryPrefix: 'acme' }).toString()).toMatch(/boundary="acme=_[0-9a-f]{24}"/);
    expect(() => buildMessage(base, { boundaryPrefix: 'bad prefix' })).toThrow(expect.objectContaining({ code: 'ERR_MIME_INVALID_OPTION' }));
  });
});

describe('addresses and envelope', () => {
  it('keeps Bcc out of the message, dedupes the envelope, and converts IDN domains', async () => {
    const msg = buildMessage({
      from: 'Zoë <zoe@bücher.example>',
      to: 'b@example.org, "C, c" <c@example.org>',
      cc: ['b@EXAMPLE.org', 'B@example.org'],
      bcc: ['d@example.org'],
    });
    const out = await msg.toString();
    expect(out).not.toMatch(/^bcc:/im);
    expect(out).not.toContain('d@example.org');
    expect(out).toContain('To: b@example.org, "C, c" <c@example.org>\r\n');
    expect(msg.envelope).toEqual({ from: 'zoe@xn--bcher-kva.example', to: ['b@example.org', 'c@example.org', 'B@example.org', 'd@example.org'] });
    expect(msg.needsSmtputf8).toBe(false);
  });

  it('keeps UTF-8 addresses with smtputf8 and says so', async () => {
    const msg = buildMessage({ from: '用户@例子.广告', to: ['zoë@bücher.example'], smtputf8: true, text: 'x' });
    expect(msg.needsSmtputf8).toBe(true);
    expect(msg.envelope.to).toEqual(['zoë@bücher.example']);
    expect(await msg.toString()).toContain('To: zoë@bücher.example\r\n');
  });

  it('requires from and valid options', () => {
    expect(() => buildMessage({} as never)).toThrow(expect.objectContaining({ code: 'ERR_MIME_INVALID_ADDRESS' }));
    expect(() => buildMessage({ ...base, inline: [{ content: 'x' }] })).toThrow(expect.objectContaining({ code: 'ERR_MIME_MISSING_CID' }));
    expect(() => buildMessage({ ...base, date: new Date(NaN) })).toThrow(expect.objectContaining({ code: 'ERR_MIME_INVALID_OPTION' }));
    expect(() => buildMessage({ ...base, messageId: 'no-at-sign' })).toThrow(expect.objectContaining({ code: 'ERR_MIME_INVALID_OPTION' }));
    expect(() => buildMessage({ ...base, attachments: [{ content: 'x', contentType: 'nonsense' }] })).toThrow(MimeError);
  });
});

describe('large in-memory content', () => {
  it('encodes a big Uint8Array in bounded blocks', async () => {
    const big = new Uint8Array(8 * 1024 * 1024).fill(0xa5);
    const msg = buildMessage({ ...base, attachments: [{ filename: 'big.bin', content: big }] });
    let largest = 0;
    let total = 0;
    for await (const block of msg) {
      largest = Math.max(largest, block.length);
      total += block.length;
    }
    expect(total).toBe(msg.size);
    expect(largest).toBeLessThanOrEqual(132 * 1024);
  });

  it('writes an ASCII Message-ID even for a UTF-8 sender domain', () => {
    const msg = buildMessage({ from: 'zoe@bücher.example', to: ['b@example.org'], smtputf8: true, text: 'x' });
    expect(msg.messageId).toMatch(/@xn--bcher-kva\.example>$/);
  });
});

describe('attached messages (RFC 2046 §5.2.1)', () => {
  const eml = 'From: x@example.com\nSubject: inner\n\nInner body\n';

  it('embeds a 7-bit message/rfc822 as it is, with CRLF line ends', async () => {
    const msg = buildMessage({ ...base, attachments: [{ filename: 'fwd.eml', content: eml }] });
    const out = await msg.toString();
    expect(out).toContain('Content-Type: message/rfc822; name=fwd.eml\r\nContent-Transfer-Encoding: 7bit\r\n');
    expect(out).toContain('From: x@example.com\r\nSubject: inner\r\n\r\nInner body\r\n');
    expect(msg.size).toBe(Buffer.byteLength(out));
    const py = parseWithPython(Buffer.from(out));
    expect(py.tree.children?.[1]?.type).toBe('message/rfc822');
    expect(py.tree.children?.[1]?.defects).toEqual([]);
  });

  it('uses 8bit only when allowed, else base64', async () => {
    const utf8 = Buffer.from('Subject: ünï\r\n\r\nbody\r\n');
    expect(await buildMessage({ ...base, attachments: [{ filename: 'a.eml', content: utf8 }] }).toString()).toContain(
      'Content-Transfer-Encoding: base64',
    );
    const eight = buildMessage({ ...base, attachments: [{ filename: 'a.eml', content: utf8 }], transferEncoding: { eightBit: true } });
    expect(eight.eightBit).toBe(true);
    expect(Buffer.from(await eight.toBuffer()).includes(utf8)).toBe(true);
  });
});

describe('the whole message in memory', () => {
  async function streamed(msg: AsyncIterable<Uint8Array>): Promise<Buffer> {
    const chunks: Uint8Array[] = [];
    for await (const chunk of msg) chunks.push(chunk);
    return Buffer.concat(chunks);
  }

  it('a small message built from memory offers its bytes at once, the same bytes it streams, in one chunk', async () => {
    const input = { ...base, html: '<p>Grüße</p>', attachments: [{ filename: 'a.bin', content: BASE.subarray(0, 5000) }, { filename: 'b.txt', content: 'hello' }] };
    const msg = buildMessage(input, { seed: 'whole' });
    expect(msg.bytes).toBeInstanceOf(Uint8Array);
    expect(msg.bytes!.length).toBe(msg.size);
    const chunks: Uint8Array[] = [];
    for await (const chunk of msg) chunks.push(chunk);
    expect(chunks).toHaveLength(1);
    expect(Buffer.from(chunks[0]!).equals(Buffer.from(msg.bytes!))).toBe(true);
    expect(Buffer.from(await msg.toBuffer()).equals(Buffer.from(msg.bytes!))).toBe(true);
    expect(lineProblems(msg.bytes!)).toEqual([]);
  });

  it('a message with a stream has no bytes; toBuffer reads it into one Buffer of its size', async () => {
    const msg = buildMessage({ ...base, attachments: [{ filename: 'big.bin', content: pattern(300_000, 10_000), size: 300_000 }] }, { seed: 's' });
    expect(msg.bytes).toBeUndefined();
    const whole = Buffer.from(await msg.toBuffer());
    expect(whole.length).toBe(msg.size);
    const again = buildMessage({ ...base, attachments: [{ filename: 'big.bin', content: Buffer.concat([...pattern(300_000, 10_000)]) }] }, { seed: 's' });
    expect(whole.equals(Buffer.from(again.bytes!))).toBe(true);
  });

  it('a large message from memory streams in bounded blocks, and toBuffer writes the same bytes in one piece', async () => {
    const content = Buffer.concat([BASE, BASE, BASE.subarray(0, 12_345)]);
    const input = { ...base, attachments: [{ filename: 'big.bin', content }] };
    const msg = buildMessage(input, { seed: 'large' });
    expect(msg.bytes).toBeUndefined();
    const whole = Buffer.from(await msg.toBuffer());
    expect(whole.length).toBe(msg.size);
    expect(whole.equals(await streamed(buildMessage(input, { seed: 'large' }).stream()))).toBe(true);
    const body = whole.toString('latin1').split('\r\n\r\n')[3]!.split('\r\n--')[0]!;
    expect(Buffer.from(body.replace(/\r\n/g, ''), 'base64').equals(content)).toBe(true);
    for (const line of body.split('\r\n')) expect(line.length).toBeLessThanOrEqual(76);
  });

});
