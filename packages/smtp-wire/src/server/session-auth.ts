import { AuthExchange } from './auth-exchange.js';
import type { AuthStep, ServerAuthMechanism } from './auth-exchange.js';
import type { ServerAuthOptions, ServerSessionOptions, SessionHost } from './session-types.js';

/** What {@link SessionAuth} needs from its session besides reporting. */
export interface AuthHost extends SessionHost {
  /** Records an EHLO keyword as used, in the session and in the open transaction. */
  use(keyword: string): void;
}

/**
 * The AUTH command of a session (RFC 4954 §4): when it is allowed, the exchange of 334 challenges
 * and response lines, the credentials check, and who authenticated.
 */
export class SessionAuth {
  readonly #host: AuthHost;
  readonly #o: ServerSessionOptions;
  #exchange: AuthExchange | undefined;
  #user: string | undefined;

  constructor(host: AuthHost, options: ServerSessionOptions) {
    this.#host = host;
    this.#o = options;
  }

  /** True while a 334 challenge waits for the client's response line. */
  get isExchanging(): boolean {
    return this.#exchange !== undefined;
  }

  /** Who authenticated, once AUTH succeeded. */
  get user(): string | undefined {
    return this.#user;
  }

  /** The AUTH command; `afterEhlo` and `inTransaction` are the session state it depends on. */
  start(mechanism: string, initialResponse: string | undefined, afterEhlo: boolean, inTransaction: boolean): void {
    const host = this.#host;
    const auth = this.#o.auth;
    if (!auth || auth.mechanisms.length === 0) return host.fail(502, '5.5.1', 'AUTH not offered');
    if (!afterEhlo) return host.fail(503, '5.5.1', 'Send EHLO first (RFC 4954 §4)');
    if (this.#user !== undefined) return host.fail(503, '5.5.1', 'Already authenticated (RFC 4954 §4)');
    if (inTransaction) return host.fail(503, '5.5.1', 'AUTH not allowed during a mail transaction (RFC 4954 §4)');
    if (!(auth.mechanisms as string[]).includes(mechanism)) {
      return host.fail(504, '5.5.4', `Unrecognized authentication type ${mechanism}`);
    }
    const challenge = this.#o.cramChallenge?.() ?? `<${Date.now()}@${this.#o.hostname}>`;
    this.#exchange = new AuthExchange(mechanism as ServerAuthMechanism, challenge);
    this.#step(this.#exchange.start(initialResponse));
  }

  /** The client's response line to a challenge, without its line ending. */
  next(line: string): void {
    this.#step((this.#exchange as AuthExchange).next(line));
  }

  /** Ends the exchange under way, if any, without a result (its response line was refused). */
  cancel(): void {
    this.#exchange = undefined;
  }

  /** Forgets who authenticated (RFC 3207 §4.2: after STARTTLS). */
  reset(): void {
    this.#user = undefined;
  }

  #step(step: AuthStep): void {
    const host = this.#host;
    const exchange = this.#exchange as AuthExchange;
    if (step.kind === 'challenge') return host.reply(334, undefined, step.text);
    this.#exchange = undefined;
    if (step.kind === 'error') {
      host.event({ type: 'auth', mechanism: exchange.mechanism, user: '', ok: false });
      host.find('auth-failed', step.reason);
      return host.fail(step.code, step.code === 501 ? '5.5.2' : '5.7.8', step.reason);
    }
    const ok = (this.#o.auth as ServerAuthOptions).verify(step.credentials);
    host.event({ type: 'auth', mechanism: exchange.mechanism, user: step.credentials.user, ok });
    if (!ok) {
      host.find('auth-failed', `user ${JSON.stringify(step.credentials.user)}`);
      return host.fail(535, '5.7.8', 'Authentication credentials invalid');
    }
    this.#user = step.credentials.user;
    host.use(`AUTH ${exchange.mechanism}`);
    host.reply(235, '2.7.0', 'Authentication successful');
  }
}
