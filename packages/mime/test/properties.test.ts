import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildMessage } from '../src/index.js';
import { canonText, lineProblems, parseManyWithPython, parseWithPostal, replaceControls, sha256, wellFormed } from './helpers.js';

const SEED = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);

/** No C0 controls or DEL: those are rejected by design (see injection tests). */
const clean = (s: string): string => replaceControls(s, true);

const tricky = fc.constantFrom('😀', '👩‍👩‍👧', 'שלום', 'مرحبا', 'e\u0301', '\u200f', 'From ', '.', '=?utf-8?Q?x?=', '"', '\\', ',', ';', '<', '>', '@', '  ', '\t', 'x'.repeat(120));
const unicodeText = (maxLength: number) =>
  fc.array(fc.oneof(fc.string({ unit: 'grapheme', maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 8 }), tricky), { maxLength }).map((a) => a.join(''));
const bodyText = fc
  .array(fc.oneof(unicodeText(6), fc.constantFrom('\r', '\n', '\r\n', '\n.', '\nFrom ', '\n.\n', ' \n', 'y'.repeat(1500), '\u0000')), { maxLength: 30 })
  .map((a) => a.join(''));

interface Expectation {
  subject: string;
  name: string;
  text: string;
  html: string;
  attachments: Array<{ filename: string; sha256: string }>;
}

describe('property: random messages round-trip through independent parsers', () => {
  it(`postal-mime reads back subjects, names, bodies and attachments exactly (seed ${SEED})`, async () => {
    console.log(`message property seed ${SEED}`);
    const built: Uint8Array[] = [];
    const expectations: Expectation[] = [];
    await fc.assert(
      fc.asyncProperty(
        unicodeText(20),
        unicodeText(6),
        bodyText,
        bodyText,
        fc.array(fc.record({ filename: unicodeText(8), content: fc.uint8Array({ maxLength: 3000 }) }), { maxLength: 3 }),
        fc.boolean(),
        async (subjectRaw, nameRaw, text, htmlRaw, files, eightBit) => {
          const subject = wellFormed(clean(subjectRaw));
          const name = wellFormed(clean(nameRaw)).trim();
          const html = wellFormed(`<p>${htmlRaw}</p>`);
          // postal-mime decodes RFC 2047 words even inside an RFC 2231 value, so a filename that is literally
          // an encoded word cannot survive it (Python reads it correctly); keep those out of filenames.
          const attachments = files.map((f) => ({
            filename: wellFormed(clean(f.filename)).replace(/=\?/g, '=').trim() || 'file.bin',
            content: f.content,
          }));
          const msg = buildMessage({
            from: { name, address: 'sender@example.com' },
            to: ['rcpt@example.org'],
            subject,
            text,
            html,
            attachments,
            transferEncoding: { eightBit },
          });
          const bytes = await msg.toBuffer();
          expect(lineProblems(bytes)).toEqual([]);
          expect(msg.size).toBe(bytes.length);
          const parsed = await parseWithPostal(bytes);
          // postal-mime reads a tab in a header as a space (both are WSP, RFC 5322 §3.2.2).
          expect((parsed.subject ?? '').replace(/\t/g, ' ')).toBe(subject.replace(/\t/g, ' '));
          expect((parsed.from?.name ?? '').replace(/\t/g, ' ')).toBe(name.replace(/\t/g, ' '));
          expect(canonText(parsed.text)).toBe(canonText(wellFormed(text)));
          expect(canonText(parsed.html)).toBe(canonText(html));
          expect(parsed.attachments.map((a) => [a.filename, sha256(new Uint8Array(a.content as ArrayBuffer))])).toEqual(
            attachments.map((a) => [a.filename, sha256(a.content)]),
          );
          built.push(bytes);
          expectations.push({
            subject,
            name,
            text: wellFormed(text).replace(/\r\n|\r|\n/g, '\r\n'),
            html: html.replace(/\r\n|\r|\n/g, '\r\n'),
            attachments: attachments.map((a) => ({ filename: a.filename, sha256: sha256(a.content) })),
          });
        },
      ),
      { numRuns: 120, seed: SEED, interruptAfterTimeLimit: 60_000 },
    );

    // The same messages through Python's email package, in one process.
    const results = parseManyWithPython(built);
    results.forEach((py, i) => {
      const e = expectations[i] as Expectation;
      expect(py.headers.subject).toBe(e.subject);
      // CPython keeps the space between adjacent encoded words in a display name (RFC 2047 §6.2 says to
      // drop it), so long names that need several words are compared without whitespace there.
      expect(py.headers.from?.[0]?.name.replace(/\s/g, '')).toBe(e.name.replace(/\s/g, ''));
      const [alternative, ...files] = py.tree.type === 'multipart/mixed' ? (py.tree.children ?? []) : [py.tree];
      expect(alternative?.type).toBe('multipart/alternative');
      const [plain, htmlPart] = alternative?.children ?? [];
      expect(plain?.text).toBe(e.text);
      expect(htmlPart?.text).toBe(e.html);
      // CPython's get_filename() applies email.utils.unquote: a name wrapped in <> or "" loses them (and
      // the whitespace then exposed); postal-mime above checks the exact name.
      const pythonName = (n: string) => (/^(?:<[\s\S]*>|"[\s\S]*")$/.test(n) ? n.slice(1, -1).trim() : n);
      expect(files.map((f) => ({ filename: f.filename, sha256: f.sha256 }))).toEqual(
        e.attachments.map((a) => ({ filename: pythonName(a.filename), sha256: a.sha256 })),
      );
    });
  });
});
