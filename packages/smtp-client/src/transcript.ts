/** One transcript line: `C` client → server, `S` server → client, `*` a local event. */
export interface TranscriptEvent {
  dir: 'C' | 'S' | '*';
  /** One line without CRLF; AUTH secrets already redacted, message data summarised. */
  text: string;
  /** `Date.now()` when it happened. */
  at: number;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;

/** Escape CR, LF and other C0 controls so a transcript line stays one printable line. */
export function escapeLine(text: string): string {
  if (!CONTROL.test(text)) return text;
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x08\x0a-\x1f\x7f]/g, (c) => {
    if (c === '\r') return '\\r';
    if (c === '\n') return '\\n';
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

/** Format an event as the CLI prints it: `C: EHLO x`. */
export function formatTranscriptEvent(e: TranscriptEvent): string {
  return `${e.dir}: ${escapeLine(e.text)}`;
}

/** Emits transcript events to an optional sink; a throwing sink never breaks the session. */
export class Transcript {
  readonly #sink: ((e: TranscriptEvent) => void) | undefined;
  constructor(sink?: (e: TranscriptEvent) => void) {
    this.#sink = sink;
  }
  get enabled(): boolean {
    return this.#sink !== undefined;
  }
  emit(dir: TranscriptEvent['dir'], text: string): void {
    if (!this.#sink) return;
    try {
      this.#sink({ dir, text: escapeLine(text), at: Date.now() });
    } catch {
      // A logging hook must not change the outcome of the protocol exchange.
    }
  }
  note(text: string): void {
    this.emit('*', text);
  }
}
