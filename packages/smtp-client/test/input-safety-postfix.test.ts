import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import PostalMime from 'postal-mime';
import { buildMessage } from '@smtpkit/mime';
import { startPostfix, type DeliveredMessage, type PostfixServer } from '@smtpkit/testkit';
import { isSmtpError, sendMail } from '../src/index.js';
import { startRecordingProxy, type RecordingProxy } from './fuzz/recording-server.js';

// Hostile bodies end to end against Postfix smtpd, through a proxy that keeps the client's bytes.
// RFC 5321 §4.5.2 (dot-stuffing), §2.3.8 (CRLF only), §4.1.1.4 (end of data): whatever the body holds,
// the server must see exactly one message per send, ending exactly where the client meant it to.
// SMTP smuggling (2023): payloads that end DATA early on servers that accept <LF>.<LF>, <LF>.<CRLF>
// or <CRLF>.<LF>; Postfix 3.7 still ends DATA on <LF>.<CRLF>, so a client letting a bare LF through
// would deliver the smuggled second message.

/** A complete smuggled transaction: if any of it ends DATA early, Postfix delivers to smuggled@. */
const SMUGGLED = 'MAIL FROM:<x@y>\r\nRCPT TO:<smuggled@example.com>\r\nDATA\r\nSubject: smuggled\r\n\r\nsmuggled\r\n.\r\n';

/** Bodies that try to end DATA early or to be rewritten on the way. */
const BODIES: Array<[string, string]> = [
  ['a line that is only "."', 'before\r\n.\r\nafter\r\n'],
  ['a line that is ".."', '..\r\n'],
  ['lines starting with dots', '.a\r\n..b\r\n...c\r\n'],
  ['bare CR', 'a\rb\rc\r\n'],
  ['bare LF', 'a\nb\nc\n'],
  ['"\\n.\\n"', 'x\n.\ny\n'],
  ['"\\r.\\r"', 'x\r.\ry\r\n'],
  ['NUL', 'a\0b\r\n'],
  ['a final "." without newline', 'last line\r\n.'],
  ['smuggling "\\r\\n.\\r\\n" + MAIL FROM', `before\r\n.\r\n${SMUGGLED}after\r\n`],
  ['smuggling "\\n.\\r\\n"', `before\n.\r\n${SMUGGLED}after\r\n`],
  ['smuggling "\\r\\n.\\n"', `before\r\n.\n${SMUGGLED}after\r\n`],
  ['smuggling "\\n.\\n"', `before\n.\n${SMUGGLED}after\r\n`],
  ['smuggling "\\r.\\r"', `before\r.\r${SMUGGLED}after\r\n`],
];
const LONG_LINE = `${'L'.repeat(10_000)}\r\n`;

/** RFC 5321 §2.3.8 as the client applies it: every CR, LF and CRLF becomes CRLF. */
const canonical = (s: string) => s.replace(/\r\n|\r|\n/g, '\r\n');
/** postal-mime reports text with "\n" line ends; trailing newlines are the MIME framing's, not the body's. */
const asParsedText = (s: string) => s.replace(/\r\n|\r|\n/g, '\n').replace(/\n+$/, '');

interface Sent {
  tag: string;
  /** Expected text part as postal-mime decodes it. */
  text: string;
  /** Expected attachment bytes (MIME sends). */
  attachment?: Buffer;
  /** Index of the proxy session that carried it. */
  session: number;
}

/** Split a client byte stream after "DATA\r\n" into the dot-stuffed body and what follows the terminator. */
function dataSection(bytes: Buffer): { body: string; after: string } {
  const s = bytes.toString('latin1');
  const start = s.indexOf('DATA\r\n') + 'DATA\r\n'.length;
  const framed = `\r\n${s.slice(start)}`;
  const end = framed.indexOf('\r\n.\r\n');
  if (start < 6 || end === -1) throw new Error(`no DATA section in ${JSON.stringify(s.slice(0, 200))}`);
  return { body: framed.slice(2, end + 2), after: framed.slice(end + 5) };
}

/** Undo RFC 5321 §4.5.2 dot-stuffing: every line starting with "." was sent with one more. */
function unstuff(body: string): string {
  return body.replace(/(^|\r\n)\./g, '$1');
}

/** RFC 3030: concatenate BDAT chunk payloads; return them, the last flag, and what followed. */
function bdatSection(bytes: Buffer): { body: Buffer; last: boolean; after: string; chunks: number } {
  const s = bytes.toString('latin1');
  let at = s.search(/BDAT \d+/);
  if (at === -1) throw new Error(`no BDAT in ${JSON.stringify(s.slice(0, 200))}`);
  const parts: Buffer[] = [];
  let last = false;
  let chunks = 0;
  while (!last) {
    const m = /^BDAT (\d+)( LAST)?\r\n/.exec(s.slice(at));
    if (!m) throw new Error(`expected a BDAT command at ${at}: ${JSON.stringify(s.slice(at, at + 80))}`);
    at += m[0].length;
    const n = Number(m[1]);
    parts.push(bytes.subarray(at, at + n));
    at += n;
    last = m[2] !== undefined;
    chunks++;
  }
  return { body: Buffer.concat(parts), last, after: s.slice(at), chunks };
}

async function parsed(m: DeliveredMessage) {
  return PostalMime.parse(m.raw);
}

for (const chunking of [false, true]) {
  describe(`hostile bodies through Postfix smtpd (${chunking ? 'CHUNKING: BDAT' : 'no CHUNKING: DATA'})`, () => {
    let postfix: PostfixServer;
    let proxy: RecordingProxy;
    const sent: Sent[] = [];
    let n = 0;
    const nextTag = () => `body-${chunking ? 'bdat' : 'data'}-${++n}-${Math.random().toString(36).slice(2, 8)}`;

    beforeAll(async () => {
      postfix = await startPostfix({ chunking });
      proxy = await startRecordingProxy(postfix.port);
    });
    afterAll(async () => {
      await proxy?.close();
      await postfix?.stop();
    });

    const send = (data: string | Uint8Array | AsyncIterable<Uint8Array>) =>
      sendMail({ host: proxy.host, port: proxy.port, tls: 'none', from: 'sender@example.org', to: ['user@example.com'], data });

    /** The delivered message carrying `tag`: exactly one, and never any to smuggled@. */
    async function deliveredOnce(tag: string) {
      const all = await postfix.waitForMessages(sent.length);
      const mine = [];
      for (const m of all) if ((await parsed(m)).subject === tag) mine.push(m);
      expect(mine, `messages with subject ${tag}`).toHaveLength(1);
      return parsed(mine[0] as DeliveredMessage);
    }

    for (const [name, payload] of BODIES) {
      if (payload.includes('\0')) {
        // RFC 5321 §4.5.2 / RFC 6152: NUL is not text; raw it needs BINARYMIME, which Postfix does not offer.
        it(`raw body with ${name}: a typed input error before MAIL FROM (NUL needs BINARYMIME)`, async () => {
          const tag = nextTag();
          const before = proxy.sessions().length;
          const err = await send(`Subject: ${tag}\r\n\r\n${payload}`).then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(isSmtpError(err)).toBe(true);
          expect(err).toMatchObject({ kind: 'input' });
          for (const session of proxy.sessions().slice(before)) expect(session.toString('latin1')).not.toMatch(/MAIL FROM/);
        });
      } else {
        it(`raw body with ${name}: canonicalised, dot-stuffed, delivered once with the same text`, async () => {
          const tag = nextTag();
          const message = `Subject: ${tag}\r\nMessage-ID: <${tag}@example.org>\r\n\r\n${payload}`;
          const before = proxy.sessions().length;
          const result = await send(message);
          expect(result.reply.code).toBe(250);
          sent.push({ tag, text: asParsedText(payload), session: before });
          // The bytes on the wire: exactly the canonical message, framed so that it ends where it should.
          const bytes = proxy.sessions()[before] as Buffer;
          if (chunking) {
            const b = bdatSection(bytes);
            expect(b.body.toString('latin1')).toBe(canonical(message));
            expect(b.after).toBe('QUIT\r\n');
          } else {
            // DATA: a body not ending in CRLF gets one before the terminator (RFC 5321 §4.1.1.4).
            const d = dataSection(bytes);
            expect(unstuff(d.body)).toBe(canonical(message).replace(/(?:\r\n)?$/, '\r\n'));
            expect(d.after).toBe('QUIT\r\n');
          }
          const email = await deliveredOnce(tag);
          expect(asParsedText(email.text ?? '')).toBe(asParsedText(payload));
        });
      }

      it(`MIME-built message with ${name} in the text and as an attachment: decoded byte for byte`, async () => {
        const tag = nextTag();
        const bytes = Buffer.from(payload, 'utf8');
        const message = buildMessage({
          from: 'sender@example.org',
          to: ['user@example.com'],
          subject: tag,
          text: payload,
          attachments: [{ filename: 'payload.bin', content: bytes, contentType: 'application/octet-stream' }],
        });
        const before = proxy.sessions().length;
        const result = await send(message);
        expect(result.reply.code).toBe(250);
        sent.push({ tag, text: asParsedText(payload), attachment: bytes, session: before });
        const email = await deliveredOnce(tag);
        expect(asParsedText(email.text ?? '')).toBe(asParsedText(payload));
        expect(email.attachments).toHaveLength(1);
        expect(Buffer.from(email.attachments[0]?.content as ArrayBuffer)).toEqual(bytes);
      });
    }

    it('a 10,000-character line: MIME-built, it is re-encoded and arrives intact', async () => {
      const tag = nextTag();
      const result = await send(buildMessage({ from: 'sender@example.org', to: ['user@example.com'], subject: tag, text: LONG_LINE }));
      expect(result.reply.code).toBe(250);
      sent.push({ tag, text: asParsedText(LONG_LINE), session: proxy.sessions().length - 1 });
      const email = await deliveredOnce(tag);
      expect(asParsedText(email.text ?? '')).toBe(asParsedText(LONG_LINE));
    });

    it('a 10,000-character line sent raw: a typed input error, and no message is delivered', async () => {
      const tag = nextTag();
      const err = await send(`Subject: ${tag}\r\n\r\n${LONG_LINE}`).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isSmtpError(err)).toBe(true);
      expect(err).toMatchObject({ kind: 'input', code: 'ERR_SMTP_LINE_TOO_LONG' });
      const all = await postfix.waitForMessages(sent.length);
      for (const m of all) expect((await parsed(m)).subject).not.toBe(tag);
    });

    it('a 10,000-character line in a streamed raw body: a typed input error mid-stream, and no message is delivered', async () => {
      const tag = nextTag();
      async function* body(): AsyncGenerator<Uint8Array> {
        yield Buffer.from(`Subject: ${tag}\r\n\r\nfirst line\r\n`);
        yield Buffer.from(LONG_LINE.slice(0, 5000));
        yield Buffer.from(LONG_LINE.slice(5000));
      }
      const before = proxy.sessions().length;
      const err = await send(body()).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isSmtpError(err)).toBe(true);
      expect(err).toMatchObject({ kind: 'input', code: 'ERR_SMTP_LINE_TOO_LONG' });
      // Whatever was written, it was never completed: no terminator, no BDAT LAST.
      for (const session of proxy.sessions().slice(before)) {
        expect(session.toString('latin1')).not.toMatch(/BDAT \d+ LAST|L{10000}\r\n\.\r\n/);
      }
      const all = await postfix.waitForMessages(sent.length);
      for (const m of all) expect((await parsed(m)).subject).not.toBe(tag);
    });

    it('exactly one message per send arrived, and nothing was smuggled', async () => {
      await postfix.waitForMessages(sent.length);
      // Give a smuggled second message time to be delivered, if one was queued.
      await new Promise((r) => setTimeout(r, 1500));
      const all = await postfix.messages();
      for (const m of all) expect(m.recipient).not.toMatch(/smuggled/);
      const subjects = await Promise.all(all.map(async (m) => (await parsed(m)).subject));
      expect(subjects).not.toContain('smuggled');
      // Every send that succeeded arrived exactly once (sends refused locally are checked in their own tests).
      for (const s of sent) expect(subjects.filter((x) => x === s.tag), s.tag).toHaveLength(1);
    });
  });
}
