import type { TranscriptEvent } from '@smtpkit/client';
import { EXIT, type ExitCode } from './exit-codes.js';

/** A reply seen in the transcript: `250 2.1.5 Ok` → code 250. */
export interface SeenReply {
  code: number;
  text: string;
}

/**
 * `--quit-after mail|rcpt` (swaks style). The client's handshake stops by itself up to `auth`; for
 * the envelope steps the CLI watches the transcript of a non-pipelined send and aborts as soon as the
 * last reply of the step has arrived, so the next command is never written (the client checks the
 * signal before every write) and no message data is sent. The session ends without QUIT: after an
 * abort the client closes the connection rather than risk a reply out of step.
 */
export class EnvelopeStopper {
  readonly controller = new AbortController();
  readonly mailReplies: SeenReply[] = [];
  readonly rcptReplies: SeenReply[] = [];
  private last: 'MAIL' | 'RCPT' | undefined;
  private rcptsSent = 0;

  constructor(
    readonly step: 'mail' | 'rcpt',
    readonly recipients: number,
  ) {}

  get stopped(): boolean {
    return this.controller.signal.aborted;
  }

  /** Feed every transcript event; returns false for events after the stop (commands never written). */
  observe(e: TranscriptEvent): boolean {
    if (this.stopped) return e.dir !== 'C';
    if (e.dir === 'C') {
      const verb = e.text.slice(0, 4).toUpperCase();
      this.last = verb === 'MAIL' || verb === 'RCPT' ? verb : undefined;
      if (verb === 'RCPT') this.rcptsSent++;
      return true;
    }
    if (e.dir !== 'S' || !this.last) return true;
    const m = /^(\d{3})([ -])(.*)$/.exec(e.text);
    if (!m) return true;
    const reply = { code: Number(m[1]), text: m[3] ?? '' };
    if (m[2] === '-') return true;
    if (this.last === 'MAIL') {
      this.mailReplies.push(reply);
      if (this.step === 'mail') this.controller.abort(new Error('--quit-after mail'));
    } else {
      this.rcptReplies.push(reply);
      if (this.step === 'rcpt' && this.rcptsSent >= this.recipients) this.controller.abort(new Error('--quit-after rcpt'));
    }
    this.last = undefined;
    return true;
  }

  /** Exit code from what the server said before the stop. */
  exitCode(): ExitCode {
    const klass = (r: SeenReply | undefined) => Math.floor((r?.code ?? 0) / 100);
    const mail = this.mailReplies[0];
    if (klass(mail) !== 2) return klass(mail) === 4 ? EXIT.TEMPFAIL : klass(mail) === 5 ? EXIT.UNAVAILABLE : EXIT.PROTOCOL;
    if (this.step === 'mail') return EXIT.OK;
    const bad = this.rcptReplies.filter((r) => klass(r) !== 2);
    if (bad.length === 0) return EXIT.OK;
    if (bad.length < this.rcptReplies.length) return EXIT.NOUSER;
    return bad.every((r) => klass(r) === 4) ? EXIT.TEMPFAIL : EXIT.UNAVAILABLE;
  }
}
