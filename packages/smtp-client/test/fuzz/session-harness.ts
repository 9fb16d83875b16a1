import { afterEach, beforeEach, expect } from 'vitest';
import fc from 'fast-check';
import { isSmtpError, type SmtpError } from '@smtpkit/wire';
import type { ConnectOptions } from '../../src/types.js';
import type { Fault, ServerProfile } from './faulty-server.js';

/** Every step times out quickly, so stalls cost milliseconds. */
export const STEP_MS = 40;
export const TIMEOUTS: ConnectOptions['timeouts'] = {
  greeting: STEP_MS, ehlo: STEP_MS, starttls: STEP_MS, auth: STEP_MS, mail: STEP_MS, rcpt: STEP_MS,
  dataInit: STEP_MS, dataBlock: STEP_MS, dataDone: STEP_MS, command: STEP_MS,
};
/** Far beyond any legitimate run (a few dozen steps of STEP_MS): reaching it means something hung. */
export const HANG_MS = 4000;

/** Race `p` against the hang bound; a hang is a failure, not a timeout of the test runner. */
export async function bounded<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`HANG: ${what} did not settle within ${HANG_MS} ms`)), HANG_MS);
  });
  try {
    return await Promise.race([p, hang]);
  } finally {
    clearTimeout(timer);
  }
}

/** An error that may legitimately end a call: typed, with a kind. Anything else fails the property. */
export function assertTyped(err: unknown, where: string): SmtpError {
  if (err instanceof Error && err.message.startsWith('HANG:')) throw err;
  if (!isSmtpError(err)) throw new Error(`${where} threw an untyped ${String(err)} (${(err as Error)?.stack ?? ''})`);
  expect(['reply', 'protocol', 'timeout', 'connection', 'tls', 'auth', 'aborted', 'input']).toContain(err.kind);
  return err;
}

/** Kinds after which the stream cannot be trusted to be in step: the session must be dead. */
export const DESYNC_KINDS = new Set(['timeout', 'connection', 'protocol', 'aborted']);

export const bodyArb = fc.oneof(
  fc.constant('Subject: fuzz\r\n\r\nhello\r\n'),
  fc.string({ unit: fc.constantFrom('a', '.', '\r', '\n', ' ', 'é'), maxLength: 200 }).map((s) => `Subject: fuzz\r\n\r\n${s}`),
  // Random ASCII without NUL (a raw body with NUL or 8-bit needs BINARYMIME / 8BITMIME: another path).
  fc.uint8Array({ maxLength: 3000 }).map((b) => Buffer.from(b.map((c) => (c === 0 || c > 0x7f ? 0x78 : c))).toString('latin1')),
);

export const faultArb: fc.Arbitrary<Fault> = fc.oneof(
  fc.constant<Fault>({ type: 'close' }),
  fc.constant<Fault>({ type: 'reset' }),
  fc.constant<Fault>({ type: 'stall' }),
  fc.integer({ min: 100, max: 599 }).map<Fault>((code) => ({ type: 'code', code })),
  fc.constantFrom(200, 220, 221, 235, 250, 334, 354, 421, 450, 451, 452, 500, 501, 502, 503, 530, 535, 550, 552, 554).map<Fault>((code) => ({ type: 'code', code })),
  fc.uint8Array({ minLength: 1, maxLength: 64 }).map<Fault>((bytes) => ({ type: 'garbage', bytes })),
  fc.array(fc.nat(80), { minLength: 1, maxLength: 6 }).map<Fault>((cuts) => ({ type: 'split', cuts })),
  fc.constant<Fault>({ type: 'drip' }),
  fc.constantFrom('250 ok\r\n', '354 go\r\n', '221 bye\r\n', '250-', '\r\n', '5').map<Fault>((s) => ({ type: 'extra', bytes: Buffer.from(s) })),
  fc.integer({ min: STEP_MS + 5, max: STEP_MS * 3 }).map<Fault>((ms) => ({ type: 'late', ms })),
);

export const profileArb: fc.Arbitrary<ServerProfile> = fc.record({
  pipelining: fc.boolean(),
  chunking: fc.boolean(),
  eightBitMime: fc.boolean(),
  auth: fc.boolean(),
  noEhlo: fc.boolean(),
});

export const scenarioArb = fc.record({
  profile: profileArb,
  faults: fc.array(fc.tuple(fc.nat(24), faultArb), { maxLength: 3 }),
  pipelining: fc.constantFrom<'auto' | 'never'>('auto', 'never'),
  chunking: fc.constantFrom<'auto' | 'never'>('auto', 'never'),
  login: fc.option(fc.constantFrom<'PLAIN' | 'LOGIN'>('PLAIN', 'LOGIN'), { nil: undefined }),
  messages: fc.array(fc.record({ body: bodyArb, to: fc.array(fc.constantFrom('b@example.net', 'c@example.org', 'd@example.com'), { minLength: 1, maxLength: 3 }) }), { minLength: 1, maxLength: 3 }),
});
export type Scenario = typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never;

/** Whether the client wrote the end of some message's data (DATA terminator or BDAT … LAST). */
export function wroteEndOfData(written: Buffer): boolean {
  const s = written.toString('latin1');
  return s.includes('\r\n.\r\n') || /BDAT \d+ LAST\r\n/.test(s);
}


/** Fail the current test when any promise rejection went unhandled while it ran. */
export function trackUnhandledRejections(): void {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  beforeEach(() => {
    unhandled.length = 0;
    process.on('unhandledRejection', onUnhandled);
  });
  afterEach(async () => {
    await new Promise((r) => setTimeout(r, 50));
    process.off('unhandledRejection', onUnhandled);
    expect(unhandled.map(String)).toEqual([]);
  });
}
