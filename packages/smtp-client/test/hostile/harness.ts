// Shared pieces of the hostile-server suite: short timeouts, a hard bound around every client
// call, the outcome rule (a result or a typed SmtpError, never a hang, never anything else),
// and a guard against unhandled rejections.
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { isSmtpError, sendMail, type ConnectOptions, type SendOptions, type SendResult, type SmtpError, type Timeouts } from '../../src/index.js';
import { startFaultServer, type FaultHandler, type FaultScript, type FaultServer, type FaultServerOptions } from '../../src/testing.js';

/** Every step of the client gets 1 s (the connect 2 s): hostile cases end quickly. */
export const SHORT_TIMEOUTS: Timeouts = {
  connect: 2000,
  greeting: 1000,
  ehlo: 1000,
  starttls: 1000,
  auth: 1000,
  mail: 1000,
  rcpt: 1000,
  dataInit: 1000,
  dataBlock: 1000,
  dataDone: 1000,
  command: 1000,
};

/** Longer than any chain of SHORT_TIMEOUTS one call can wait through: beyond this, the client hung. */
export const HANG_LIMIT_MS = 9000;

export const FROM = 'sender@client.test';
export const TO = 'rcpt@example.com';
export const MESSAGE = 'From: sender@client.test\r\nTo: rcpt@example.com\r\nSubject: hostile\r\n\r\nbody line\r\n';

export type Outcome =
  | { ok: true; result: SendResult; transcript: string }
  | { ok: false; error: SmtpError; transcript: string };

/** Runs a client call under the outcome rule; fails the test on a hang or an untyped error. */
export async function outcomeOf(run: (onTranscript: ConnectOptions['onTranscript']) => Promise<SendResult>): Promise<Outcome> {
  const lines: string[] = [];
  const onTranscript: ConnectOptions['onTranscript'] = (e) => lines.push(`${e.dir}: ${e.text}`);
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<'hang'>((resolve) => {
    timer = setTimeout(() => resolve('hang'), HANG_LIMIT_MS);
  });
  try {
    const settled = await Promise.race([
      run(onTranscript).then(
        (result) => ({ ok: true as const, result }),
        (error: unknown) => ({ ok: false as const, error }),
      ),
      hang,
    ]);
    const transcript = lines.join('\n');
    if (settled === 'hang') throw new Error(`the client neither resolved nor rejected within ${HANG_LIMIT_MS} ms\n${transcript}`);
    if (settled.ok) return { ok: true, result: settled.result, transcript };
    if (!isSmtpError(settled.error)) {
      throw new Error(`the client threw something other than an SmtpError: ${String(settled.error)}\n${transcript}`, { cause: settled.error });
    }
    return { ok: false, error: settled.error, transcript };
  } finally {
    clearTimeout(timer);
  }
}

/** sendMail to the fault server with short timeouts and `tls: 'none'` unless overridden. */
export function send(server: FaultServer, overrides: Partial<ConnectOptions & SendOptions> = {}): Promise<Outcome> {
  return outcomeOf((onTranscript) =>
    sendMail({
      host: server.host,
      port: server.port,
      tls: 'none',
      from: FROM,
      to: [TO],
      data: MESSAGE,
      timeouts: SHORT_TIMEOUTS,
      onTranscript,
      ...overrides,
    }),
  );
}

/** Asserts a failure with exactly these error fields; returns the error for more checks. */
export function expectFailure(o: Outcome, fields: Partial<Record<keyof SmtpError, unknown>>): SmtpError {
  if (o.ok) {
    throw new Error(`expected the client to fail with ${JSON.stringify(fields)}, but it reported sent: ${JSON.stringify(o.result.reply)}\n${o.transcript}`);
  }
  const present = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
  expect(o.error, o.transcript).toMatchObject(present);
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) expect(o.error[key as keyof SmtpError], `${key}\n${o.transcript}`).toBeUndefined();
  }
  return o.error;
}

/** Asserts success, with the final reply the server really sent. */
export function expectSent(o: Outcome, finalCode = 250): SendResult {
  if (!o.ok) throw new Error(`expected the message to be sent, got ${o.error.kind}/${o.error.code}: ${o.error.message}\n${o.transcript}`);
  expect(o.result.reply.code, o.transcript).toBe(finalCode);
  return o.result;
}

const servers: FaultServer[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};

/** Starts a fault server that is closed after the test. */
export async function serve(script: FaultScript | FaultHandler, options?: FaultServerOptions): Promise<FaultServer> {
  const server = await startFaultServer(script, options);
  servers.push(server);
  return server;
}

/** Registers the per-file hooks: close servers, and fail on any unhandled rejection. */
export function useHostileHooks(): void {
  beforeAll(() => {
    process.on('unhandledRejection', onUnhandled);
  });
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
    // Let a stray rejection from the finished client surface before checking.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const seen = unhandled.splice(0);
    expect(seen.map(String), 'unhandled rejections').toEqual([]);
  });
  afterAll(() => {
    process.off('unhandledRejection', onUnhandled);
  });
}

/** The bytes the client sent on every connection, as latin1 text. */
export function clientBytes(server: FaultServer): string {
  return server.received().toString('latin1');
}

/** Command verbs the client sent (first word of each command line the script read). */
export function verbs(server: FaultServer): string[] {
  return server.connections.flatMap((c) => c.commands.map((line) => line.split(/[ :]/, 1)[0]!.toUpperCase()));
}
