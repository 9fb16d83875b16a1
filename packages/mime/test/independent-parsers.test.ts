import { describe, expect, it } from 'vitest';
import type { AttachmentInput, MessageInput } from '../src/index.js';
import { buildMessage, guessContentType } from '../src/index.js';
import type { PyPart } from './helpers.js';
import { canonText, lineProblems, parseWithPostal, parseWithPython, sha256 } from './helpers.js';

/** What the part tree must be, derived from the input alone (independent of the builder's code). */
interface ExpectedPart {
  type: string;
  children?: ExpectedPart[];
  sha256?: string;
  filename?: string | null;
  disposition?: string | null;
  cid?: string | null;
}

function bytesOf(content: AttachmentInput['content']): Uint8Array {
  if (typeof content === 'string') return Buffer.from(content, 'utf8');
  if (content instanceof Uint8Array) return content;
  throw new Error('test inputs use bytes or strings');
}

function attachmentPart(a: AttachmentInput, disposition: string): ExpectedPart {
  return {
    type: (a.contentType ?? (a.filename ? guessContentType(a.filename) : 'application/octet-stream')).split(';')[0] as string,
    sha256: sha256(bytesOf(a.content)),
    filename: a.filename ?? null,
    disposition: a.disposition ?? disposition,
    cid: a.cid === undefined ? null : `<${a.cid}>`,
  };
}

function textPart(type: string, text: string): ExpectedPart {
  return { type, sha256: sha256(text.replace(/\r\n|\r|\n/g, '\r\n')), filename: null, disposition: null, cid: null };
}

function expectedTree(input: MessageInput): ExpectedPart {
  const inline = (input.inline ?? []).map((a) => attachmentPart(a, 'inline'));
  const attachments = (input.attachments ?? []).map((a) => attachmentPart(a, 'attachment'));
  let html = input.html === undefined ? undefined : textPart('text/html', input.html);
  if (html && inline.length > 0) html = { type: 'multipart/related', children: [html, ...inline] };
  const mixed = html ? attachments : [...inline, ...attachments];
  const text = input.text === undefined ? undefined : textPart('text/plain', input.text);
  const body = text && html ? { type: 'multipart/alternative', children: [text, html] } : (text ?? html);
  if (mixed.length === 0) {
    // A single-part message ends with CRLF (RFC 5322 §2.1: lines end in CRLF), which becomes part of the body.
    const single = body ?? textPart('text/plain', '');
    const source = input.text ?? input.html ?? '';
    if (single.children === undefined && source !== '' && !/[\r\n]$/.test(source)) {
      return textPart(single.type, `${source}\r\n`);
    }
    return single;
  }
  return { type: 'multipart/mixed', children: body ? [body, ...mixed] : mixed };
}

function shape(p: PyPart): ExpectedPart {
  expect(p.defects).toEqual([]);
  if (p.children) return { type: p.type, children: p.children.map(shape) };
  return { type: p.type, sha256: p.sha256 as string, filename: p.filename ?? null, disposition: p.disposition ?? null, cid: p.cid ?? null };
}

const png = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');
const binary = Buffer.from(Array.from({ length: 70_001 }, (_, i) => (i * 7919) % 256));

const cases: Array<[string, MessageInput]> = [
  ['text only', { from: 'a@example.com', to: ['b@example.org'], subject: 'Plain', text: 'Hello.\nBye.\n' }],
  ['html only', { from: 'a@example.com', to: 'b@example.org', subject: 'HTML', html: '<p>Hi</p>' }],
  ['empty body', { from: 'a@example.com', to: 'b@example.org' }],
  [
    'text + html, Unicode everywhere',
    {
      from: { name: 'Zoë Ünïcødé', address: 'zoe@bücher.example' },
      to: ['"Doe, Jane" <jane@example.com>', { name: 'محمد', address: 'm@example.org' }],
      cc: [{ name: '山田 太郎', address: 'yamada@example.jp' }],
      replyTo: { name: 'Support "Team"', address: 'help@example.com' },
      bcc: ['hidden@example.net'],
      subject: 'Grüße 😀 — שלום — e\u0301 — '.repeat(4),
      text: 'Ünïcode text\r\nwith mixed\rline\nends\n.leading dot\nFrom the start\n',
      html: '<p>Grüße 😀</p>',
    },
  ],
  [
    'html + two inline images + pdf',
    {
      from: 'a@example.com',
      to: 'b@example.org',
      subject: 'Inline',
      text: 'See the pictures.',
      html: '<p><img src="cid:one@x"><img src="cid:two@x"></p>',
      inline: [
        { cid: 'one@x', filename: 'one.png', content: png },
        { cid: 'two@x', filename: 'two.png', content: png.subarray(0, 10) },
      ],
      attachments: [{ filename: 'report.pdf', content: binary }],
    },
  ],
  [
    'attachments only, long and non-ASCII filenames, string content',
    {
      from: 'a@example.com',
      to: 'b@example.org',
      attachments: [
        { filename: `Résumé — ${'très long nom '.repeat(8)}.pdf`, content: binary.subarray(0, 57 * 3) },
        { filename: `${'a-very-long-ascii-file-name-'.repeat(5)}.txt`, content: 'text file\n' },
        { filename: 'naïve "quoted" name; with=specials.csv', content: 'a,b\n1,2\n', contentType: 'text/csv' },
        { content: new Uint8Array(0) },
      ],
    },
  ],
  [
    "filenames holding RFC 2231's syntax characters (' and *)",
    {
      from: 'a@example.com',
      to: 'b@example.org',
      attachments: [
        { filename: "'", content: 'x' },
        { filename: "it's.txt", content: 'y' },
        { filename: 'a*b.bin', content: 'z' },
      ],
    },
  ],
  [
    'inline without html goes to mixed',
    { from: 'a@example.com', to: 'b@example.org', text: 'x', inline: [{ cid: 'c@x', filename: 'c.png', content: png }] },
  ],
];

describe('built messages read back by postal-mime and Python email', () => {
  it.each(cases)('%s', async (_name, input) => {
    const msg = buildMessage(input);
    const bytes = await msg.toBuffer();
    expect(lineProblems(bytes)).toEqual([]);
    expect(msg.size).toBe(bytes.length);

    const py = parseWithPython(bytes);
    expect(shape(py.tree)).toEqual(expectedTree(input));
    const postal = await parseWithPostal(bytes);

    const list = (v: MessageInput['to']) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
    const norm = (v: MessageInput['to']) =>
      list(v).map((a) => {
        const p = typeof a === 'string' ? /^(?:"?(.*?)"?\s*<(.+)>|(.+))$/.exec(a) : null;
        const name = typeof a === 'string' ? (p?.[1] ?? '') : (a.name ?? '');
        const address = typeof a === 'string' ? (p?.[2] ?? p?.[3] ?? '') : a.address;
        return { name, address: address.replace('bücher', 'xn--bcher-kva') };
      });

    expect(py.headers.subject).toBe(input.subject ?? null);
    expect(postal.subject).toBe(input.subject);
    expect(py.headers.from).toEqual(norm([input.from]));
    expect(postal.from).toEqual({ ...norm([input.from])[0] });
    for (const [key, field] of [['to', 'to'], ['cc', 'cc'], ['reply-to', 'replyTo']] as const) {
      const expected = norm(input[field]);
      expect(py.headers[key]).toEqual(expected.length === 0 ? null : expected);
      const postalKey = key === 'reply-to' ? 'replyTo' : key;
      expect(postal[postalKey] ?? []).toEqual(expected);
    }
    expect(py.headers.bcc).toBeNull();
    expect(postal.bcc).toBeUndefined();
    expect(py.headers['message-id']).toBe(msg.messageId);
    expect(postal.messageId).toBe(msg.messageId);
    expect(py.headers['mime-version']).toBe('1.0');
    expect(new Date(py.headers.date as string).getTime()).toBeLessThanOrEqual(Date.now());

    if (input.text !== undefined) expect(canonText(postal.text)).toBe(canonText(input.text));
    if (input.html !== undefined) expect(canonText(postal.html)).toBe(canonText(input.html));
    const expectedAttachments = [...(input.inline ?? []), ...(input.attachments ?? [])];
    expect(postal.attachments.map((a) => sha256(typeof a.content === 'string' ? Buffer.from(a.content) : new Uint8Array(a.content)))).toEqual(
      expectedAttachments.map((a) => sha256(bytesOf(a.content))),
    );
    expect(postal.attachments.map((a) => a.filename)).toEqual(expectedAttachments.map((a) => a.filename ?? null));
  });
});
