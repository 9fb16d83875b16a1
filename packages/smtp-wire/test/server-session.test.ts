import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DataEncoder } from '../src/data-encoder.js';
import { encodeCommand } from '../src/command-encoder.js';
import { ReplyParser } from '../src/reply-parser.js';
import { ServerSession } from '../src/server/session.js';
import type { ServerEvent, ServerSessionOptions } from '../src/server/session-types.js';
import { bytes, bytewise, canonicalize, concat, cutAt, fcParams, splitsInTwo } from './support.js';

interface Run {
  replies: number[];
  findings: string[];
  messages: Array<{ id: string; from: string; to: string[]; data: string; via: string; chunks: number[]; extensions: string[]; findings: string[] }>;
  commands: string[];
  events: ServerEvent[];
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

function session(options: Partial<ServerSessionOptions> = {}): ServerSession {
  let n = 0;
  return new ServerSession({ hostname: 'inbox.test', queueId: () => `m${++n}`, ...options });
}

function run(chunks: Uint8Array[], options: Partial<ServerSessionOptions> = {}): Run {
  const s = session(options);
  const parser = new ReplyParser();
  const out: Run = { replies: [], findings: [], messages: [], commands: [], events: [] };
  parser.push(s.greet());
  let data: Uint8Array[] = [];
  for (const c of chunks) {
    for (const e of s.push(c)) {
      out.events.push(e);
      if (e.type === 'reply') out.replies.push(...parser.push(e.bytes).map((r) => r.code));
      else if (e.type === 'finding') out.findings.push(e.finding.code);
      else if (e.type === 'command') out.commands.push(e.line);
      else if (e.type === 'data') data.push(e.bytes);
      else if (e.type === 'discard') data = [];
      else if (e.type === 'message') {
        const t = e.transaction;
        out.messages.push({
          id: t.id, from: t.from, to: t.to, data: concat(data).toString('latin1'), via: t.via, chunks: t.chunks,
          extensions: [...t.extensions].sort(), findings: t.findings.map((f) => f.code).sort(),
        });
        data = [];
      }
    }
  }
  return out;
}

const PIPELINING_ONLY = new Set(['pipelining-not-offered', 'data-before-354', 'starttls-pipelined']);
/** What must not depend on how the input was split (pipelining is, by definition, about timing). */
function stable(r: Run) {
  return {
    replies: r.replies,
    findings: r.findings.filter((f) => !PIPELINING_ONLY.has(f)),
    messages: r.messages.map((m) => ({ ...m, extensions: m.extensions.filter((x) => x !== 'PIPELINING'), findings: m.findings.filter((f) => !PIPELINING_ONLY.has(f)) })),
  };
}

const HELLO = 'EHLO client.test\r\n';
const ENV = 'MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n';

interface Case {
  name: string;
  input: string;
  replies: number[];
  findings?: string[];
  messages?: Array<Partial<Run['messages'][number]>>;
  options?: Partial<ServerSessionOptions>;
}

const cases: Case[] = [
  { name: 'EHLO, one message over DATA, QUIT', input: `${HELLO}${ENV}DATA\r\nSubject: x\r\n\r\nhi\r\n.\r\nQUIT\r\n`, replies: [250, 250, 250, 354, 250, 221], messages: [{ from: 'a@example.com', to: ['b@example.com'], data: 'Subject: x\r\n\r\nhi\r\n', via: 'DATA' }] },
  { name: 'HELO, then a message', input: `HELO c\r\n${ENV}DATA\r\nx\r\n.\r\n`, replies: [250, 250, 250, 354, 250] },
  { name: 'commands are case-insensitive (RFC 5321 §2.4)', input: `ehlo c\r\nmail from:<a@example.com>\r\nrcpt to:<b@example.com>\r\ndata\r\nx\r\n.\r\n`, replies: [250, 250, 250, 354, 250] },
  { name: 'BDAT in two chunks (RFC 3030)', input: `${HELLO}${ENV}BDAT 3\r\nabcBDAT 2 LAST\r\nde`, replies: [250, 250, 250, 250, 250], messages: [{ data: 'abcde', via: 'BDAT', chunks: [3, 2] }] },
  { name: 'BDAT 0 LAST ends an empty message', input: `${HELLO}${ENV}BDAT 0 LAST\r\n`, replies: [250, 250, 250, 250], messages: [{ data: '', chunks: [0] }] },
  { name: 'BDAT data that looks like commands is data', input: `${HELLO}${ENV}BDAT 6 LAST\r\nQUIT\r\nNOOP\r\n`, replies: [250, 250, 250, 250, 250], messages: [{ data: 'QUIT\r\n' }] },
  { name: 'MAIL before EHLO: 503 and a finding', input: `${ENV}`, replies: [503, 503], findings: ['command-before-ehlo'] },
  { name: 'nested MAIL: 503', input: `${HELLO}${ENV}MAIL FROM:<c@example.com>\r\n`, replies: [250, 250, 250, 503], findings: ['nested-mail'] },
  { name: 'RCPT before MAIL: 503', input: `${HELLO}RCPT TO:<b@example.com>\r\n`, replies: [250, 503], findings: ['rcpt-before-mail'] },
  { name: 'DATA with no recipient: 554', input: `${HELLO}MAIL FROM:<a@example.com>\r\nDATA\r\n`, replies: [250, 250, 554], findings: ['data-before-rcpt'] },
  { name: 'DATA with no transaction: 503', input: `${HELLO}DATA\r\n`, replies: [250, 503], findings: ['data-before-rcpt'] },
  { name: 'BDAT not offered: 502, its octets dropped, the transaction left as it was for DATA', input: `${HELLO}${ENV}BDAT 3 LAST\r\nxyzDATA\r\nabc\r\n.\r\n`, replies: [250, 250, 250, 502, 354, 250], messages: [{ data: 'abc\r\n', via: 'DATA' }], options: { chunking: false } },
  { name: 'BDAT with no transaction: its octets are read, then 503', input: `${HELLO}BDAT 4 LAST\r\nQUITNOOP\r\n`, replies: [250, 503, 250], findings: ['data-before-rcpt'] },
  { name: 'unknown command: 500', input: `${HELLO}FOO bar\r\n`, replies: [250, 500], findings: ['unknown-command'] },
  { name: 'bad path: 501', input: `${HELLO}MAIL FROM:a@example.com\r\n`, replies: [250, 501], findings: ['syntax-error'] },
  { name: 'space after the colon: accepted, recorded', input: `${HELLO}MAIL FROM: <a@example.com>\r\n`, replies: [250, 250], findings: ['space-after-colon'] },
  { name: 'null reverse path', input: `${HELLO}MAIL FROM:<>\r\nRCPT TO:<Postmaster>\r\nDATA\r\nx\r\n.\r\n`, replies: [250, 250, 250, 354, 250], messages: [{ from: '', to: ['Postmaster'] }] },
  { name: 'bare LF command: 500 when strict', input: 'EHLO c\nNOOP\r\n', replies: [500, 250], findings: ['bare-lf-command'] },
  { name: 'bare LF command: accepted and recorded when lenient', input: 'EHLO c\nNOOP\r\n', replies: [250, 250], findings: ['bare-lf-command'], options: { allowBareLf: true } },
  { name: 'bare CR in a command: 501', input: 'NOOP a\rb\r\n', replies: [501], findings: ['bare-cr-command'] },
  { name: 'NUL in a command: 501', input: 'NOOP a\u0000b\r\n', replies: [501] },
  { name: 'command line over 512 octets: 500, then the session goes on', input: `NOOP ${'x'.repeat(600)}\r\nNOOP\r\n`, replies: [500, 250], findings: ['command-too-long'] },
  { name: 'a 512-octet line is fine', input: `NOOP ${'x'.repeat(505)}\r\n`, replies: [250] },
  { name: '8-bit data without BODY=8BITMIME', input: `${HELLO}${ENV}DATA\r\ncaf\u00e9\r\n.\r\n`, replies: [250, 250, 250, 354, 250], findings: ['8bit-without-8bitmime'], messages: [{ findings: ['8bit-without-8bitmime'] }] },
  { name: '8-bit data with BODY=8BITMIME is fine', input: `${HELLO}MAIL FROM:<a@example.com> BODY=8BITMIME\r\nRCPT TO:<b@example.com>\r\nDATA\r\ncaf\u00e9\r\n.\r\n`, replies: [250, 250, 250, 354, 250], messages: [{ extensions: expect.arrayContaining(['8BITMIME']), findings: [] }] },
  { name: 'UTF-8 envelope without SMTPUTF8', input: `${HELLO}MAIL FROM:<j\u00f6rg@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\nx\r\n.\r\n`, replies: [250, 250, 250, 354, 250], findings: ['utf8-envelope-without-smtputf8'] },
  { name: 'UTF-8 envelope with SMTPUTF8', input: `${HELLO}MAIL FROM:<j\u00f6rg@example.com> SMTPUTF8\r\nRCPT TO:<b@example.com>\r\nDATA\r\nx\r\n.\r\n`, replies: [250, 250, 250, 354, 250], messages: [{ extensions: expect.arrayContaining(['SMTPUTF8']) }] },
  { name: 'smuggling shape inside DATA: one message, recorded', input: `${HELLO}${ENV}DATA\r\na\n.\nMAIL FROM:<evil@example.com>\r\n.\r\n`, replies: [250, 250, 250, 354, 250], findings: ['bare-lf-data', 'smuggling-end-of-data'] },
  { name: 'SIZE= over the limit: 552', input: `${HELLO}MAIL FROM:<a@example.com> SIZE=99999\r\n`, replies: [250, 552], findings: ['size-exceeded'], options: { maxMessageSize: 100 } },
  { name: 'data over SIZE while streaming: 552, nothing kept', input: `${HELLO}${ENV}DATA\r\n${'x'.repeat(150)}\r\n.\r\nNOOP\r\n`, replies: [250, 250, 250, 354, 552, 250], findings: ['size-exceeded'], messages: [], options: { maxMessageSize: 100 } },
  { name: 'BDAT over SIZE: 552', input: `${HELLO}${ENV}BDAT 150 LAST\r\n${'x'.repeat(150)}NOOP\r\n`, replies: [250, 250, 250, 552, 250], messages: [], options: { maxMessageSize: 100 } },
  { name: 'unknown MAIL parameter: 555', input: `${HELLO}MAIL FROM:<a@example.com> FOO=1\r\n`, replies: [250, 555], findings: ['unknown-parameter'] },
  { name: 'ESMTP parameter after HELO: 555', input: `HELO c\r\nMAIL FROM:<a@example.com> SIZE=1\r\n`, replies: [250, 555], findings: ['esmtp-param-after-helo'] },
  { name: 'DSN parameters', input: `${HELLO}MAIL FROM:<a@example.com> RET=HDRS ENVID=x+2By\r\nRCPT TO:<b@example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@example.com\r\nDATA\r\nx\r\n.\r\n`, replies: [250, 250, 250, 354, 250], messages: [{ extensions: expect.arrayContaining(['DSN']) }] },
  ...([
    ['BODY=BINARYMIME without CHUNKING', 'MAIL FROM:<a@example.com> BODY=BINARYMIME', 555, { chunking: false }],
    ['BODY=8BITMIME without 8BITMIME', 'MAIL FROM:<a@example.com> BODY=8BITMIME', 555, { eightBitMime: false }],
    ['SMTPUTF8 with a value', 'MAIL FROM:<a@example.com> SMTPUTF8=yes', 501, {}],
    ['SMTPUTF8 not offered', 'MAIL FROM:<a@example.com> SMTPUTF8', 555, { smtputf8: false }],
    ['SIZE not a number', 'MAIL FROM:<a@example.com> SIZE=big', 501, {}],
    ['RET=ALL', 'MAIL FROM:<a@example.com> RET=ALL', 501, {}],
    ['RET without DSN', 'MAIL FROM:<a@example.com> RET=FULL', 555, { dsn: false }],
    ['ENVID malformed', 'MAIL FROM:<a@example.com> ENVID=a+ZZ', 501, {}],
    ['ENVID without DSN', 'MAIL FROM:<a@example.com> ENVID=x', 555, { dsn: false }],
    ['AUTH= without AUTH', 'MAIL FROM:<a@example.com> AUTH=<>', 555, {}],
  ] as const).map(([name, line, code, options]): Case => ({ name: `MAIL parameter: ${name}`, input: `${HELLO}${line}\r\n`, replies: [250, code], options })),
  ...([
    ['NOTIFY=NEVER,SUCCESS', 501, {}],
    ['NOTIFY=SUCCESS', 555, { dsn: false }],
    ['ORCPT=nothing', 501, {}],
    ['FOO=1', 555, {}],
  ] as const).map(([param, code, options]): Case => ({ name: `RCPT parameter: ${param}`, input: `${HELLO}MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com> ${param}\r\n`, replies: [250, 250, code], options })),
  { name: 'bad NOTIFY: 501', input: `${HELLO}${ENV.split('\r\n')[0]}\r\nRCPT TO:<b@example.com> NOTIFY=NEVER,SUCCESS\r\n`, replies: [250, 250, 501] },
  { name: 'too many recipients: 452', input: `${HELLO}MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nRCPT TO:<c@example.com>\r\n`, replies: [250, 250, 250, 452], findings: ['too-many-recipients'], options: { maxRecipients: 1 } },
  { name: 'RSET, NOOP, HELP, VRFY, EXPN', input: `${HELLO}${ENV}RSET\r\nNOOP\r\nHELP\r\nVRFY x\r\nEXPN x\r\nDATA\r\n`, replies: [250, 250, 250, 250, 250, 214, 252, 502, 503] },
  { name: 'DATA takes no argument', input: `${HELLO}${ENV}DATA now\r\n`, replies: [250, 250, 250, 501] },
  { name: 'BINARYMIME needs BDAT', input: `${HELLO}MAIL FROM:<a@example.com> BODY=BINARYMIME\r\nRCPT TO:<b@example.com>\r\nDATA\r\n`, replies: [250, 250, 250, 503] },
  { name: 'input after QUIT is ignored', input: `QUIT\r\nNOOP\r\n`, replies: [221] },
  { name: 'too many errors: 421', input: 'X\r\nX\r\nX\r\nNOOP\r\n', replies: [500, 500, 500, 421], options: { maxErrors: 3 } },
  { name: 'STARTTLS not offered: 502', input: 'STARTTLS\r\n', replies: [502] },
  { name: 'AUTH not offered: 502', input: `${HELLO}AUTH PLAIN\r\n`, replies: [250, 502] },
];

describe('ServerSession: table, every split', () => {
  it.each(cases)('$name', ({ input, replies, findings, messages, options }) => {
    const raw = bytes(input);
    const whole = run([raw], options);
    expect(whole.replies).toEqual(replies);
    if (findings) expect(whole.findings.filter((f) => !PIPELINING_ONLY.has(f) || findings.includes(f))).toEqual(findings);
    if (messages) {
      expect(whole.messages.length).toBe(messages.length);
      messages.forEach((m, i) => expect(stable(whole).messages[i]).toMatchObject(m));
    }
    const want = stable(whole);
    const stride = raw.length > 200 ? 13 : 1;
    for (const [k, chunks] of splitsInTwo(raw)) {
      if (k % stride === 0) expect({ k, ...stable(run(chunks, options)) }).toEqual({ k, ...want });
    }
    expect(stable(run(bytewise(raw), options))).toEqual(want);
  });
});

describe('ServerSession: pipelining (RFC 2920)', () => {
  it('commands in one push are pipelined; PIPELINING is recorded as used', () => {
    const r = run([bytes(HELLO), bytes(`${ENV}DATA\r\n`), bytes('x\r\n.\r\n')]);
    expect(r.events.filter((e) => e.type === 'command').map((e) => (e as { pipelined: boolean }).pipelined)).toEqual([false, false, true, true]);
    expect(r.messages[0]?.extensions).toContain('PIPELINING');
  });

  it('one command per push is not pipelining', () => {
    const lines = [HELLO, 'MAIL FROM:<a@example.com>\r\n', 'RCPT TO:<b@example.com>\r\n', 'DATA\r\n', 'x\r\n.\r\n'];
    const r = run(lines.map(bytes));
    expect(r.messages[0]?.extensions).not.toContain('PIPELINING');
  });

  it('pipelining when it was not offered is a finding', () => {
    const r = run([bytes(`${HELLO}NOOP\r\n`)], { pipelining: false });
    expect(r.findings).toContain('pipelining-not-offered');
  });

  it('data sent with DATA, before the 354, is a finding', () => {
    const r = run([bytes(HELLO), bytes(`${ENV}DATA\r\nx\r\n.\r\n`)]);
    expect(r.findings).toContain('data-before-354');
    expect(r.messages[0]?.findings).toContain('data-before-354');
  });
});

describe('ServerSession: STARTTLS (RFC 3207)', () => {
  it('220, then state is forgotten and octets pipelined after STARTTLS are dropped', () => {
    const s = session({ starttls: true });
    s.push(bytes(HELLO));
    const events = s.push(bytes('STARTTLS\r\nMAIL FROM:<evil@example.com>\r\n'));
    expect(events.map((e) => e.type)).toEqual(['command', 'reply', 'starttls', 'finding']);
    expect(s.isSecure).toBe(true);
    const replyText = (events: ServerEvent[]) =>
      events.map((e) => (e.type === 'reply' ? Buffer.from(e.bytes).toString() : '')).join('');
    expect(replyText(s.push(bytes('MAIL FROM:<a@example.com>\r\n')))).toMatch(/^503 /); // EHLO again first
    expect(replyText(s.push(bytes(HELLO)))).not.toContain('STARTTLS');
    expect(s.push(bytes('STARTTLS\r\n')).some((e) => e.type === 'reply' && e.code === 503)).toBe(true);
    expect(s.extensionsUsed).toEqual(['STARTTLS']);
  });
});

describe('ServerSession: AUTH (RFC 4954)', () => {
  const verify = (c: { user: string; mechanism: string } & Record<string, string>) =>
    c.user === 'alice' && (c.password === 'pw' || c.token === 'tok' || c.mechanism === 'CRAM-MD5');
  const auth = { mechanisms: ['PLAIN', 'LOGIN', 'CRAM-MD5', 'XOAUTH2'] as const, verify: verify as never };
  const opts = { auth: { ...auth, mechanisms: [...auth.mechanisms] } };

  it.each([
    ['PLAIN with initial response', [`AUTH PLAIN ${b64('\0alice\0pw')}\r\n`], [235]],
    ['PLAIN after 334', ['AUTH PLAIN\r\n', `${b64('\0alice\0pw')}\r\n`], [334, 235]],
    ['PLAIN, wrong password', [`AUTH PLAIN ${b64('\0alice\0no')}\r\n`], [535]],
    ['LOGIN', ['AUTH LOGIN\r\n', `${b64('alice')}\r\n`, `${b64('pw')}\r\n`], [334, 334, 235]],
    ['LOGIN with the user as initial response', [`AUTH LOGIN ${b64('alice')}\r\n`, `${b64('pw')}\r\n`], [334, 235]],
    ['CRAM-MD5', ['AUTH CRAM-MD5\r\n', `${b64('alice 0123456789abcdef0123456789abcdef')}\r\n`], [334, 235]],
    ['XOAUTH2', [`AUTH XOAUTH2 ${b64('user=alice\x01auth=Bearer tok\x01\x01')}\r\n`], [235]],
    ['cancelled with *', ['AUTH PLAIN\r\n', '*\r\n'], [334, 501]],
    ['bad base64', ['AUTH PLAIN !!!\r\n'], [501]],
    ['unknown mechanism', ['AUTH GSSAPI\r\n'], [504]],
  ])('%s', (_name, lines, codes) => {
    const r = run([bytes(HELLO), ...(lines as string[]).map(bytes)], opts);
    expect(r.replies.slice(1)).toEqual(codes);
    // the transcript keeps the mechanism, never the payload
    for (const c of r.commands.slice(1)) expect(c).toMatch(/^(AUTH [A-Z0-9-]+( \*\*\*)?|\*\*\*)\r\n$/);
  });

  it('authenticated: AUTH again is 503, and the mechanism is recorded as used', () => {
    const r = run([bytes(HELLO), bytes(`AUTH PLAIN ${b64('\0alice\0pw')}\r\n`), bytes(`AUTH PLAIN ${b64('\0alice\0pw')}\r\n`), bytes(`${ENV}DATA\r\n`), bytes('x\r\n.\r\n')], opts);
    expect(r.replies).toEqual([250, 235, 503, 250, 250, 354, 250]);
    expect(r.messages[0]?.extensions).toContain('AUTH PLAIN');
  });

  it('required: MAIL before AUTH is 530', () => {
    const r = run([bytes(`${HELLO}MAIL FROM:<a@example.com>\r\n`)], { auth: { ...opts.auth, required: true } });
    expect(r.replies).toEqual([250, 530]);
    expect(r.findings).toContain('auth-required');
  });
});

describe('ServerSession: properties', () => {
  it('whatever smtpkit encodes, over DATA or BDAT, arrives as its CRLF-canonical form, for any split', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.array(fc.nat(400), { maxLength: 6 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 5 }),
        (raw, cuts, bdat, rcpts) => {
          const body = Buffer.from(raw.map((x) => [0x0d, 0x0a, 0x2e, 0x61, 0x20][x % 5] as number));
          const canonical = canonicalize(body);
          const cmds: Uint8Array[] = [encodeCommand({ verb: 'EHLO', domain: 'c.test' }).bytes, encodeCommand({ verb: 'MAIL', from: 'a@example.com' }).bytes];
          for (let i = 0; i < rcpts; i++) cmds.push(encodeCommand({ verb: 'RCPT', to: `r${i}@example.com` }).bytes);
          let expected: Buffer;
          if (bdat) {
            cmds.push(encodeCommand({ verb: 'BDAT', size: canonical.length, last: true }).bytes, canonical);
            expected = canonical;
          } else {
            const enc = new DataEncoder();
            cmds.push(encodeCommand({ verb: 'DATA' }).bytes, enc.push(body), enc.end());
            expected = concat([canonical, canonical.length === 0 || canonical.subarray(-2).toString() === '\r\n' ? Buffer.alloc(0) : bytes('\r\n')]);
          }
          cmds.push(encodeCommand({ verb: 'QUIT' }).bytes);
          const r = run(cutAt(concat(cmds), cuts));
          expect(r.replies.at(-1)).toBe(221);
          expect(r.messages).toHaveLength(1);
          expect(r.messages[0]?.data).toBe(expected.toString('latin1'));
          expect(r.messages[0]?.to).toHaveLength(rcpts);
          expect(r.findings.filter((f) => !PIPELINING_ONLY.has(f))).toEqual([]);
        },
      ),
      fcParams('ServerSession round trip', 300),
    );
  });

  it('any octets never throw, and every reply is well-formed', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (raw) => {
        const s = session({ allowBareLf: true, starttls: true });
        const parser = new ReplyParser();
        for (const e of s.push(raw)) if (e.type === 'reply') parser.push(e.bytes);
        expect(parser.isIdle).toBe(true);
      }),
      fcParams('ServerSession garbage', 500),
    );
  });
});
