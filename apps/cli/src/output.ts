import { closeSync, openSync, writeSync } from 'node:fs';
import { UsageError } from './exit-codes.js';
import type { OutputConfig } from './send-options.js';

/** One transcript line, as the client reports it. */
export interface TranscriptLine {
  dir: 'C' | 'S' | '*';
  text: string;
  at: number;
}

/**
 * Everything the CLI prints goes through here, so `-q` means nothing at all and no secret
 * reaches a terminal or file: each string is scrubbed of every known secret form first
 * (the client already redacts AUTH; this is the second lock on the door).
 */
export class Output {
  private readonly secrets: string[] = [];
  private transcriptFd: number | undefined;

  constructor(
    readonly config: OutputConfig,
    private readonly stdout: NodeJS.WritableStream = process.stdout,
    private readonly stderr: NodeJS.WritableStream = process.stderr,
  ) {
    if (config.transcript !== undefined) {
      try {
        this.transcriptFd = openSync(config.transcript, 'w', 0o600);
      } catch (error) {
        throw new UsageError(`cannot write --transcript ${config.transcript}: ${(error as Error).message}`);
      }
    }
  }

  /** Remember a secret (and the encodings AUTH puts it in) so it is never printed. */
  addSecret(secret: string, user = ''): void {
    if (!secret) return;
    const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
    this.secrets.push(
      secret,
      b64(secret),
      b64(`\0${user}\0${secret}`), // PLAIN, RFC 4616 §2
      b64(`user=${user}\x01auth=Bearer ${secret}\x01\x01`), // XOAUTH2
      b64(`n,a=${user},\x01auth=Bearer ${secret}\x01\x01`), // OAUTHBEARER, RFC 7628 §3.1
    );
    this.secrets.sort((a, b) => b.length - a.length);
  }

  /** Replace every known secret with `***`. */
  redact(text: string): string {
    let out = text;
    for (const s of this.secrets) if (out.includes(s)) out = out.split(s).join('***');
    return out;
  }

  /** A transcript event: `-v` prints it on stderr, `--transcript` appends it as a JSON line. */
  transcript(e: TranscriptLine): void {
    const text = this.redact(e.text);
    if (this.transcriptFd !== undefined) writeSync(this.transcriptFd, JSON.stringify({ ...e, text }) + '\n');
    if (this.config.verbose) this.stderr.write(`${e.dir === '*' ? '*' : `${e.dir}:`} ${escapeControls(text)}\n`);
  }

  /** Human output on stdout (not with -q or --json). */
  info(line: string): void {
    if (!this.config.quiet && !this.config.json) this.stdout.write(this.redact(line) + '\n');
  }

  /** A warning or error line on stderr (not with -q). */
  warn(line: string): void {
    if (!this.config.quiet) this.stderr.write(this.redact(line) + '\n');
  }

  /** Raw bytes on stdout (for --dry-run; not with -q). */
  raw(bytes: Uint8Array): void {
    if (!this.config.quiet) this.stdout.write(this.redact(Buffer.from(bytes).toString('latin1')), 'latin1');
  }

  /** The one JSON object of --json. */
  json(value: unknown): void {
    if (this.config.json) this.stdout.write(this.redact(JSON.stringify(value)) + '\n');
  }

  /** True when a progress bar may be drawn. */
  get mayShowProgress(): boolean {
    return !this.config.quiet && !this.config.json && (this.stderr as { isTTY?: boolean }).isTTY === true;
  }

  close(): void {
    if (this.transcriptFd !== undefined) closeSync(this.transcriptFd);
    this.transcriptFd = undefined;
  }
}

/** Make CR, LF and other C0 controls visible, so a hostile reply cannot rewrite the terminal. */
export function escapeControls(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x08\x0a-\x1f\x7f]/g, (c) =>
    c === '\r' ? '\\r' : c === '\n' ? '\\n' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

/** Fold a possibly multi-line server text onto one line. */
export function oneLine(text: string): string {
  return escapeControls(text.replace(/\r?\n/g, ' / '));
}
