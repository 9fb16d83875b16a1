import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildMessage, isMimeError, rawMessage, type MessageInput } from '../src/index.js';

// Hostile input to the builder (nodemailer 9.0.5 "keep control chars out of the remaining header
// positions"): whatever a caller passes, the builder either throws a MimeError or produces a message
// whose every line ends in CRLF and is at most 998 octets (RFC 5322 §2.1.1, RFC 5321 §4.5.3.1.6), whose
// header section is unchanged in shape (no field smuggled in), and that is 7-bit unless 8-bit was asked.
//
// Bounds: FUZZ_RUNS / FUZZ_TIME_MS raise them (`pnpm fuzz`); FUZZ_SEED replays a printed seed.

function fuzzParams(property: string, numRuns: number) {
  const env = (name: string) => (process.env[name] ? Number(process.env[name]) : undefined);
  const runs = env('FUZZ_RUNS');
  const seed = env('FUZZ_SEED') ?? Math.floor(Math.random() * 0x7fffffff) + 1;
  const budget = env('FUZZ_TIME_MS') ?? (runs !== undefined ? 5 * 60_000 : 10_000);
  console.log(`[fuzz] ${property}: seed=${seed} numRuns=${runs ?? numRuns} budget=${budget}ms (replay: FUZZ_SEED=${seed})`);
  return { seed, numRuns: runs ?? numRuns, interruptAfterTimeLimit: budget, markInterruptAsFailure: false, testTimeout: budget + 30_000 };
}

/** Pieces an attacker or a careless caller would put in a header or a body. */
const nasty = fc.constantFrom(
  '\r', '\n', '\r\n', '\0', '\x01', '\x1b', '\x7f', '\t', ' ', '\u0085', '\u2028', '\ud800', '\udfff', '😀', 'é', 'ß',
  '=?utf-8?B?', '?=', '"', '\\', ',', ';', ':', '<', '>', '@', '.', '\r\nBcc: victim@example.net', '\n.\n', '\r\n.\r\n',
  '\r\nContent-Type: text/html', 'x'.repeat(1200), 'é'.repeat(600),
);
const hostile = (maxLength: number) =>
  fc.array(fc.oneof(fc.string({ unit: 'binary', maxLength: 10 }), fc.string({ maxLength: 10 }), nasty), { maxLength }).map((a) => a.join(''));
/** C0 controls other than HTAB, and DEL: refused in headers by design. */
const isControl = (ch: string) => {
  const c = ch.charCodeAt(0);
  return (c < 0x20 && c !== 0x09) || c === 0x7f;
};
/** Text without controls, with the shapes that stress encoders: long words, encoded-word look-alikes, emoji, RTL. */
const benignText = (maxLength: number) =>
  fc
    .array(
      fc.oneof(
        fc.string({ unit: 'grapheme', maxLength: 12 }),
        fc.constantFrom(' ', '  ', '\t', 'é', '😀', 'שלום', '=?utf-8?Q?x?=', '"', '\\', ',', ';', ':', '<>', '@', '.', 'x'.repeat(1200), 'ü'.repeat(400)),
      ),
      { maxLength },
    )
    .map((a) => [...a.join('')].map((ch) => (isControl(ch) ? ' ' : ch)).join(''));
/** Mostly valid, sometimes hostile: so that whole messages get built often enough to check their bytes. */
const mostly = <T,>(benign: fc.Arbitrary<T>, bad: fc.Arbitrary<T>) => fc.oneof({ weight: 12, arbitrary: benign }, { weight: 1, arbitrary: bad });

const address = mostly(
  fc.constantFrom('alice@example.com', 'bob@example.net', 'x.y+tag@sub.example.org', '"quoted local"@example.com', 'jörg@bücher.example'),
  fc.oneof(hostile(4), fc.tuple(hostile(2), fc.constantFrom('@example.com', '@', '')).map(([a, b]) => a + b)),
);
const addressInput = fc.oneof(
  address,
  fc.record({ name: mostly(benignText(4), hostile(4)), address }),
  fc.tuple(mostly(benignText(3).map((n) => n.replace(/[<>"\\,;:@]/g, '')), hostile(3)), address).map(([n, a]) => `${n} <${a}>`),
);
const headerName = mostly(
  fc.constantFrom('X-Tag', 'X-Mailer', 'List-Unsubscribe', 'X-Priority', 'Keywords', 'Comments', 'X-a.b_c~'),
  fc.oneof(fc.constantFrom('Bcc', 'Subject', 'Content-Type', 'From', ''), fc.string({ unit: 'binary', maxLength: 12 }), hostile(2)),
);
const attachment = fc.record(
  {
    filename: mostly(benignText(4), hostile(4)),
    content: fc.oneof(fc.uint8Array({ maxLength: 2000 }), hostile(6)),
    contentType: mostly(fc.constantFrom('application/octet-stream', 'text/plain', 'image/png', 'text/plain; charset=utf-8'), hostile(2)),
  },
  { requiredKeys: ['content'] },
);
const bodyText = fc.oneof(benignText(20), hostile(30));

const messageArb: fc.Arbitrary<MessageInput> = fc.record(
  {
    from: addressInput,
    to: fc.array(addressInput, { maxLength: 3 }),
    cc: fc.array(addressInput, { maxLength: 2 }),
    bcc: fc.array(addressInput, { maxLength: 2 }),
    replyTo: addressInput,
    subject: mostly(benignText(8), hostile(8)),
    text: bodyText,
    html: bodyText,
    headers: fc.array(fc.tuple(headerName, mostly(benignText(6), hostile(6))), { maxLength: 3 }),
    attachments: fc.array(attachment, { maxLength: 2 }),
    messageId: mostly(fc.constantFrom('abc@example.com', '<x.y@host.example>'), hostile(3)),
    transferEncoding: fc.record({ eightBit: fc.boolean(), binary: fc.boolean() }, { requiredKeys: [] }),
    smtputf8: fc.boolean(),
  },
  { requiredKeys: ['from'] },
);

interface Verdict {
  built: boolean;
  error?: unknown;
  bytes?: Buffer;
}

/** Build and stream; anything thrown other than a MimeError is returned as `error` for the property to fail on. */
async function build(input: MessageInput, seed: string): Promise<Verdict> {
  try {
    const message = buildMessage(input, { seed });
    return { built: true, bytes: Buffer.from(await message.toBuffer()) };
  } catch (error) {
    return { built: false, error };
  }
}

/** Every line problem of a message: bare CR or LF, lines over 998 octets. */
function lineProblems(bytes: Buffer): string[] {
  const problems: string[] = [];
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (c === 0x0d && bytes[i + 1] !== 0x0a) problems.push(`bare CR at ${i}`);
    if (c === 0x0a && bytes[i - 1] !== 0x0d) problems.push(`bare LF at ${i}`);
    if (c === 0x0a) {
      if (i - 1 - start > 998) problems.push(`line of ${i - 1 - start} octets at ${start}`);
      start = i + 1;
    }
  }
  if (bytes.length - start > 998) problems.push(`last line of ${bytes.length - start} octets`);
  return problems;
}

/** Header field names of the top-level header section, in order. */
function topHeaderNames(bytes: Buffer): string[] {
  const end = bytes.indexOf('\r\n\r\n');
  const head = bytes.subarray(0, end === -1 ? bytes.length : end).toString('latin1');
  return head
    .split('\r\n')
    .filter((l) => l !== '' && l[0] !== ' ' && l[0] !== '\t')
    .map((l) => l.slice(0, Math.max(0, l.indexOf(':'))).toLowerCase());
}

describe('fuzz: the MIME builder under hostile input', () => {
  const p = fuzzParams('mime builder', 300);
  it(
    'only MimeError is thrown; output is CRLF-only, lines ≤ 998, no smuggled header fields',
    async () => {
      const outcomes = { built: 0, refused: 0 };
      await fc.assert(
        fc.asyncProperty(messageArb, fc.string({ maxLength: 8 }), async (input, seed) => {
          const v = await build(input, seed);
          outcomes[v.built ? 'built' : 'refused']++;
          if (!v.built) {
            expect(isMimeError(v.error), `not a MimeError: ${String(v.error)}\n${(v.error as Error)?.stack ?? ''}`).toBe(true);
            return;
          }
          const bytes = v.bytes as Buffer;
          const headerSection = bytes.subarray(0, bytes.indexOf('\r\n\r\n') + 2);
          // BINARYMIME (RFC 3030 §3) lifts the line rules for the body, never for the header section.
          expect(lineProblems(input.transferEncoding?.binary ? headerSection : bytes)).toEqual([]);
          const names = topHeaderNames(bytes);
          // Each of these appears at most once, and never one the caller did not ask for (RFC 5322 §3.6).
          for (const once of ['from', 'to', 'cc', 'subject', 'message-id', 'date', 'content-type', 'mime-version', 'reply-to']) {
            expect(names.filter((n) => n === once).length, `${once} fields in ${JSON.stringify(names)}`).toBeLessThanOrEqual(1);
          }
          expect(names).not.toContain('bcc');
          expect(names.every((n) => /^[\x21-\x39\x3b-\x7e]+$/.test(n)), `field names ${JSON.stringify(names)}`).toBe(true);
          if (!input.smtputf8) {
            // RFC 5322 headers are US-ASCII unless SMTPUTF8 (RFC 6532) was asked for.
            expect(headerSection.every((c) => c < 0x80), 'non-ASCII octet in the header section').toBe(true);
          }
          if (!input.transferEncoding?.eightBit && !input.transferEncoding?.binary && !input.smtputf8) {
            expect(bytes.every((c) => c < 0x80), 'non-ASCII octet in a 7-bit message').toBe(true);
          }
          // No NUL anywhere unless the binary transfer encoding was asked for (RFC 2045 §2.7, §2.8).
          if (!input.transferEncoding?.binary) expect(bytes.includes(0)).toBe(false);
        }),
        p,
      );
      console.log(`[fuzz] mime builder: ${outcomes.built} built, ${outcomes.refused} refused with MimeError`);
      // A property where every input is refused would prove nothing about the output.
      expect(outcomes.built).toBeGreaterThan((outcomes.built + outcomes.refused) / 10);
    },
    p.testTimeout,
  );

  const q = fuzzParams('mime raw pass-through', 300);
  it(
    'rawMessage: arbitrary bytes come out CRLF-only or as a MimeError',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 4000 }), hostile(40).map((s) => Buffer.from(s, 'utf8'))), async (raw) => {
          try {
            const out = Buffer.from(await rawMessage(raw).toBuffer());
            expect(lineProblems(out).filter((x) => x.startsWith('bare'))).toEqual([]);
          } catch (error) {
            expect(isMimeError(error), `not a MimeError: ${String(error)}`).toBe(true);
          }
        }),
        q,
      );
    },
    q.testTimeout,
  );
});
