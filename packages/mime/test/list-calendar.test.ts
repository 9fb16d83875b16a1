import { execFileSync } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CalendarCheck } from '../src/calendar.js';
import { buildMessage, listHeaders, type MessageInput } from '../src/index.js';

// Built here, read back by independent parsers: Python's email package and the icalendar library (Debian's
// /usr/bin/python3 with python3-icalendar).

const SCRIPT = fileURLToPath(new URL('./fixtures/parse_list_calendar.py', import.meta.url));

interface PyPart {
  type: string;
  params: Record<string, string>;
  disposition: string | null;
  filename: string | null;
  defects: string[];
  children?: PyPart[];
  text?: string;
  calendar?: { method: string; version: string; events: Array<{ uid: string; summary: string; organizer: string; attendees: string[]; start: string }>; errors: string[] };
}
interface PyResult {
  list: Record<string, string[]>;
  tree: PyPart;
}

async function parse(input: MessageInput): Promise<{ py: PyResult; raw: string }> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of buildMessage(input)) chunks.push(chunk);
  const raw = Buffer.concat(chunks);
  const out = execFileSync('/usr/bin/python3', [SCRIPT], { input: raw, timeout: 30_000 });
  return { py: JSON.parse(out.toString('utf8')) as PyResult, raw: raw.toString('utf8') };
}

const shape = (p: PyPart): unknown => (p.children ? { [p.type]: p.children.map(shape) } : p.type);

const INVITE = [
  'BEGIN:VCALENDAR',
  'VERSION:2.0',
  'PRODID:-//smtpkit//test//EN',
  'METHOD:REQUEST',
  'BEGIN:VEVENT',
  'UID:20261207T100000Z-42@example.com',
  'DTSTAMP:20261201T090000Z',
  'DTSTART:20261207T100000Z',
  'DTEND:20261207T110000Z',
  'SUMMARY:Planning – Q1 (Zoë)',
  'ORGANIZER;CN=Alice:mailto:alice@example.com',
  'ATTENDEE;CN=Bob;RSVP=TRUE;PARTSTAT=NEEDS-ACTION:mailto:bob@example.net',
  'END:VEVENT',
  'END:VCALENDAR',
  '',
].join('\n');

describe('list headers (RFC 2369, RFC 2919, RFC 8058), read back by Python', () => {
  it('List-Id, one-click List-Unsubscribe and the others, exact', async () => {
    const { py, raw } = await parse({
      from: 'news@example.com', to: 'bob@example.net', subject: 'Weekly', text: 'Hello',
      list: {
        id: 'Weekly news <weekly.news.example.com>',
        unsubscribe: { url: 'https://example.com/unsubscribe?u=42&t=abc', mailto: 'unsubscribe@example.com?subject=unsubscribe', oneClick: true },
        help: 'https://example.com/help',
        archive: ['https://example.com/archive', 'mailto:archive@example.com'],
        subscribe: 'subscribe@example.com',
        owner: 'mailto:owner@example.com',
        post: false,
      },
    });
    expect(py.list).toEqual({
      'List-Id': ['Weekly news <weekly.news.example.com>'],
      'List-Unsubscribe': ['<https://example.com/unsubscribe?u=42&t=abc>, <mailto:unsubscribe@example.com?subject=unsubscribe>'],
      'List-Unsubscribe-Post': ['List-Unsubscribe=One-Click'],
      'List-Help': ['<https://example.com/help>'],
      'List-Archive': ['<https://example.com/archive>, <mailto:archive@example.com>'],
      'List-Post': ['NO'],
      'List-Subscribe': ['<mailto:subscribe@example.com>'],
      'List-Owner': ['<mailto:owner@example.com>'],
    });
    expect(raw).toContain('\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n');
    expect(py.tree.defects).toEqual([]);
  });

  it('a non-ASCII list description is an encoded word; Python decodes it', async () => {
    const { py, raw } = await parse({ from: 'a@example.com', to: 'b@example.net', text: 'x', list: { id: 'Grüße <gruesse.example.org>' } });
    expect(py.list['List-Id']).toEqual(['Grüße <gruesse.example.org>']);
    expect(raw).toMatch(/\r\nList-Id: =\?utf-8\?[BQ]\?[^?]+\?= <gruesse\.example\.org>\r\n/);
  });

  it.each([
    [{ id: 'not an id' }, /list\.id: "not an id" is not a list identifier/],
    [{ id: 'x.example.com\r\nBcc: victim@example.net' }, /CR/],
    [{ unsubscribe: { mailto: 'u@example.com', oneClick: true } }, /one-click unsubscription needs an https: url/],
    [{ unsubscribe: 'https://example.com/a b' }, /not an absolute ASCII URI/],
    [{ unsubscribe: 'https://example.com/<x>' }, /not an absolute ASCII URI/],
    [{ unsubscribe: {} }, /needs a url or a mailto/],
    [{ help: [] }, /needs at least one URL/],
  ])('%j is refused: %s', (list, message) => {
    expect(() => listHeaders(list as never)).toThrow(message);
  });

  it('List-* in `headers` beside `list` is refused (one place per field)', () => {
    expect(() => buildMessage({ from: 'a@example.com', list: { id: 'a.example.com' }, headers: { 'List-Id': '<b.example.com>' } })).toThrow(
      expect.objectContaining({ code: 'ERR_MIME_RESERVED_HEADER' }),
    );
  });
});

describe('calendar invitations (iMIP, RFC 6047), read back by Python email and icalendar', () => {
  it('text + html + calendar: mixed ⊃ alternative(text, html, text/calendar; method=REQUEST) + invite.ics, as nodemailer builds it', async () => {
    const { py } = await parse({
      from: 'Alice <alice@example.com>', to: 'bob@example.net', subject: 'Planning', text: 'Join us', html: '<p>Join us</p>',
      calendar: { content: INVITE, method: 'request' },
    });
    expect(shape(py.tree)).toEqual({
      'multipart/mixed': [{ 'multipart/alternative': ['text/plain', 'text/html', 'text/calendar'] }, 'application/ics'],
    });
    const alternative = py.tree.children![0]!.children![2]!;
    expect(alternative.params).toMatchObject({ charset: 'utf-8', method: 'REQUEST' });
    expect(alternative.calendar).toMatchObject({ method: 'REQUEST', version: '2.0', errors: [] });
    expect(alternative.calendar!.events).toEqual([
      { uid: '20261207T100000Z-42@example.com', summary: 'Planning – Q1 (Zoë)', organizer: 'mailto:alice@example.com', attendees: ['mailto:bob@example.net'], start: '2026-12-07T10:00:00+00:00' },
    ]);
    const attachment = py.tree.children![1]!;
    expect(attachment).toMatchObject({ disposition: 'attachment', filename: 'invite.ics' });
    expect(attachment.calendar?.method).toBe('REQUEST');
    expect(attachment.text).toBe(alternative.text);
    expect(alternative.text).toBe(INVITE.replace(/\n/g, '\r\n'));
    for (const p of [py.tree, ...py.tree.children!]) expect(p.defects).toEqual([]);
  });

  it('calendar alone, a CANCEL with the method taken from the object, and a chosen file name', async () => {
    const cancel = INVITE.replace('METHOD:REQUEST', 'METHOD:CANCEL');
    const { py } = await parse({ from: 'alice@example.com', to: 'bob@example.net', calendar: { content: Buffer.from(cancel), filename: 'cancel.ics' } });
    expect(shape(py.tree)).toEqual({ 'multipart/mixed': ['text/calendar', 'application/ics'] });
    expect(py.tree.children![0]!.params.method).toBe('CANCEL');
    expect(py.tree.children![0]!.calendar!.method).toBe('CANCEL');
    expect(py.tree.children![1]!.filename).toBe('cancel.ics');
  });

  it('with attachments: the .ics comes after them', async () => {
    const { py } = await parse({
      from: 'alice@example.com', to: 'bob@example.net', text: 'agenda attached',
      attachments: [{ filename: 'agenda.txt', content: 'agenda' }], calendar: { content: INVITE },
    });
    expect(shape(py.tree)).toEqual({ 'multipart/mixed': [{ 'multipart/alternative': ['text/plain', 'text/calendar'] }, 'text/plain', 'application/ics'] });
  });

  it.each([
    [{ content: INVITE, method: 'CANCEL' }, /CANCEL does not match the object's METHOD:REQUEST/],
    [{ content: INVITE.replace('METHOD:REQUEST\n', '') }, /has no METHOD property/],
    [{ content: INVITE, method: 'INVITE' }, /not an iTIP method/],
    [{ content: 'hello' }, /is not an iCalendar object/],
  ])('%# refused: %s', (calendar, message) => {
    expect(() => buildMessage({ from: 'a@example.com', calendar: calendar as never })).toThrow(
      expect.objectContaining({ code: 'ERR_MIME_INVALID_OPTION', message: expect.stringMatching(message) }),
    );
  });
});

describe('calendar.source: the object streamed, as attachment contents are', () => {
  const request = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//smtpkit//test//EN', 'METHOD:REQUEST'];
  const event = (i: number): string[] => [
    'BEGIN:VEVENT', `UID:event-${i}@example.com`, 'DTSTAMP:20261201T090000Z', 'DTSTART:20261207T100000Z',
    `SUMMARY:Session ${i} – Zoë`, 'ORGANIZER;CN=Alice:mailto:alice@example.com', 'ATTENDEE;CN=Bob:mailto:bob@example.net', 'END:VEVENT',
  ];
  const crlf = INVITE.replace(/\n/g, '\r\n');

  async function* pieces(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
  }

  it('a file opened per part (the .ics read twice, never held whole): the same iMIP structure, read back by Python', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'smtpkit-ics-'));
    try {
      const file = join(dir, 'invite.ics');
      writeFileSync(file, INVITE);
      let opened = 0;
      const { py } = await parse({
        from: 'Alice <alice@example.com>', to: 'bob@example.net', subject: 'Planning', text: 'Join us', html: '<p>Join us</p>',
        calendar: { source: () => (opened++, createReadStream(file, { highWaterMark: 7 })), method: 'request' },
      });
      expect(opened).toBe(2);
      expect(shape(py.tree)).toEqual({
        'multipart/mixed': [{ 'multipart/alternative': ['text/plain', 'text/html', 'text/calendar'] }, 'application/ics'],
      });
      const alternative = py.tree.children![0]!.children![2]!;
      expect(alternative.params).toMatchObject({ charset: 'utf-8', method: 'REQUEST' });
      expect(alternative.calendar).toMatchObject({ method: 'REQUEST', version: '2.0', errors: [] });
      expect(alternative.calendar!.events[0]).toMatchObject({ uid: '20261207T100000Z-42@example.com', summary: 'Planning – Q1 (Zoë)' });
      expect(alternative.text).toBe(crlf);
      expect(py.tree.children![1]).toMatchObject({ disposition: 'attachment', filename: 'invite.ics', text: crlf });
      expect(py.tree.children![1]!.calendar!.method).toBe('REQUEST');
      for (const p of [py.tree, ...py.tree.children!]) expect(p.defects).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a one-shot stream (bare LF, no final line end, a folded METHOD, odd chunks) is kept once and serves both parts', async () => {
    const folded = [...request.slice(0, 3), 'METH', ' OD:PUBLISH', ...event(1), ...event(2), 'END:VCALENDAR'].join('\n');
    const message = buildMessage({
      from: 'alice@example.com', to: 'bob@example.net', text: 'calendar attached',
      calendar: { source: pieces(Buffer.from(folded), 5), method: 'publish', filename: 'sessions.ics' },
    });
    expect(message.reusable).toBe(false);
    const raw = Buffer.from(await message.toBuffer());
    const py = JSON.parse(execFileSync('/usr/bin/python3', [SCRIPT], { input: raw, timeout: 30_000 }).toString('utf8')) as PyResult;
    const [alternative, attachment] = [py.tree.children![0]!.children![1]!, py.tree.children![1]!];
    expect(alternative.params.method).toBe('PUBLISH');
    expect(alternative.calendar).toMatchObject({ method: 'PUBLISH', errors: [] });
    expect(alternative.calendar!.events.map((e) => e.uid)).toEqual(['event-1@example.com', 'event-2@example.com']);
    expect(attachment).toMatchObject({ filename: 'sessions.ics', text: `${folded.replace(/\n/g, '\r\n')}\r\n` });
    expect(alternative.text).toBe(attachment.text);
    expect(() => message.stream()).toThrow(expect.objectContaining({ code: 'ERR_MIME_ALREADY_CONSUMED' }));
  });

  it('bytes as source are checked at once, like content, and the method is taken from the object', async () => {
    const { py } = await parse({ from: 'alice@example.com', to: 'bob@example.net', calendar: { source: Buffer.from(INVITE) } });
    expect(py.tree.children![0]!.params.method).toBe('REQUEST');
    expect(py.tree.children![1]!.text).toBe(crlf);
  });

  it('a large calendar streams in bounded pieces, never as one string', async () => {
    const big = Buffer.from([...request, ...Array.from({ length: 20_000 }, (_, i) => event(i)).flat(), 'END:VCALENDAR', ''].join('\r\n'));
    const message = buildMessage({ from: 'alice@example.com', to: 'bob@example.net', calendar: { source: () => pieces(big, 64 * 1024), method: 'REQUEST' } });
    let largest = 0;
    let total = 0;
    for await (const chunk of message) {
      largest = Math.max(largest, chunk.length);
      total += chunk.length;
    }
    expect(total).toBeGreaterThan(2 * big.length);
    expect(largest).toBeLessThanOrEqual(256 * 1024);
  });

  it.each([
    ['METHOD disagreeing with method', { source: () => pieces(Buffer.from(INVITE), 3), method: 'CANCEL' }, /calendar\.method: CANCEL does not match the object's METHOD:REQUEST \(RFC 6047 §2\.4\)/],
    ['no METHOD', { source: () => pieces(Buffer.from(INVITE.replace('METHOD:REQUEST\n', '')), 16), method: 'REQUEST' }, /calendar\.source: has no METHOD property/],
    ['not a calendar', { source: () => pieces(Buffer.from('hello\nworld\n'), 4), method: 'REQUEST' }, /calendar\.source: is not an iCalendar object/],
    ['cut short', { source: () => pieces(Buffer.from(INVITE.slice(0, -20)), 64), method: 'REQUEST' }, /calendar\.source: is not an iCalendar object/],
    ['METHOD of an event only', { source: () => pieces(Buffer.from(INVITE.replace('METHOD:REQUEST\n', '').replace('BEGIN:VEVENT\n', 'BEGIN:VEVENT\nMETHOD:REQUEST\n')), 9), method: 'REQUEST' }, /has no METHOD property/],
  ])('a streamed calendar with %s fails the message before its end', async (_what, calendar, message) => {
    const built = buildMessage({ from: 'a@example.com', to: 'b@example.net', text: 'x', calendar: calendar as never });
    await expect(built.toBuffer()).rejects.toThrow(expect.objectContaining({ code: 'ERR_MIME_INVALID_OPTION', message: expect.stringMatching(message) }));
  });

  it.each([
    [{ source: () => pieces(Buffer.from(INVITE), 8) }, /calendar\.method: is needed with a streamed calendar\.source/],
    [{ source: Buffer.from(INVITE), content: INVITE }, /calendar: needs exactly one of content and source/],
    [{}, /calendar: needs exactly one of content and source/],
    [{ source: 42, method: 'REQUEST' }, /calendar\.source: content must be a string, Uint8Array, iterable or stream/],
  ])('%# refused when built: %s', (calendar, message) => {
    expect(() => buildMessage({ from: 'a@example.com', calendar: calendar as never })).toThrow(expect.objectContaining({ message: expect.stringMatching(message) }));
  });

  it('CalendarCheck reads the object split at every offset', () => {
    const bytes = Buffer.from(crlf);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const check = new CalendarCheck('REQUEST', 'calendar.source');
      check.push(bytes.subarray(0, cut));
      check.push(bytes.subarray(cut));
      expect(check.end()).toBe('REQUEST');
    }
  });
});
