import { Buffer } from 'node:buffer';
import { AuthExchange } from './auth-exchange.js';
import type { ServerAuthMechanism } from './auth-exchange.js';
import { parseCommand, isUtf8Path } from './command-parser.js';
import { mailParamProblem, rcptParamProblem } from './esmtp-params.js';
import type { EsmtpParams, ServerCommand } from './command-parser.js';
import { BodyScanner, DataDecoder } from './data-decoder.js';
import type { BodyTraits } from './data-decoder.js';
import { ehloKeywords } from './ehlo-keywords.js';
import { sessionFinding } from './findings.js';
import type { Finding, FindingCode } from './findings.js';
import { LineReader, maskAuth } from './line-reader.js';
import { DEFAULT_MAX_ERRORS, DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_MAX_RECIPIENTS } from './session-types.js';
import type { ServerAuthOptions, ServerEvent, ServerSessionOptions } from './session-types.js';
import { encodeServerReply } from './reply-encoder.js';
import { MAX_AUTH_RESPONSE_LINE, MAX_COMMAND_LINE } from '../command-encoder.js';

interface Transaction {
  from: string;
  mailParams: EsmtpParams;
  to: string[];
  rcptParams: EsmtpParams[];
  findings: Finding[];
  extensions: Set<string>;
  chunks: number[];
  size: number;
  oversize: boolean;
  bdatFailed: boolean;
  scanner: BodyScanner | undefined;
}

type Mode = 'command' | 'auth' | 'data' | 'bdat' | 'closed';

const CR = 0x0d;
const EIGHT_BIT_BODIES = new Set(['8BITMIME', 'BINARYMIME']);

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
  readonly #maxRcpt: number;
  readonly #maxErrors: number;
  #mode: Mode = 'command';
  #secure: boolean;
  #greeted: 'none' | 'HELO' | 'EHLO' = 'none';
  #authUser: string | undefined;
  #auth: AuthExchange | undefined;
  #tx: Transaction | undefined;
  #decoder: DataDecoder | undefined;
  #bdatLeft = 0;
  #bdatLast = false;
  readonly #lines = new LineReader();
  #errors = 0;
  #events: ServerEvent[] = [];
  #repliesPending = 0;
  readonly #used = new Set<string>();
  readonly #seen = new Set<string>();

  constructor(options: ServerSessionOptions) {
    this.#o = options;
    this.#maxSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    this.#maxRcpt = options.maxRecipients ?? DEFAULT_MAX_RECIPIENTS;
    this.#maxErrors = options.maxErrors ?? DEFAULT_MAX_ERRORS;
    this.#secure = options.secure ?? false;
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
      if (this.#mode === 'data') rest = this.#pushData(rest);
      else if (this.#mode === 'bdat') rest = this.#pushBdat(rest);
      else rest = this.#pushLine(rest);
      if (this.#pendingTls && rest.length > 0) {
        // RFC 3207 §4.2: plaintext after STARTTLS may be an attacker's injection; it is dropped.
        this.#find('starttls-pipelined', `${rest.length} octets`);
        break;
      }
    }
    this.#pendingTls = false;
    this.#dataBefore354 = false;
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
        return this.#mail(c.from, c.params, c.spaceAfterColon);
      case 'RCPT':
        return this.#rcpt(c.to, c.params, c.spaceAfterColon);
      case 'DATA':
        return this.#data();
      case 'BDAT':
        return this.#bdat(c.size, c.last);
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

  // ── the transaction ──────────────────────────────────────────────────────

  #mail(from: string, params: EsmtpParams, spaceAfterColon: boolean): void {
    if (this.#greeted === 'none') {
      this.#find('command-before-ehlo', 'MAIL');
      return this.#fail(503, '5.5.1', 'Send EHLO or HELO first (RFC 5321 §4.1.4)');
    }
    if (this.#o.auth?.required && this.#authUser === undefined) {
      this.#find('auth-required');
      return this.#fail(530, '5.7.0', 'Authentication required (RFC 4954 §6)');
    }
    if (this.#tx) {
      this.#find('nested-mail');
      return this.#fail(503, '5.5.1', 'Nested MAIL command (RFC 5321 §4.1.1.2)');
    }
    const problem = this.#checkParams('MAIL', params);
    if (problem) return;
    const size = params.SIZE === undefined ? undefined : Number(params.SIZE);
    if (size !== undefined && size > this.#maxSize) {
      this.#find('size-exceeded', `SIZE=${size} > ${this.#maxSize}`);
      return this.#fail(552, '5.3.4', `Message size exceeds fixed maximum message size (${this.#maxSize})`);
    }
    const tx: Transaction = {
      from, mailParams: params, to: [], rcptParams: [], findings: [], extensions: new Set(this.#used),
      chunks: [], size: 0, oversize: false, bdatFailed: false, scanner: undefined,
    };
    this.#tx = tx;
    this.#usedParams(params);
    if (spaceAfterColon) this.#find('space-after-colon', 'MAIL FROM');
    if (isUtf8Path(from) && params.SMTPUTF8 === undefined) this.#find('utf8-envelope-without-smtputf8', from);
    this.#reply(250, '2.1.0', 'Ok');
  }

  #rcpt(to: string, params: EsmtpParams, spaceAfterColon: boolean): void {
    const tx = this.#tx;
    if (!tx) {
      this.#find(this.#greeted === 'none' ? 'command-before-ehlo' : 'rcpt-before-mail', 'RCPT');
      return this.#fail(503, '5.5.1', 'Need MAIL before RCPT (RFC 5321 §4.1.4)');
    }
    if (this.#checkParams('RCPT', params)) return;
    if (tx.to.length >= this.#maxRcpt) {
      this.#find('too-many-recipients', `more than ${this.#maxRcpt}`);
      return this.#reply(452, '4.5.3', 'Too many recipients (RFC 5321 §4.5.3.1.10)');
    }
    tx.to.push(to);
    tx.rcptParams.push(params);
    this.#usedParams(params);
    if (spaceAfterColon) this.#find('space-after-colon', 'RCPT TO');
    if (isUtf8Path(to) && tx.mailParams.SMTPUTF8 === undefined) this.#find('utf8-envelope-without-smtputf8', to);
    this.#reply(250, '2.1.5', 'Ok');
  }

  /** Checks the parameters against what was offered; replies and returns true on a problem. */
  #checkParams(verb: 'MAIL' | 'RCPT', params: EsmtpParams): boolean {
    const keys = Object.keys(params);
    if (keys.length === 0) return false;
    if (this.#greeted !== 'EHLO') {
      this.#find('esmtp-param-after-helo', keys.join(' '));
      this.#fail(555, '5.5.4', 'ESMTP parameters need EHLO (RFC 5321 §4.1.1.11)');
      return true;
    }
    const o = this.#o;
    for (const key of keys) {
      const value = params[key] as string;
      const bad = verb === 'MAIL' ? mailParamProblem(key, value, o) : rcptParamProblem(key, value, o.dsn !== false);
      if (bad !== undefined) {
        this.#find(bad.unknown ? 'unknown-parameter' : 'syntax-error', `${key}${value === '' ? '' : `=${value}`}`);
        this.#fail(bad.unknown ? 555 : 501, bad.unknown ? '5.5.4' : '5.5.2', bad.reason);
        return true;
      }
    }
    return false;
  }

  #usedParams(params: EsmtpParams): void {
    const tx = this.#tx as Transaction;
    for (const key of Object.keys(params)) {
      const value = (params[key] as string).toUpperCase();
      if (key === 'SIZE') tx.extensions.add('SIZE');
      else if (key === 'BODY' && value !== '7BIT') tx.extensions.add(value);
      else if (key === 'SMTPUTF8') tx.extensions.add('SMTPUTF8');
      else if (key === 'RET' || key === 'ENVID' || key === 'NOTIFY' || key === 'ORCPT') tx.extensions.add('DSN');
    }
  }

  #data(): void {
    const tx = this.#tx;
    if (!tx || tx.to.length === 0 || tx.chunks.length > 0) {
      this.#find(this.#greeted === 'none' ? 'command-before-ehlo' : 'data-before-rcpt', 'DATA');
      if (tx && tx.to.length === 0) return this.#fail(554, '5.5.1', 'No valid recipients (RFC 5321 §3.3)');
      return this.#fail(503, '5.5.1', tx ? 'DATA after BDAT in one transaction (RFC 3030 §2)' : 'Need MAIL and RCPT before DATA');
    }
    if (tx.mailParams.BODY?.toUpperCase() === 'BINARYMIME') {
      return this.#fail(503, '5.5.1', 'BODY=BINARYMIME needs BDAT (RFC 3030 §3)');
    }
    this.#reply(354, undefined, 'End data with <CR><LF>.<CR><LF>');
    this.#decoder = new DataDecoder();
    this.#mode = 'data';
    this.#dataBefore354 = true;
  }

  /** Set while the 354 is unsent: octets arriving then came before it (RFC 2920 §3.1). */
  #dataBefore354 = false;

  #pushData(chunk: Uint8Array): Uint8Array {
    if (this.#dataBefore354) {
      this.#dataBefore354 = false;
      this.#find('data-before-354');
    }
    const tx = this.#tx as Transaction;
    const decoder = this.#decoder as DataDecoder;
    const step = decoder.push(chunk);
    this.#take(tx, step.data);
    if (!step.done) return step.rest;
    this.#mode = 'command';
    this.#decoder = undefined;
    this.#finish(tx, 'DATA', decoder.traits);
    return step.rest;
  }

  /** Passes message octets on, enforcing SIZE while they stream (RFC 1870 §6.3). */
  #take(tx: Transaction, data: Uint8Array): void {
    if (data.length === 0 || tx.oversize || tx.bdatFailed) return;
    tx.size += data.length;
    if (tx.size > this.#maxSize) {
      tx.oversize = true;
      this.#find('size-exceeded', `more than ${this.#maxSize} octets`);
      this.#event({ type: 'discard' });
      return;
    }
    this.#event({ type: 'data', bytes: data });
  }

  #bdat(size: number, last: boolean): void {
    this.#bdatLeft = size;
    this.#bdatLast = last;
    this.#mode = 'bdat';
    const tx = this.#tx;
    if (tx && !tx.bdatFailed && tx.to.length > 0 && this.#o.chunking !== false) {
      tx.extensions.add('CHUNKING');
      tx.chunks.push(size);
      tx.scanner ??= new BodyScanner();
    } else if (tx) {
      tx.bdatFailed = true;
    }
    if (size === 0) this.#endChunk();
  }

  #pushBdat(chunk: Uint8Array): Uint8Array {
    const n = Math.min(this.#bdatLeft, chunk.length);
    const part = chunk.subarray(0, n);
    const tx = this.#tx;
    if (tx && !tx.bdatFailed) {
      tx.scanner?.scan(part);
      this.#take(tx, Buffer.from(part));
    }
    this.#bdatLeft -= n;
    if (this.#bdatLeft === 0) this.#endChunk();
    return chunk.subarray(n);
  }

  #endChunk(): void {
    this.#mode = 'command';
    const tx = this.#tx;
    if (this.#o.chunking === false) return this.#fail(502, '5.5.1', 'BDAT not offered');
    if (!tx || tx.bdatFailed || tx.to.length === 0) {
      this.#find(this.#greeted === 'none' ? 'command-before-ehlo' : 'data-before-rcpt', 'BDAT');
      if (tx) this.#abort();
      return this.#fail(503, '5.5.1', 'No valid transaction for BDAT (RFC 3030 §2)');
    }
    if (tx.oversize) {
      this.#tx = undefined;
      return this.#fail(552, '5.3.4', `Message size exceeds fixed maximum message size (${this.#maxSize})`);
    }
    if (!this.#bdatLast) return this.#reply(250, '2.0.0', `${tx.chunks.at(-1)} octets received`);
    const scanner = tx.scanner as BodyScanner;
    scanner.finish();
    this.#finish(tx, 'BDAT', scanner.traits);
  }

  #finish(tx: Transaction, via: 'DATA' | 'BDAT', traits: BodyTraits): void {
    this.#tx = undefined;
    if (tx.oversize) return this.#fail(552, '5.3.4', `Message size exceeds fixed maximum message size (${this.#maxSize})`);
    const body = tx.mailParams.BODY?.toUpperCase() ?? '7BIT';
    this.#tx = tx; // so that the data findings land in the transaction
    if (traits.bareLf > 0) this.#find('bare-lf-data', `${traits.bareLf}×`);
    if (traits.bareCr > 0) this.#find('bare-cr-data', `${traits.bareCr}×`);
    if (traits.longLines > 0 && body !== 'BINARYMIME') this.#find('data-line-too-long', `${traits.longLines} line(s)`);
    if (traits.eightBit > 0 && !EIGHT_BIT_BODIES.has(body)) this.#find('8bit-without-8bitmime', `${traits.eightBit} octet(s)`);
    if (traits.smuggling > 0) this.#find('smuggling-end-of-data', `${traits.smuggling}×`);
    this.#tx = undefined;
    const id = this.#o.queueId();
    for (const k of this.#used) tx.extensions.add(k);
    this.#event({
      type: 'message',
      transaction: {
        id, from: tx.from, to: tx.to, mailParams: tx.mailParams, rcptParams: tx.rcptParams, size: tx.size, via,
        chunks: tx.chunks, extensions: [...tx.extensions], findings: tx.findings, traits: { ...traits },
      },
    });
    this.#reply(250, '2.0.0', `Ok: queued as ${id}`);
  }

  /** Ends the open transaction, if any (RSET, EHLO, QUIT, STARTTLS). */
  #abort(): void {
    if (this.#tx && this.#tx.size > 0 && !this.#tx.oversize) this.#event({ type: 'discard' });
    this.#tx = undefined;
  }

  // ── STARTTLS and AUTH ────────────────────────────────────────────────────

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

  #authStep(step: ReturnType<AuthExchange['next']>): void {
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

