import type { Buffer } from 'node:buffer';
import { AuthExchange } from './auth-exchange.js';
import type { AuthStep, ServerAuthMechanism } from './auth-exchange.js';
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
import { DEFAULT_MAX_ERRORS, DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_MAX_RECIPIENTS } from './session-types.js';
import type { ServerAuthOptions, ServerEvent, ServerSessionOptions } from './session-types.js';
import type { Transaction, TransactionContext } from './transaction.js';
import { MAX_AUTH_RESPONSE_LINE, MAX_COMMAND_LINE } from '../command-encoder.js';

/** Where the session reads its input: command lines, an AUTH response, or nothing more. */
type Mode = 'command' | 'auth' | 'closed';

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
  #mode: Mode = 'command';
  #secure: boolean;
  #greeted: Greeted = 'none';
  #authUser: string | undefined;
  #auth: AuthExchange | undefined;
  #tx: Transaction | undefined;
  /** What the transaction's commands reach of this session. */
  readonly #ctx: TransactionContext;
  readonly #lines = new LineReader();
  /** DATA and BDAT: while it receives, octets are message data, not command lines. */
  readonly #intake: BodyIntake;
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
      open: (tx) => (this.#tx = tx),
      abort: () => this.#abort(),
      end: () => (this.#tx = undefined),
    };
    this.#intake = new BodyIntake(this.#ctx);
  }

  /** True once QUIT was answered or the session was ended with 421. */
  get isClosed(): boolean {
    return this.#mode === 'closed';
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
    this.#mode = 'closed';
    return encodeServerReply({ code: 421, enhanced: '4.4.2', lines: [`${this.#o.hostname} ${text}`] });
  }

  /** Feeds received octets; returns what happened, in order. Ignores input once closed. */
  push(chunk: Uint8Array): ServerEvent[] {
    this.#events = [];
    this.#repliesPending = 0;
    let rest: Uint8Array = chunk;
    while (rest.length > 0 && this.#mode !== 'closed') {
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
    const max = this.#mode === 'auth' ? MAX_AUTH_RESPONSE_LINE : MAX_COMMAND_LINE;
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
    const masked = this.#mode === 'auth' || /^auth /i.test(text);
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
    if (this.#mode === 'auth') return this.#authStep((this.#auth as AuthExchange).next(text));
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
        return mail(this.#ctx, c, this.#tx, this.#greeted, this.#authUser !== undefined);
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
        this.#mode = 'closed';
        return this.#event({ type: 'close' });
      case 'STARTTLS':
        return this.#starttls();
      case 'AUTH':
        return this.#startAuth(c.mechanism, c.initialResponse);
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
    this.#authUser = undefined;
    this.#secure = true;
    this.#use('STARTTLS');
    this.#event({ type: 'starttls' });
    this.#pendingTls = true;
  }

  /** Set between the 220 to STARTTLS and the end of this push: later octets are plaintext injection. */
  #pendingTls = false;

  #startAuth(mechanism: string, initialResponse: string | undefined): void {
    const auth = this.#o.auth;
    if (!auth || auth.mechanisms.length === 0) return this.#fail(502, '5.5.1', 'AUTH not offered');
    if (this.#greeted !== 'EHLO') return this.#fail(503, '5.5.1', 'Send EHLO first (RFC 4954 §4)');
    if (this.#authUser !== undefined) return this.#fail(503, '5.5.1', 'Already authenticated (RFC 4954 §4)');
    if (this.#tx) return this.#fail(503, '5.5.1', 'AUTH not allowed during a mail transaction (RFC 4954 §4)');
    if (!(auth.mechanisms as string[]).includes(mechanism)) {
      return this.#fail(504, '5.5.4', `Unrecognized authentication type ${mechanism}`);
    }
    const m = mechanism as ServerAuthMechanism;
    const challenge = this.#o.cramChallenge?.() ?? `<${Date.now()}@${this.#o.hostname}>`;
    this.#auth = new AuthExchange(m, challenge);
    this.#authStep(this.#auth.start(initialResponse));
  }

  #authStep(step: AuthStep): void {
    const exchange = this.#auth as AuthExchange;
    if (step.kind === 'challenge') {
      this.#mode = 'auth';
      return this.#reply(334, undefined, step.text);
    }
    this.#mode = 'command';
    this.#auth = undefined;
    if (step.kind === 'error') {
      this.#event({ type: 'auth', mechanism: exchange.mechanism, user: '', ok: false });
      this.#find('auth-failed', step.reason);
      return this.#fail(step.code, step.code === 501 ? '5.5.2' : '5.7.8', step.reason);
    }
    const ok = (this.#o.auth as ServerAuthOptions).verify(step.credentials);
    this.#event({ type: 'auth', mechanism: exchange.mechanism, user: step.credentials.user, ok });
    if (!ok) {
      this.#find('auth-failed', `user ${JSON.stringify(step.credentials.user)}`);
      return this.#fail(535, '5.7.8', 'Authentication credentials invalid');
    }
    this.#authUser = step.credentials.user;
    this.#use(`AUTH ${exchange.mechanism}`);
    this.#reply(235, '2.7.0', 'Authentication successful');
  }

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

  #fail(code: number, enhanced: string, text: string): void {
    if (this.#mode === 'auth') {
      this.#mode = 'command';
      this.#auth = undefined;
    }
    this.#reply(code, enhanced, text);
    if (code >= 500 && ++this.#errors >= this.#maxErrors) {
      this.#emitReply(this.shutdown('too many errors'), 421);
      this.#event({ type: 'close' });
    }
  }
}
