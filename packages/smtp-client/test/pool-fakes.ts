import { SmtpError, type Capabilities, type Reply } from '@smtpkit/wire';
import type { ConnectOptions, EnvelopeCheck, SendOptions, SendResult, Session } from '../src/types.js';

export const OK: Reply = { code: 250, lines: ['OK'], text: 'OK' };

export function result(options: SendOptions): SendResult {
  return {
    accepted: [...options.to],
    rejected: [],
    reply: OK,
    bytes: 0,
    timings: { startedAt: 0, envelopeMs: 0, dataMs: 0, totalMs: 0 },
  };
}

/** What a fake session does for one send: resolve, throw, or wait for the test. */
export type Behaviour = (options: SendOptions, session: FakeSession) => Promise<SendResult>;

/** A scripted {@link Session}: records every call, runs `behaviour` for sends. */
export class FakeSession implements Session {
  readonly protocol = 'smtp' as const;
  readonly capabilities = {} as Capabilities;
  readonly tls = null;
  readonly secure = false;
  readonly greeting: Reply = { code: 220, lines: ['fake'], text: 'fake' };
  readonly authenticated = null;
  readonly remote: string;
  alive = true;
  sends: SendOptions[] = [];
  checks: string[] = [];
  quits = 0;
  destroyed = false;
  running = 0;
  maxRunning = 0;
  checkFails = false;

  constructor(
    readonly id: number,
    readonly options: ConnectOptions,
    public behaviour: Behaviour,
  ) {
    this.remote = `fake:${id}`;
  }

  get usable(): boolean {
    return this.alive && !this.destroyed && this.quits === 0;
  }

  async send(options: SendOptions): Promise<SendResult> {
    this.sends.push(options);
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    try {
      return await this.behaviour(options, this);
    } finally {
      this.running--;
    }
  }

  async checkEnvelope(): Promise<EnvelopeCheck> {
    throw new Error('FakeSession.checkEnvelope is not scripted');
  }

  async reset(): Promise<Reply> {
    return this.check('RSET');
  }

  async noop(): Promise<Reply> {
    return this.check('NOOP');
  }

  private check(verb: string): Reply {
    this.checks.push(verb);
    if (this.checkFails) {
      this.alive = false;
      throw new SmtpError(`${verb} failed`, { kind: 'connection', code: 'ERR_SMTP_CONNECTION' });
    }
    return OK;
  }

  async quit(): Promise<void> {
    this.quits++;
  }

  destroy(): void {
    this.destroyed = true;
  }
}

/** A connect function handing out {@link FakeSession}s; `failures` make the next connects fail. */
export class FakeConnector {
  sessions: FakeSession[] = [];
  calls: ConnectOptions[] = [];
  failures: SmtpError[] = [];
  /** New sessions fail every RSET/NOOP check. */
  checkFails = false;

  constructor(public behaviour: Behaviour = async (o) => result(o)) {}

  readonly connect = async (options: ConnectOptions): Promise<Session> => {
    this.calls.push(options);
    const failure = this.failures.shift();
    if (failure) throw failure;
    const s = new FakeSession(this.sessions.length + 1, options, this.behaviour);
    s.checkFails = this.checkFails;
    this.sessions.push(s);
    return s;
  };

  get open(): number {
    return this.sessions.filter((s) => s.usable).length;
  }
}

/** A promise with its resolve function, to hold sends until the test releases them. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

export const connectionLost = (): SmtpError =>
  new SmtpError('connection closed by peer while waiting for a reply', {
    kind: 'connection',
    code: 'ERR_SMTP_CONNECTION',
  });
