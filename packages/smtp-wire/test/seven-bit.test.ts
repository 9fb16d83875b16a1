import { Buffer, isAscii } from 'node:buffer';
import fc from 'fast-check';
import PostalMime from 'postal-mime';
import { describe, expect, it } from 'vitest';
import { DOWNGRADE_SAMPLE, SevenBitDowngrade, isSmtpError } from '../src/index.js';
import { bytes, bytewise, cutAt, fcParams, splitsInTwo } from './support.js';

function downgrade(chunks: readonly Uint8Array[]): Buffer {
  const d = new SevenBitDowngrade();
  const out = chunks.map((c) => d.push(c));
  out.push(d.end());
  return Buffer.concat(out);
}

const once = (s: string | Uint8Array) => downgrade([typeof s === 'string' ? bytes(s) : s]);

const HEAD = 'From: a@example.com\r\nTo: b@example.org\r\nSubject: hi\r\nMIME-Version: 1.0\r\n';

/** [name, input, expected output] (RFC 6152 §3 conversions, RFC 2045 §6.7 / §6.8 encodings). */
const cases: Array<[string, string, string]> = [
  [
    'single 8bit text part → quoted-printable, trailing white space encoded',
    `${HEAD}Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGrüße aus Köln \r\n= sign\r\n`,
    `${HEAD}Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe aus K=C3=B6ln=20\r\n=3D sign\r\n`,
  ],
  [
    'a 7-bit message passes unchanged',
    `${HEAD}Content-Type: text/plain\r\n\r\nplain text\r\n.leading dot\r\n`,
    `${HEAD}Content-Type: text/plain\r\n\r\nplain text\r\n.leading dot\r\n`,
  ],
  [
    'bare LF line ends come out as CRLF',
    `${HEAD}Content-Transfer-Encoding: 8bit\n\nÉté in Paris\n`,
    `${HEAD}Content-Transfer-Encoding: quoted-printable\r\n\r\n=C3=89t=C3=A9 in Paris\r\n`,
  ],
  [
    'no Content-Transfer-Encoding but 8-bit octets: the field is added',
    `${HEAD}Content-Type: text/plain; charset=utf-8\r\n\r\nmañana por la mañana\r\n`,
    `${HEAD}Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nma=C3=B1ana por la ma=C3=B1ana\r\n`,
  ],
  [
    'multipart: boundaries, preamble and epilogue untouched; the folded field replaced whole',
    `${HEAD}Content-Type: multipart/mixed;\r\n boundary="b1"\r\n\r\npreamble\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding:\r\n 8bit\r\n\r\nça va bien, merci\r\n--b1\r\nContent-Type: text/plain\r\n\r\nascii\r\n--b1--  \r\nepilogue\r\n`,
    `${HEAD}Content-Type: multipart/mixed;\r\n boundary="b1"\r\n\r\npreamble\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=C3=A7a va bien, merci\r\n--b1\r\nContent-Type: text/plain\r\n\r\nascii\r\n--b1--  \r\nepilogue\r\n`,
  ],
  [
    'a binary attachment → base64; the CRLF before the boundary belongs to the boundary',
    `${HEAD}Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n\u00ff\u00fe\u0000\r\n--zz--\r\n`,
    `${HEAD}Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nw7/DvgA=\r\n--zz--\r\n`,
  ],
  [
    'mostly non-ASCII text → base64',
    `${HEAD}Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nδοκιμή\r\n`,
    `${HEAD}Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nzrTOv866zrnOvM6u\r\n`,
  ],
  [
    'nested multipart and a message/rfc822 part: walked, the message part becomes 7bit',
    `${HEAD}Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n--i\r\nContent-Transfer-Encoding: 8bit\r\n\r\nvoilà le texte\r\n--i--\r\n--o\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: 8bit\r\n\r\nSubject: inner\r\nMIME-Version: 1.0\r\nContent-Transfer-Encoding: 8bit\r\n\r\nla fenêtre ouverte\r\n--o--\r\n`,
    `${HEAD}Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n--i\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nvoil=C3=A0 le texte\r\n--i--\r\n--o\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: 7bit\r\n\r\nSubject: inner\r\nMIME-Version: 1.0\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nla fen=C3=AAtre ouverte\r\n--o--\r\n`,
  ],
  [
    'an empty part, and a line that only looks like a boundary',
    `${HEAD}Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Transfer-Encoding: 8bit\r\n\r\n--b\r\nContent-Transfer-Encoding: 8bit\r\n\r\n--b and then é\r\n--b--\r\n`,
    `${HEAD}Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n--b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n--b and then =C3=A9\r\n--b--\r\n`,
  ],
];

describe('SevenBitDowngrade (RFC 6152 §3)', () => {
  it.each(cases)('%s', (_name, input, expected) => {
    const out = once(input);
    expect(out.toString('latin1')).toBe(Buffer.from(expected, 'utf8').toString('latin1'));
    expect(isAscii(out)).toBe(true);
  });

  it.each(cases)('%s: the same output for every split in two, and byte by byte', (_name, input) => {
    const whole = once(input);
    for (const [k, parts] of splitsInTwo(bytes(input))) {
      expect(downgrade(parts).equals(whole), `split at ${k}`).toBe(true);
    }
    expect(downgrade(bytewise(bytes(input))).equals(whole)).toBe(true);
  });

  it('wraps long lines with soft breaks at 76 characters (RFC 2045 §6.7 rule 5)', () => {
    const out = once(`${HEAD}Content-Transfer-Encoding: 8bit\r\n\r\n${'é'.repeat(40)}${'a'.repeat(200)}\r\n`).toString('latin1');
    const body = out.slice(out.indexOf('\r\n\r\n') + 4);
    for (const line of body.split('\r\n')) expect(line.length).toBeLessThanOrEqual(76);
    expect(body.replace(/=\r\n/g, '')).toBe(`${'=C3=A9'.repeat(40)}${'a'.repeat(200)}\r\n`);
  });

  it('says when the message header has been read and accepted (what can be refused up front)', () => {
    const d = new SevenBitDowngrade();
    d.push(bytes(`${HEAD}Content-Transfer-Encoding: 8bit`));
    expect(d.headerChecked).toBe(false);
    d.push(bytes('\r\n\r\n'));
    expect(d.headerChecked).toBe(true);
  });

  it('counts the parts it re-encoded', () => {
    const d = new SevenBitDowngrade();
    d.push(bytes((cases[4] as [string, string, string])[1]));
    d.end();
    expect(d.converted).toBe(1);
  });

  const refusals: Array<[string, string, string]> = [
    ['no MIME-Version', 'From: a@example.com\r\nSubject: x\r\n\r\nñ\r\n', 'ERR_SMTP_NOT_MIME'],
    ['raw 8-bit in the message header', `${HEAD}Subject: Grüße\r\nContent-Transfer-Encoding: 8bit\r\n\r\nx\r\n`, 'ERR_SMTP_8BIT_HEADERS'],
    [
      'raw 8-bit in a part header',
      `${HEAD}Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Disposition: attachment; filename="é.txt"\r\n\r\nx\r\n--b--\r\n`,
      'ERR_SMTP_8BIT_HEADERS',
    ],
    ['8-bit in a preamble', `${HEAD}Content-Type: multipart/mixed; boundary=b\r\n\r\nprèambule\r\n--b\r\n\r\nx\r\n--b--\r\n`, 'ERR_SMTP_8BIT_UNCONVERTIBLE'],
    ['8-bit in a part declared base64', `${HEAD}Content-Transfer-Encoding: base64\r\n\r\nñ\r\n`, 'ERR_SMTP_8BIT_UNCONVERTIBLE'],
    [
      '8-bit in a 7bit part after the sample',
      `${HEAD}Content-Type: text/plain\r\n\r\n${'a'.repeat(DOWNGRADE_SAMPLE + 10)}\r\nñ\r\n`,
      'ERR_SMTP_8BIT_UNCONVERTIBLE',
    ],
    ['raw 8-bit in a nested message header', `${HEAD}Content-Type: message/rfc822\r\n\r\nSubject: ñ\r\n\r\nx\r\n`, 'ERR_SMTP_8BIT_HEADERS'],
  ];

  it.each(refusals)('refuses %s with a clear input error', (_name, input, code) => {
    let error: unknown;
    try {
      once(input);
    } catch (e) {
      error = e;
    }
    expect(isSmtpError(error)).toBe(true);
    expect(error).toMatchObject({ kind: 'input', code });
  });
});

/** A random message: a UTF-8 text part (8bit) and maybe a binary attachment. */
const messageArb = fc.record({
  text: fc.string({ unit: 'grapheme', maxLength: 300 }),
  attachment: fc.option(fc.uint8Array({ minLength: 1, maxLength: 600 }), { nil: undefined }),
  cuts: fc.array(fc.nat({ max: 3000 }), { maxLength: 8 }),
});

function build(m: { text: string; attachment: Uint8Array | undefined }): Buffer {
  // Lines of text are kept under 998 octets and end in CRLF, as a MIME writer would send them.
  const text = m.text.replace(/\r\n|\r|\n/g, '\r\n');
  const parts: Buffer[] = [
    Buffer.from(`${HEAD}Content-Type: multipart/mixed; boundary="=_b"\r\n\r\n--=_b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${text}\r\n`),
  ];
  if (m.attachment !== undefined) {
    parts.push(Buffer.from('--=_b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="a.bin"\r\nContent-Transfer-Encoding: binary\r\n\r\n'));
    parts.push(Buffer.from(m.attachment), Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('--=_b--\r\n'));
  return Buffer.concat(parts);
}

describe('SevenBitDowngrade properties', () => {
  it('any message and any chunking: 7-bit lines of at most 76 characters in converted parts, read back the same by postal-mime', async () => {
    await fc.assert(
      fc.asyncProperty(messageArb, async (m) => {
        const input = build(m);
        const out = downgrade(cutAt(input, m.cuts));
        expect(out.equals(downgrade([input]))).toBe(true);
        expect(isAscii(out)).toBe(true);
        for (const line of out.toString('latin1').split('\r\n')) expect(line.length).toBeLessThanOrEqual(76);
        // The oracle: what an independent parser reads from the 8-bit original.
        const [parsed, original] = await Promise.all([PostalMime.parse(out), PostalMime.parse(input)]);
        // postal-mime keeps line breaks before a boundary in 8bit parts, not in encoded ones: compare without them.
        const trim = (t: string | undefined) => t?.replace(/\n+$/, '');
        expect(trim(parsed.text)).toBe(trim(original.text));
        // The attachment against its own bytes: postal-mime keeps the boundary's line break in a binary part.
        if (m.attachment !== undefined) {
          const att = parsed.attachments.find((a) => a.filename === 'a.bin');
          expect(Buffer.from(att?.content as ArrayBuffer).equals(Buffer.from(m.attachment))).toBe(true);
        }
      }),
      { ...fcParams('seven-bit read back', 150), interruptAfterTimeLimit: 20_000 },
    );
  });

  it('a 7-bit message with CRLF lines comes out byte for byte as it went in', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 80 }), { maxLength: 30 }), fc.array(fc.nat({ max: 2000 }), { maxLength: 6 }), (lines, cuts) => {
        const input = Buffer.from(`${HEAD}Content-Type: text/plain\r\n\r\n${lines.map((l) => `${l}\r\n`).join('')}`, 'latin1');
        expect(downgrade(cutAt(input, cuts)).equals(input)).toBe(true);
      }),
      fcParams('seven-bit identity', 200),
    );
  });
});
