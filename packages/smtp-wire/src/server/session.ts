import type { Buffer } from 'node:buffer';
import { BodyIntake } from './body-intake.js';
import { parseCommand } from './command-parser.js';
import type { ServerCommand } from './command-parser.js';
import { ehloKeywords } from './ehlo-keywords.js';
import { mail, rcpt } from './envelope.js';
import type { Greeted } from './envelope.js';
import { sessionFinding } from './findings.js';
import type { FindingCode } from './findings.js';
import { LineReader, maskAuth } from './line-reader.js';
import { encodeServerReply } from './reply-encoder.js';
import { SessionAuth } from './session-auth.js';
import type { AuthHost } from './session-auth.js';
import { DEFAULT_MAX_ERRORS, DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_MAX_RECIPIENTS } from './session-types.js';
import type { ServerEvent, ServerSessionOptions } from './session-types.js';
import type { Transaction, TransactionContext } from './transaction.js';
import { MAX_AUTH_RESPONSE_LINE, MAX_COMMAND_LINE } from '../command-encoder.js';

const CR = 0x0d;

/**
 * The server side of an SMTP session (RFC 5321 §4.1, §4.3 sequencing; RFC 2920, 3030, 3207, 4954,
 * 6152, 6531, 1870, 3461), bytes in, events out, no I/O and no timers: the caller owns the socket.
 *
 * `push(bytes)` parses command lines (bounded: 512 octets, RFC 5321 §4.5.3.1.4), runs the sequencing
 * rules, decodes DATA and BDAT, and returns events: the replies to write, the message octets, accepted
 * transactions, and findings (what the client did against an RFC, with the section). A command that
 * arrives in the same push as an earlier command whose reply is still unsent was pipelined.
 *
 * @example
 * ```ts
 * const s = new ServerSession({ hostname: 'inbox.test', queueId: () => 'm1' });
 * socket.write(s.greet());
 * socket.on('data', (b) => { for (const e of s.push(b)) if (e.type === 'reply') socket.write(e.bytes); });
 * ```
 */
export class ServerSession {
  readonly #o: ServerSessionOptions;
  readonly #maxSize: number;
  readonly #maxErrors: number;
  #closed = false;
  #secure: boolean;
  #greeted: Greeted = 'none';
  #tx: Transaction | undefined;
  /** What the transaction's commands and AUTH reach of this session. */
  readonly #ctx: TransactionContext & AuthHost;
  readonly #lines = new LineReader();
  /** DATA and BDAT: while it receives, octets are message data, not command lines. */
  readonly #intake: BodyIntake;
  /** AUTH: while it exchanges, a line is the response to its 334 challenge. */
  readonly #auth: SessionAuth;
  #errors = 0;
  #events: ServerEvent[] = [];
  #repliesPending = 0;
  readonly #used = new Set<string>();
  readonly #seen = new Set<string>();

  constructor(options: ServerSessionOptions) {
    this.#o = options;
    this.#maxSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    this.#maxErrors = options.maxErrors ?? DEFAULT_MAX_ERRORS;
    this.#secure = options.secure ?? false;
    this.#ctx = {
      options,
      maxSize: this.#maxSize,
      maxRecipients: options.maxRecipients ?? DEFAULT_MAX_RECIPIENTS,
      used: this.#used,
      find: (code, detail) => this.#find(code, detail),
      reply: (code, enhanced, text) => this.#reply(code, enhanced, text),
      fail: (code, enhanced, text) => this.#fail(code, enhanced, text),
      event: (e) => this.#event(e),
      use: (keyword) => this.#use(keyword),
      open: (tx) => (this.#tx = tx),
      abort: () => this.#abort(),
      end: () => (this.#tx = undefined),
    };
    this.#intake = new BodyIntake(this.#ctx);
    this.#auth = new SessionAuth(this.#ctx, options);
  }

  /** True once QUIT was answered or the session was ended with 421. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** The connection is TLS (implicit, or after STARTTLS). */
  get isSecure(): boolean {
    return this.#secure;
  }

  /** EHLO keywords used so far in the session (STARTTLS, AUTH …, PIPELINING …). */
  get extensionsUsed(): string[] {
    return [...this.#used];
  }

  /** The 220 greeting (RFC 5321 §4.3.1). */
  greet(): Uint8Array {
    return encodeServerReply({ code: 220, lines: [`${this.#o.hostname} ${this.#o.greeting ?? 'ESMTP'}`] });
  }

  /**
   * A 421 to send before closing (RFC 5321 §3.8), e.g. when the caller's idle timer fires.
   * The session is closed afterwards.
   */
  shutdown(text = 'closing connection'): Uint8Array {
    this.#closed = true;
    return encodeServerReply({ code: 421, enhanced: '4.4.2', lines: [`${this.#o.hostname} ${text}`] });
  }

  /** Feeds received octets; returns what happened, in order. Ignores input once closed. */
  push(chunk: Uint8Array): ServerEvent[] {
    this.#events = [];
    this.#repliesPending = 0;
    let rest: Uint8Array = chunk;
    while (rest.length > 0 && !this.#closed) {
      rest = this.#intake.isReceiving ? this.#intake.push(rest) : this.#pushLine(rest);
      if (this.#pendingTls && rest.length > 0) {
        // RFC 3207 §4.2: plaintext after STARTTLS may be an attacker's injection; it is dropped.
        this.#find('starttls-pipelined', `${rest.length} octets`);
        break;
      }
    }
    this.#pendingTls = false;
    this.#intake.repliesSent();
    return this.#events;
  }

  // ── lines ────────────────────────────────────────────────────────────────

  #pushLine(chunk: Uint8Array): Uint8Array {
    const max = this.#auth.isExchanging ? MAX_AUTH_RESPONSE_LINE : MAX_COMMAND_LINE;
    const step = this.#lines.push(chunk, max);
    if (step.kind === 'line') {
      this.#onLine(step.line);
    } else if (step.kind === 'too-long') {
      this.#event({ type: 'command', line: `<line of ${step.length} octets>`, pipelined: this.#repliesPending > 0 });
      this.#find('command-too-long', `${step.length} octets`);
      this.#fail(500, '5.5.2', `Line too long (RFC 5321 §4.5.3.1.4: at most ${max} octets)`);
    }
    return step.rest;
  }

  #onLine(raw: Buffer): void {
    const bareLf = raw.length < 2 || raw[raw.length - 2] !== CR;
    const text = raw.toString('utf8', 0, raw.length - (bareLf ? 1 : 2));
    const masked = this.#auth.isExchanging || /^auth /i.test(text);
    const pipelined = this.#repliesPending > 0;
    this.#event({ type: 'command', line: masked ? maskAuth(text) + (bareLf ? '\n' : '\r\n') : raw.toString('utf8'), pipelined });
    if (pipelined) {
      if (this.#o.pipelining === false) this.#find('pipelining-not-offered');
      else this.#use('PIPELINING');
    }
    if (bareLf) {
      this.#find('bare-lf-command');
      if (!this.#o.allowBareLf) return this.#fail(500, '5.5.2', 'Command lines must end with CRLF (RFC 5321 §2.3.8)');
    }
    if (text.includes('\r')) {
      this.#find('bare-cr-command');
      return this.#fail(501, '5.5.2', 'Bare CR in command line (RFC 5321 §2.3.8)');
    }
    // eslint-disable-next-line no-control-regex -- refusing control characters is the point
    if (/[\u0000-\u001f\u007f]/.test(text)) return this.#fail(501, '5.5.2', 'Control character in command line');
    if (this.#auth.isExchanging) return this.#auth.next(text);
    const parsed = parseCommand(text);
    if (!parsed.ok) {
      this.#find(parsed.code === 500 ? 'unknown-command' : 'syntax-error', parsed.reason);
      return this.#fail(parsed.code, parsed.code === 500 ? '5.5.1' : '5.5.4', parsed.reason);
    }
    this.#command(parsed.command);
  }

  #command(c: ServerCommand): void {
    switch (c.verb) {
      case 'EHLO':
      case 'HELO':
        return this.#hello(c.verb, c.domain);
      case 'MAIL':
        return mail(this.#ctx, c, this.#tx, this.#greeted, this.#auth.user !== undefined);
      case 'RCPT':
        return rcpt(this.#ctx, c, this.#tx, this.#greeted);
      case 'DATA':
        return this.#intake.data(this.#tx, this.#greeted !== 'none');
      case 'BDAT':
        return this.#intake.bdat(this.#tx, c.size, c.last, this.#greeted !== 'none');
      case 'RSET':
        this.#abort();
        return this.#reply(250, '2.0.0', 'Ok');
      case 'NOOP':
        return this.#reply(250, '2.0.0', 'Ok');
      case 'HELP':
        return this.#reply(214, '2.0.0', 'See RFC 5321');
      case 'VRFY':
        return this.#reply(252, '2.5.0', 'Cannot VRFY user, but will accept message and attempt delivery');
      case 'EXPN':
        return this.#fail(502, '5.5.1', 'EXPN not implemented');
      case 'QUIT':
        this.#abort();
        this.#reply(221, '2.0.0', `${this.#o.hostname} closing connection`);
        this.#closed = true;
        return this.#event({ type: 'close' });
      case 'STARTTLS':
        return this.#starttls();
      case 'AUTH':
        return this.#auth.start(c.mechanism, c.initialResponse, this.#greeted === 'EHLO', this.#tx !== undefined);
    }
  }

  #hello(verb: 'EHLO' | 'HELO', domain: string): void {
    this.#abort();
    this.#greeted = verb;
    const first = `${this.#o.hostname} greets ${domain}`;
    if (verb === 'HELO') return this.#reply(250, undefined, first);
    const keywords = ehloKeywords(this.#o, this.#maxSize, this.#secure);
    this.#emitReply(encodeServerReply({ code: 250, lines: [first, ...keywords] }), 250);
  }

  /** Ends the open transaction, if any (RSET, EHLO, QUIT, STARTTLS). */
  #abort(): void {
    if (this.#tx && this.#tx.size > 0 && !this.#tx.oversize) this.#event({ type: 'discard' });
    this.#tx = undefined;
  }

  #starttls(): void {
    if (!this.#o.starttls) return this.#fail(502, '5.5.1', 'STARTTLS not offered');
    if (this.#secure) return this.#fail(503, '5.5.1', 'TLS already active');
    this.#reply(220, '2.0.0', 'Ready to start TLS');
    // RFC 3207 §4.2: forget everything learnt before TLS.
    this.#abort();
    this.#greeted = 'none';
    this.#auth.reset();
    this.#secure = true;
    this.#use('STARTTLS');
    this.#event({ type: 'starttls' });
    this.#pendingTls = true;
  }

  /** Set between the 220 to STARTTLS and the end of this push: later octets are plaintext injection. */
  #pendingTls = false;

  // ── output ───────────────────────────────────────────────────────────────

  #use(keyword: string): void {
    this.#used.add(keyword);
    this.#tx?.extensions.add(keyword);
  }

  #find(code: FindingCode, detail?: string): void {
    const finding = sessionFinding(code, detail);
    if (this.#tx && !this.#tx.findings.some((f) => f.code === code)) this.#tx.findings.push(finding);
    if (this.#seen.has(code)) return;
    this.#seen.add(code);
    this.#event({ type: 'finding', finding });
  }

  #event(e: ServerEvent): void {
    this.#events.push(e);
  }

  #emitReply(bytes: Uint8Array, code: number): void {
    this.#event({ type: 'reply', bytes, code });
    this.#repliesPending++;
  }

  #reply(code: number, enhanced: string | undefined, text: string): void {
    this.#emitReply(encodeServerReply(enhanced === undefined ? { code, lines: [text] } : { code, enhanced, lines: [text] }), code);
  }

  /** A refusal; a refused AUTH response line ends the exchange. Too many 5yz end the session with 421. */
  #fail(code: number, enhanced: string, text: string): void {
    this.#auth.cancel();
    this.#reply(code, enhanced, text);
    if (code >= 500 && ++this.#errors >= this.#maxErrors) {
      this.#emitReply(this.shutdown('too many errors'), 421);
      this.#event({ type: 'close' });
    }
  }
}
