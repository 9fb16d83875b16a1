import { Buffer } from 'node:buffer';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalizeHeader } from '../src/canonicalize.js';
import type { Canonicalization } from '../src/canonicalize.js';
import { parseHeaderFields } from '../src/header-section.js';
import { MessageHasher } from '../src/message-hasher.js';
import { PYTHON } from './verifiers.js';

/** [name, body as given, simple canonical form, relaxed canonical form] (RFC 6376 §3.4.3, §3.4.4). */
const BODIES: Array<[string, string, string, string]> = [
  ['empty body', '', '\r\n', ''],
  ['CRLF only', '\r\n', '\r\n', ''],
  ['only empty lines', '\r\n\r\n\r\n', '\r\n', ''],
  ['no final CRLF', 'abc', 'abc\r\n', 'abc\r\n'],
  ['one line', 'abc\r\n', 'abc\r\n', 'abc\r\n'],
  ['trailing empty lines', 'abc\r\n\r\n\r\n', 'abc\r\n', 'abc\r\n'],
  ['WSP runs and tabs', 'a  b\t\tc \r\n', 'a  b\t\tc \r\n', 'a b c\r\n'],
  ['leading WSP', '  lead\r\n', '  lead\r\n', ' lead\r\n'],
  ['leading tab', '\tx\r\n', '\tx\r\n', ' x\r\n'],
  ['whitespace-only last line', 'abc\r\n   \r\n', 'abc\r\n   \r\n', 'abc\r\n'],
  ['whitespace-only lines then empty', 'abc\r\n \t \r\n\r\n', 'abc\r\n \t \r\n', 'abc\r\n'],
  ['empty line inside', 'a\r\n\r\nb\r\n', 'a\r\n\r\nb\r\n', 'a\r\n\r\nb\r\n'],
  ['whitespace line inside', 'a\r\n  \r\nb\r\n', 'a\r\n  \r\nb\r\n', 'a\r\n\r\nb\r\n'],
  ['bare LF line ends', 'a\nb\n', 'a\r\nb\r\n', 'a\r\nb\r\n'],
  ['bare CR line ends', 'a\rb', 'a\r\nb\r\n', 'a\r\nb\r\n'],
  ['trailing space', 'abc \r\n', 'abc \r\n', 'abc\r\n'],
  ['mixed trailing blank lines', 'x\r\n\r\n \r\n\t\r\n', 'x\r\n\r\n \r\n\t\r\n', 'x\r\n'],
  ['only WSP, no CRLF', '   ', '   \r\n', ''],
  ['leading dots (hashed un-stuffed)', '.leading dot\r\n.\r\n', '.leading dot\r\n.\r\n', '.leading dot\r\n.\r\n'],
  ['empty lines before a last line without CRLF', 'a\r\n\r\n\r\nb', 'a\r\n\r\n\r\nb\r\n', 'a\r\n\r\n\r\nb\r\n'],
  ['trailing WSP without CRLF', 'end   ', 'end   \r\n', 'end\r\n'],
  ['CRLF split by mixed ends', 'a\r\n\nb\r', 'a\r\n\r\nb\r\n', 'a\r\n\r\nb\r\n'],
];

/** [name, header field as given, relaxed form] (RFC 6376 §3.4.2); the simple form is the field itself. */
const HEADERS: Array<[string, string, string]> = [
  ['plain', 'Subject: Hello\r\n', 'subject:Hello\r\n'],
  ['upper-case name, WSP runs, trailing WSP', 'SUBJECT:  Hello  World  \r\n', 'subject:Hello World\r\n'],
  ['whitespace before the colon', 'Subject : x\r\n', 'subject:x\r\n'],
  ['empty value', 'Subject:\r\n', 'subject:\r\n'],
  ['value of one space', 'Subject: \r\n', 'subject:\r\n'],
  ['folded with a space', 'Subject: a\r\n b\r\n', 'subject:a b\r\n'],
  ['folded with a tab', 'Subject: a\r\n\tb\r\n', 'subject:a b\r\n'],
  ['folded address list', 'To: a@x,\r\n  b@y\r\n', 'to:a@x, b@y\r\n'],
  ['tab after the colon', 'X-Tab:\tv\r\n', 'x-tab:v\r\n'],
  ['RFC 2047 encoded word', 'Subject: =?utf-8?B?w6k=?=\r\n', 'subject:=?utf-8?B?w6k=?=\r\n'],
  ['quoted display name', 'From: "A  B" <a@x>\r\n', 'from:"A B" <a@x>\r\n'],
  ['trailing tab and space', 'Subject: trailing\t \r\n', 'subject:trailing\r\n'],
  ['empty folded value', 'X-Empty-Folded:\r\n \r\n', 'x-empty-folded:\r\n'],
  ['no space after the colon', 'Subject:x\r\n', 'subject:x\r\n'],
  ['fold of whitespace only', 'Subject: a \r\n  \r\n b\r\n', 'subject:a b\r\n'],
];

const sha = (s: string): string => createHash('sha256').update(Buffer.from(s, 'latin1')).digest('base64');

/** Body hashes of a message fed in the given chunks, through the signer's own streaming pipeline. */
function bodyHashes(chunks: Uint8Array[]): Record<Canonicalization, string> {
  const hasher = new MessageHasher({ modes: ['simple', 'relaxed'], maxHeaderSize: 1 << 20, sevenBit: true });
  for (const c of chunks) hasher.push(c);
  const { digest } = hasher.end();
  return {
    simple: (digest.bodyHashes.get('simple') as { hash: Buffer }).hash.toString('base64'),
    relaxed: (digest.bodyHashes.get('relaxed') as { hash: Buffer }).hash.toString('base64'),
  };
}

function splitAt(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let at = 0;
  for (const p of points) {
    out.push(bytes.subarray(at, p));
    at = p;
  }
  out.push(bytes.subarray(at));
  return out;
}

const HEAD = 'From: a@example.com\r\n\r\n';

describe('body canonicalization (RFC 6376 §3.4.3, §3.4.4): whole, in 1-byte chunks, in random splits', () => {
  it.each(BODIES)('%s', (_name, body, simple, relaxed) => {
    const message = Buffer.from(HEAD + body, 'latin1');
    const expected = { simple: sha(simple), relaxed: sha(relaxed) };
    expect(bodyHashes([message])).toEqual(expected);
    expect(bodyHashes([...message].map((b) => Uint8Array.of(b)))).toEqual(expected);
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 8 }), (cuts) => {
        expect(bodyHashes(splitAt(message, cuts))).toEqual(expected);
      }),
      { numRuns: 50 },
    );
  });

  it('agrees with dkimpy canonicalization on every case', () => {
    const script = String.raw`
import json, sys
from dkim.canonicalization import Simple, Relaxed
cases = json.loads(sys.stdin.read())
print(json.dumps([[Simple.canonicalize_body(c.encode('latin1')).decode('latin1'), Relaxed.canonicalize_body(c.encode('latin1')).decode('latin1')] for c in cases]))
`;
    // dkimpy gets the body as the wire carries it: CRLF line ends and a final CRLF (RFC 5321 §4.1.1.4).
    const cases = BODIES.map(([, body]) => {
      const crlf = body.replace(/\r\n|\r|\n/g, '\r\n');
      return crlf === '' || crlf.endsWith('\r\n') ? crlf : `${crlf}\r\n`;
    });
    const r = spawnSync(PYTHON, ['-c', script], { input: JSON.stringify(cases), encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(BODIES.map(([, , simple, relaxed]) => [simple, relaxed]));
  });
});

describe('header canonicalization (RFC 6376 §3.4.1, §3.4.2): whole, in 1-byte chunks, in random splits', () => {
  it.each(HEADERS)('%s', (_name, field, relaxed) => {
    expect(canonicalizeHeader(field, 'simple')).toBe(field);
    expect(canonicalizeHeader(field, 'relaxed')).toBe(relaxed);
    // Through the streaming header splitter, whole and byte by byte.
    const message = Buffer.from(`${field}From: a@example.com\r\n\r\nbody\r\n`, 'latin1');
    const splits = fc.sample(fc.array(fc.nat(), { maxLength: 8 }), 20).map((cuts) => splitAt(message, cuts));
    for (const chunks of [[message], [...message].map((b) => Uint8Array.of(b)), ...splits]) {
      const hasher = new MessageHasher({ modes: ['relaxed'], maxHeaderSize: 1 << 20, sevenBit: true });
      for (const c of chunks) hasher.push(c);
      const [first] = hasher.end().digest.fields;
      expect(first?.raw).toBe(field);
      expect(canonicalizeHeader(first?.raw ?? '', 'relaxed')).toBe(relaxed);
    }
  });

  it('agrees with dkimpy canonicalization on every case', () => {
    const script = String.raw`
import json, sys
from dkim.canonicalization import Relaxed
cases = json.loads(sys.stdin.read())
out = []
for c in cases:
    name, value = c.encode('latin1').split(b':', 1)
    [(n, v)] = Relaxed.canonicalize_headers([(name, value)])
    out.append((n + b':' + v).decode('latin1'))
print(json.dumps(out))
`;
    const r = spawnSync(PYTHON, ['-c', script], { input: JSON.stringify(HEADERS.map(([, f]) => f)), encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(HEADERS.map(([, , relaxed]) => relaxed));
  });

  it('parses duplicate and folded fields in order, names lower-cased', () => {
    const fields = parseHeaderFields('From: a@x\r\nSubject: one\r\nsubject: two\r\n  folded\r\nTO : b@y\r\n');
    expect(fields.map((f) => f.name)).toEqual(['from', 'subject', 'subject', 'to']);
    expect(fields[2]?.raw).toBe('subject: two\r\n  folded\r\n');
  });
});
