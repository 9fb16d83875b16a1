import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { MessageInput } from '../src/index.js';
import { buildMessage } from '../src/index.js';
import { lineProblems, parseWithPostal, parseWithPython, sha256 } from './helpers.js';

// Regenerate after an intended change with: UPDATE_GOLDEN=1 pnpm vitest run test/golden.test.ts (then review the diff).
const UPDATE = process.env.UPDATE_GOLDEN === '1';
const golden = (name: string): string => fileURLToPath(new URL(`./golden/${name}.eml`, import.meta.url));

// A 1x1 transparent PNG and a minimal PDF, so the goldens stay small and readable.
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  'base64',
);
const PNG2 = Buffer.from(PNG).fill(7, 40, 50);
const PDF = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n', 'latin1');

const people = {
  from: { name: 'Alice Example', address: 'alice@example.com' },
  to: ['Bob <bob@example.org>'],
};

const cases: Array<[string, MessageInput]> = [
  ['text-only', { ...people, subject: 'Lunch?', text: 'Hi Bob,\n\nLunch at noon?\n\n-- \nAlice\n' }],
  [
    'text-html',
    {
      ...people,
      cc: [{ name: 'Zoë Ünicode', address: 'zoe@example.net' }],
      subject: 'Grüße — the weekly report',
      text: 'Grüße!\nThe report is below.\n',
      html: '<p>Grüße!</p>\n<p>The report is below.</p>\n',
    },
  ],
  [
    'html-inline-images-pdf',
    {
      ...people,
      subject: 'Photos and the invoice',
      text: 'Two photos and the invoice.',
      html: '<p>Two photos:</p><img src="cid:one@example.com"><img src="cid:two@example.com">',
      inline: [
        { cid: 'one@example.com', filename: 'one.png', content: PNG },
        { cid: 'two@example.com', filename: 'two.png', content: PNG2 },
      ],
      attachments: [{ filename: 'invoice.pdf', content: PDF }],
      headers: { 'X-Mailer': 'smtpkit' },
    },
  ],
  [
    'non-ascii-filename',
    {
      ...people,
      subject: 'Résumé',
      text: 'Attached.',
      attachments: [{ filename: 'Résumé – Zoë Ünicode, curriculum vitae (version définitive) 😀.pdf', content: PDF }],
    },
  ],
];

describe('golden messages (deterministic mode)', () => {
  it.each(cases)('%s matches its golden .eml byte for byte', async (name, input) => {
    const bytes = Buffer.from(await buildMessage(input, { seed: `golden-${name}` }).toBuffer());
    expect(lineProblems(bytes)).toEqual([]);
    if (UPDATE) writeFileSync(golden(name), bytes);
    const expected = readFileSync(golden(name));
    expect(bytes.toString('latin1')).toBe(expected.toString('latin1'));

    // And both independent parsers agree with the input.
    const files = [...(input.inline ?? []), ...(input.attachments ?? [])];
    const postal = await parseWithPostal(bytes);
    expect(postal.subject).toBe(input.subject);
    expect(postal.attachments.map((a) => [a.filename, sha256(new Uint8Array(a.content as ArrayBuffer))])).toEqual(
      files.map((f) => [f.filename, sha256(f.content as Uint8Array)]),
    );
    const py = parseWithPython(bytes);
    expect(py.headers.subject).toBe(input.subject);
    const leaves = (p: typeof py.tree): typeof py.tree[] => (p.children ? p.children.flatMap(leaves) : [p]);
    for (const leaf of leaves(py.tree)) expect(leaf.defects).toEqual([]);
    expect(leaves(py.tree).filter((l) => l.filename).map((l) => [l.filename, l.sha256])).toEqual(files.map((f) => [f.filename, sha256(f.content as Uint8Array)]));
  });
});
