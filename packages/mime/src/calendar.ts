import { Buffer } from 'node:buffer';
import { MimeError } from './errors.js';
import { normalizeLineEndings } from './text-body.js';
import { assertSafeText } from './validate.js';

/** iTIP methods (RFC 5546 §1.4). */
export const CALENDAR_METHODS = ['PUBLISH', 'REQUEST', 'REPLY', 'ADD', 'CANCEL', 'REFRESH', 'COUNTER', 'DECLINECOUNTER'] as const;
export type CalendarMethod = (typeof CALENDAR_METHODS)[number];

/**
 * A calendar invitation (iMIP, RFC 6047): the iCalendar object (RFC 5545) goes in a
 * `text/calendar; method=…` alternative beside the text and HTML, and again as an `.ics` attachment, the
 * structure nodemailer's `icalEvent` produces and Outlook and Gmail turn into an invitation.
 */
export interface CalendarInput {
  /** The iTIP method; must match the object's METHOD property (RFC 6047 §2.4); taken from it when omitted. */
  method?: CalendarMethod | Lowercase<CalendarMethod>;
  /** The iCalendar object, `BEGIN:VCALENDAR` … `END:VCALENDAR`, as text or UTF-8 bytes. */
  content: string | Uint8Array;
  /** The attachment's file name; default `invite.ics`. */
  filename?: string;
}

/** A checked calendar: its method and its text with CRLF line ends (RFC 5545 §3.1). */
export interface CheckedCalendar {
  method: CalendarMethod;
  text: string;
  filename: string;
}

function invalid(field: string, message: string): MimeError {
  return new MimeError(`${field}: ${message}`, { code: 'ERR_MIME_INVALID_OPTION', field });
}

/** Check a {@link CalendarInput}: a VCALENDAR with a METHOD that matches `method`. */
export function checkCalendar(input: CalendarInput): CheckedCalendar {
  if (typeof input !== 'object' || input === null) throw invalid('calendar', 'must be an object');
  const raw = input.content;
  if (typeof raw !== 'string' && !(raw instanceof Uint8Array)) throw invalid('calendar.content', 'must be the iCalendar text (a string or bytes)');
  const text = normalizeLineEndings(typeof raw === 'string' ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8'));
  if (!/^BEGIN:VCALENDAR\r\n/i.test(text) || !/\r\nEND:VCALENDAR(?:\r\n)?$/i.test(text)) {
    throw invalid('calendar.content', 'is not an iCalendar object (BEGIN:VCALENDAR … END:VCALENDAR, RFC 5545 §3.4)');
  }
  // RFC 5545 §3.1: unfold (CRLF followed by a space or tab) before reading properties.
  const unfolded = text.replace(/\r\n[ \t]/g, '');
  const found = /\r\nMETHOD(?:;[^:\r\n]*)?:([^\r\n]*)\r\n/i.exec(unfolded)?.[1]?.trim().toUpperCase();
  const asked = input.method?.toUpperCase();
  if (asked !== undefined && !(CALENDAR_METHODS as readonly string[]).includes(asked)) {
    throw invalid('calendar.method', `${JSON.stringify(input.method)} is not an iTIP method (${CALENDAR_METHODS.join(', ')})`);
  }
  if (found === undefined) {
    throw invalid('calendar.content', 'has no METHOD property; iMIP needs one (RFC 6047 §2.4), e.g. METHOD:REQUEST');
  }
  if (!(CALENDAR_METHODS as readonly string[]).includes(found)) throw invalid('calendar.content', `METHOD:${found} is not an iTIP method`);
  if (asked !== undefined && asked !== found) {
    throw invalid('calendar.method', `${asked} does not match the object's METHOD:${found} (RFC 6047 §2.4)`);
  }
  const filename = input.filename ?? 'invite.ics';
  if (typeof filename !== 'string' || filename === '') throw invalid('calendar.filename', 'must be a non-empty string');
  assertSafeText(filename, 'calendar.filename');
  return { method: found as CalendarMethod, text: text.endsWith('\r\n') ? text : `${text}\r\n`, filename };
}
