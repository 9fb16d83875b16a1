// The inbox's MIME reading, against tables and against an independent parser (postal-mime).
import { createHash } from 'node:crypto';
import { buildMessage } from '@smtpkit/mime';
import PostalMime from 'postal-mime';
import { describe, expect, it } from 'vitest';
import { analyseMessage } from '../src/analysis.js';
import { decodeEncodedWords, parseStructured } from '../src/headers.js';
import { decodeBody, decodeText, walkMime } from '../src/mime-walk.js';

const limits = { maxDepth: 20, maxParts: 2000 };
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('header reading', () => {
  it.each([
    ['=?utf-8?B?R3LDvMOfZQ==?=', 'Grüße', []],
    ['=?ISO-8859-1?Q?caf=E9_au_lait?=', 'café au lait', []],
    ['=?utf-8?Q?a?= =?utf-8?Q?b?=', 'ab', []], // RFC 2047 §6.2: space between adjacent words dropped
    ['plain =?utf-8?Q?x?= text', 'plain x text', []],
    ['=?utf-8?B?not base64!?=', '=?utf-8?B?not base64!?=', ['white space']],
    ['=?utf-8?B?abc?=', '=?utf-8?B?abc?=', ['bad base64']],
    ['=?x-unknown?Q?a?=', '=?x-unknown?Q?a?=', ['unknown charset']],
    ['=?utf-8?X?a?=', '=?utf-8?X?a?=', ['unknown encoding']],
    ['=?utf-8?Q?=ZZ?=', '=?utf-8?Q?=ZZ?=', ['bad Q encoding']],
  ])('decodeEncodedWords(%j)', (input, output, problems) => {
    const found: string[] = [];
    expect(decodeEncodedWords(input, found)).toBe(output);
    expect(found.length).toBe(problems.length);
    problems.forEach((p, i) => expect(found[i]).toContain(p));
  });

  it('parameters: quoted strings, RFC 2231 continuations and charsets', () => {
    expect(parseStructured('Multipart/Mixed; boundary="a;b"; x=1')).toEqual({ value: 'multipart/mixed', params: { boundary: 'a;b', x: '1' } });
    expect(parseStructured("attachment; filename*=utf-8''%C3%A9t%C3%A9.txt").params.filename).toBe('été.txt');
    expect(parseStructured("attachment; filename*0*=utf-8''a%20; filename*1=b.txt").params.filename).toBe('a b.txt');
  });
});

describe('walkMime', () => {
  it('nested multiparts, preamble and epilogue, LF-only line ends', () => {
    const raw = Buffer.from(
      'Content-Type: multipart/mixed; boundary=X\n\npreamble\n--X\nContent-Type: multipart/alternative; boundary=Y\n\n--Y\n\nplain\n--Y\nContent-Type: text/html\n\n<p>h</p>\n--Y--\n--X\nContent-Type: application/pdf; name=a.pdf\nContent-Transfer-Encoding: base64\n\nJVBERg==\n--X--\nepilogue\n',
    );
    const w = walkMime(raw, limits);
    expect(w.parts.map((p) => `${p.n}:${'  '.repeat(p.depth)}${p.type}`)).toEqual(['0:multipart/mixed', '1:  multipart/alternative', '2:    text/plain', '3:    text/html', '4:  application/pdf']);
    expect(decodeText(raw, w.parts[2]!)).toBe('plain');
    expect(decodeText(raw, w.parts[3]!)).toBe('<p>h</p>');
    expect(decodeBody(raw, w.parts[4]!).toString()).toBe('%PDF');
    expect(w.parts[4]!.filename).toBe('a.pdf');
    expect(w.problems).toEqual([]);
  });

  it('nesting past the limit is not walked, and says so', () => {
    let raw = 'Content-Type: text/plain\r\n\r\ninner\r\n';
    for (let i = 0; i < 30; i++) raw = `Content-Type: multipart/mixed; boundary=b${i}\r\n\r\n--b${i}\r\n${raw}--b${i}--\r\n`;
    const w = walkMime(Buffer.from(raw), { maxDepth: 5, maxParts: 2000 });
    expect(w.parts).toHaveLength(6);
    expect(w.problems.map((p) => p.code)).toEqual(['mime-too-deep']);
  });

  it('any octets: never throws', () => {
    for (let seed = 1; seed < 300; seed++) {
      let x = seed;
      const bytes = Buffer.alloc(200, 0).map(() => {
        x = (x * 1103515245 + 12345) & 0x7fffffff;
        return '\r\n-:;=" bBcC\tX'.charCodeAt(x % 14) || 0x41;
      });
      const raw = Buffer.concat([Buffer.from('Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n'), bytes]);
      expect(() => analyseMessage(raw, false, limits)).not.toThrow();
    }
  });
});

describe('against postal-mime: messages built by @smtpkit/mime', () => {
  it.each([
    ['text only', { text: 'just text\r\nwith lines' }],
    ['text and HTML', { text: 'Grüße', html: '<p>Grüße <b>bold</b></p>' }],
    ['attachments, inline image, non-ASCII names', {
      text: 'see attached', html: '<img src="cid:pic">',
      inline: [{ filename: 'pic.png', cid: 'pic', content: Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]), contentType: 'image/png' }],
      attachments: [
        { filename: 'résumé.pdf', content: Buffer.from('%PDF-1.4 binary \x00\x01\x02'), contentType: 'application/pdf' },
        { filename: 'notes.txt', content: Buffer.from('line one\nline two\n'), contentType: 'text/plain' },
      ],
    }],
  ])('%s: same text, HTML and attachments', async (_name, body) => {
    const raw = Buffer.from(await buildMessage({ from: 'a@example.com', to: 'b@example.com', subject: 'Sübject', ...body } as Parameters<typeof buildMessage>[0]).toBuffer());
    const ours = analyseMessage(raw, false, limits);
    const theirs = await PostalMime.parse(raw);
    expect(ours.subject).toBe(theirs.subject);
    expect(ours.findings).toEqual([]);
    // postal-mime drops a final line break; the inbox keeps the part's octets as they are
    const norm = (s: string) => s.replace(/\r\n/g, '\n').replace(/\n$/, '');
    if (theirs.text !== undefined) expect(norm(decodeText(raw, ours.parts[ours.textPart!]!))).toBe(norm(theirs.text));
    if (theirs.html !== undefined) expect(norm(decodeText(raw, ours.parts[ours.htmlPart!]!))).toBe(norm(theirs.html));
    const leaves = ours.parts.filter((p) => p.filename !== undefined);
    expect(leaves.map((p) => p.filename).sort()).toEqual(theirs.attachments.map((a) => a.filename).sort());
    for (const a of theirs.attachments) {
      const p = leaves.find((l) => l.filename === a.filename)!;
      expect(sha(decodeBody(raw, p))).toBe(sha(new Uint8Array(a.content as ArrayBuffer)));
    }
  });
});
