import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
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
