import { Buffer } from 'node:buffer';
import { LineEndCanonicalizer } from './crlf.js';
import { MimeError } from './errors.js';
import type { ContentSource, OpenableSource } from './source.js';
import { toOpenable } from './source.js';
import { normalizeLineEndings } from './text-body.js';
import { assertSafeText } from './validate.js';

/** iTIP methods (RFC 5546 §1.4). */
export const CALENDAR_METHODS = ['PUBLISH', 'REQUEST', 'REPLY', 'ADD', 'CANCEL', 'REFRESH', 'COUNTER', 'DECLINECOUNTER'] as const;
export type CalendarMethod = (typeof CALENDAR_METHODS)[number];

/**
 * A calendar invitation (iMIP, RFC 6047): the iCalendar object (RFC 5545) goes in a
 * `text/calendar; method=…` alternative beside the text and HTML, and again as an `.ics` attachment, the
 * structure nodemailer's `icalEvent` produces and Outlook and Gmail turn into an invitation.
 * Give the object as `content` (in memory) or as `source` (read as the message streams); exactly one.
 */
export interface CalendarInput {
  /**
   * The iTIP method; must match the object's METHOD property (RFC 6047 §2.4). Taken from the object when
   * omitted, except with a streamed `source`, whose part headers are written before the object is read.
   */
  method?: CalendarMethod | Lowercase<CalendarMethod>;
  /** The iCalendar object, `BEGIN:VCALENDAR` … `END:VCALENDAR`, as text or UTF-8 bytes. */
  content?: string | Uint8Array;
  /**
   * The iCalendar object as attachment contents are given: bytes or text (checked at once, as `content`),
   * a stream, or a function opening a fresh stream on every call (`() => createReadStream('invite.ics')`),
   * which is read once per part and never held whole in memory. A one-shot stream is kept in memory once,
   * for its second part. A streamed object is checked as it streams (its METHOD against `method`, which it
   * then needs); a mismatch fails the message before its end.
   */
  source?: ContentSource;
  /** The attachment's file name; default `invite.ics`. */
  filename?: string;
}

/** A checked calendar: its method, its file name, and its text with CRLF line ends (RFC 5545 §3.1) or its checked stream. */
export type CheckedCalendar =
  | { method: CalendarMethod; filename: string; text: string; source?: undefined }
  | { method: CalendarMethod; filename: string; text?: undefined; source: OpenableSource };

function invalid(field: string, message: string): MimeError {
  return new MimeError(`${field}: ${message}`, { code: 'ERR_MIME_INVALID_OPTION', field });
}

/** The unfolded start of a content line that is kept: enough for any property name and any iTIP method. */
const LINE_KEEP = 256;

/**
 * Checks an iCalendar object line by line as it arrives (CRLF line ends, any chunking): it must be one
 * VCALENDAR (RFC 5545 §3.4) carrying a METHOD calendar property (§3.7.2) that is an iTIP method and matches
 * the one asked for (RFC 6047 §2.4). Memory stays bounded: only the start of the current line is kept.
 */
export class CalendarCheck {
  readonly #asked: CalendarMethod | undefined;
  readonly #field: string;
  #line = '';
  #started = false;
  #atLineStart = true;
  #lines = 0;
  #depth = 0;
  #ended = false;
  #method: CalendarMethod | undefined;

  constructor(asked: CalendarMethod | undefined, field: string) {
    this.#asked = asked;
    this.#field = field;
  }

  /** Takes the next octets of the object (line ends already CRLF). */
  push(chunk: Uint8Array): void {
    const text = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('latin1');
    let at = 0;
    while (at < text.length) {
      if (this.#atLineStart) {
        // RFC 5545 §3.1: a line starting with a space or tab continues the previous one.
        const c = text.charCodeAt(at);
        if (this.#started && (c === 0x20 || c === 0x09)) at++;
        else {
          if (this.#started) this.#complete();
          this.#started = true;
          this.#line = '';
        }
        this.#atLineStart = false;
      }
      const lf = text.indexOf('\n', at);
      const stop = lf === -1 ? text.length : lf + 1;
      if (this.#line.length < LINE_KEEP) this.#line += text.slice(at, Math.min(stop, at + LINE_KEEP));
      if (lf !== -1) {
        this.#line = this.#line.replace(/\r?\n?$/, '');
        this.#atLineStart = true;
      }
      at = stop;
    }
  }

  /** The object is complete: returns its method, or throws naming what is wrong. */
  end(): CalendarMethod {
    if (this.#started) this.#complete();
    this.#started = false;
    this.#line = '';
    if (!this.#ended) throw invalid(this.#field, 'is not an iCalendar object (BEGIN:VCALENDAR … END:VCALENDAR, RFC 5545 §3.4)');
    if (this.#method === undefined) throw invalid(this.#field, 'has no METHOD property; iMIP needs one (RFC 6047 §2.4), e.g. METHOD:REQUEST');
    return this.#method;
  }

  #complete(): void {
    const line = this.#line;
    // Blank lines inside the object carry nothing; the first line and what follows the end are checked.
    if (line === '' && this.#lines > 0 && !this.#ended) return;
    this.#lines++;
    const name = /^[^:;]*/.exec(line)?.[0].toUpperCase() ?? '';
    const value = line.slice(line.indexOf(':') + 1).trim().toUpperCase();
    if (this.#lines === 1 ? name !== 'BEGIN' || value !== 'VCALENDAR' : this.#ended) {
      throw invalid(this.#field, 'is not an iCalendar object (BEGIN:VCALENDAR … END:VCALENDAR, RFC 5545 §3.4)');
    }
    if (name === 'BEGIN') this.#depth++;
    else if (name === 'END') {
      this.#depth--;
      this.#ended = this.#depth === 0;
    } else if (name === 'METHOD' && this.#depth === 1) this.#takeMethod(value);
  }

  #takeMethod(found: string): void {
    if (!(CALENDAR_METHODS as readonly string[]).includes(found)) throw invalid(this.#field, `METHOD:${found} is not an iTIP method`);
    if (this.#asked !== undefined && this.#asked !== found) {
      throw invalid('calendar.method', `${this.#asked} does not match the object's METHOD:${found} (RFC 6047 §2.4)`);
    }
    this.#method = found as CalendarMethod;
  }
}

/** The object's octets with CRLF line ends and a final CRLF, checked as they pass; the check's verdict ends the stream. */
async function* checkedStream(source: OpenableSource, asked: CalendarMethod, record?: Uint8Array[]): AsyncGenerator<Uint8Array> {
  const canonical = new LineEndCanonicalizer();
  const check = new CalendarCheck(asked, 'calendar.source');
  let last = 0x0a;
  const pass = (chunk: Uint8Array): Uint8Array => {
    check.push(chunk);
    if (chunk.length > 0) last = chunk[chunk.length - 1] as number;
    record?.push(chunk);
    return chunk;
  };
  for await (const chunk of source.open()) {
    const out = pass(canonical.push(chunk));
    if (out.length > 0) yield out;
  }
  const tail = pass(canonical.end());
  if (tail.length > 0) yield tail;
  check.end();
  if (last !== 0x0a) yield pass(Buffer.from('\r\n', 'latin1'));
}

/**
 * A streamed calendar as a source both parts can open: a reusable source is read afresh for each, a
 * one-shot stream is recorded as the first part reads it and replayed for the second.
 */
function calendarSource(source: OpenableSource, asked: CalendarMethod): OpenableSource {
  if (source.reusable) return { open: () => checkedStream(source, asked), reusable: true, size: undefined };
  let recorded: Uint8Array[] | undefined;
  let complete = false;
  const open = async function* (): AsyncGenerator<Uint8Array> {
    if (complete) {
      yield* recorded as Uint8Array[];
      return;
    }
    if (recorded !== undefined) throw new MimeError('calendar.source: a one-shot stream was already read', { code: 'ERR_MIME_ALREADY_CONSUMED', field: 'calendar.source' });
    recorded = [];
    yield* checkedStream(source, asked, recorded);
    complete = true;
  };
  return { open, reusable: false, size: undefined };
}

function askedMethod(input: CalendarInput): CalendarMethod | undefined {
  if (input.method === undefined) return undefined;
  const asked = typeof input.method === 'string' ? input.method.toUpperCase() : '';
  if (!(CALENDAR_METHODS as readonly string[]).includes(asked)) {
    throw invalid('calendar.method', `${JSON.stringify(input.method)} is not an iTIP method (${CALENDAR_METHODS.join(', ')})`);
  }
  return asked as CalendarMethod;
}

/** Check a {@link CalendarInput}: a VCALENDAR with a METHOD that matches `method`, now or (for a stream) as it streams. */
export function checkCalendar(input: CalendarInput): CheckedCalendar {
  if (typeof input !== 'object' || input === null) throw invalid('calendar', 'must be an object');
  const filename = input.filename ?? 'invite.ics';
  if (typeof filename !== 'string' || filename === '') throw invalid('calendar.filename', 'must be a non-empty string');
  assertSafeText(filename, 'calendar.filename');
  const asked = askedMethod(input);
  if ((input.content === undefined) === (input.source === undefined)) throw invalid('calendar', 'needs exactly one of content and source');
  const field = input.content === undefined ? 'calendar.source' : 'calendar.content';
  const raw = input.content ?? input.source;
  if (typeof raw === 'string' || raw instanceof Uint8Array) {
    const text = normalizeLineEndings(typeof raw === 'string' ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8'));
    const check = new CalendarCheck(asked, field);
    check.push(Buffer.from(text, 'utf8'));
    return { method: check.end(), filename, text: text.endsWith('\r\n') ? text : `${text}\r\n` };
  }
  if (input.content !== undefined) throw invalid(field, 'must be the iCalendar text (a string or bytes)');
  if (asked === undefined) {
    throw invalid('calendar.method', 'is needed with a streamed calendar.source: the part headers name the method before the object is read (RFC 6047 §2.4)');
  }
  return { method: asked, filename, source: calendarSource(toOpenable(raw as ContentSource, field), asked) };
}
