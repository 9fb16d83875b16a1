import type { FaultConnection } from './connection.js';
import { FaultScriptError } from './errors.js';
import type { WriteOptions } from './types.js';

/** Send bytes to the client (strings as UTF-8), optionally in pieces and after a pause. */
export interface SendStep {
  send: string | Uint8Array;
  /** Segment sizes, or 'bytewise' (see {@link WriteOptions.split}). */
  split?: WriteOptions['split'];
  /** Pause between pieces (default 1 ms when split). */
  intervalMs?: number;
  /** Pause before sending. */
  delayMs?: number;
}
/** Read one command line and check it. A mismatch answers 500 and ends the script with an error. */
export interface ExpectStep {
  expect: RegExp | string;
  timeoutMs?: number;
}
/** Read a DATA payload up to CRLF.CRLF. */
export interface ExpectDataStep {
  expectData: true;
  timeoutMs?: number;
  maxBytes?: number;
}
/** Answer STARTTLS (default '220 2.0.0 Ready to start TLS') and run the server side of the handshake. */
export interface UpgradeTlsStep {
  upgradeTls: true;
  reply?: string;
  /** Sent in the same segment right after the reply, before the handshake (injection test). */
  injectPlaintext?: string;
  timeoutMs?: number;
}
/** Wait. */
export interface DelayStep {
  delayMs: number;
}
/** Send one byte every `intervalMs`. */
export interface DripStep {
  drip: string;
  intervalMs: number;
}
/** Never answer again: wait until the client leaves or the server closes (or `maxMs`, default 120 000). */
export interface StallStep {
  stall: true;
  maxMs?: number;
  /** false: also stop reading, so the client's writes back up (default true: keep recording). */
  reading?: boolean;
}
/** Answer RSET/NOOP with 250, QUIT with 221 and close, anything else with 503, until the client leaves. */
export interface AnswerRemainingStep {
  answerRemaining: true;
  maxCommands?: number;
}
/** Close the connection (FIN). */
export interface CloseStep {
  close: true;
}
/** Reset the connection (RST). */
export interface ResetStep {
  reset: true;
}
/** Wait until the client closes its side (bounded); useful to record everything it sends last. */
export interface ExpectCloseStep {
  expectClose: true;
  timeoutMs?: number;
}

/** One step of a {@link FaultScript}. */
export type FaultStep =
  | SendStep
  | ExpectStep
  | ExpectDataStep
  | UpgradeTlsStep
  | DelayStep
  | DripStep
  | StallStep
  | CloseStep
  | ResetStep
  | ExpectCloseStep
  | AnswerRemainingStep;

/** A scripted server side: steps run in order on every connection. */
export type FaultScript = readonly FaultStep[];

/**
 * Runs `steps` on a connection. Throws {@link FaultScriptError} when a command does not match
 * its `expect` (after answering `500 5.5.1 …` so the client is not left waiting).
 */
export async function runSteps(conn: FaultConnection, steps: FaultScript): Promise<void> {
  for (const step of steps) {
    if ('send' in step) {
      if (step.delayMs) await conn.delay(step.delayMs);
      await conn.write(step.send, { split: step.split, intervalMs: step.intervalMs });
    } else if ('expect' in step) {
      const line = await conn.readLine({ timeoutMs: step.timeoutMs });
      const matches = typeof step.expect === 'string' ? line.toUpperCase().startsWith(step.expect.toUpperCase()) : step.expect.test(line);
      if (!matches) {
        await conn.write('500 5.5.1 fault server: unexpected command\r\n');
        throw new FaultScriptError(`expected a command matching ${String(step.expect)}, got ${JSON.stringify(line)}`);
      }
    } else if ('expectData' in step) {
      await conn.readData({ timeoutMs: step.timeoutMs, maxBytes: step.maxBytes });
    } else if ('upgradeTls' in step) {
      await conn.upgradeTls({ reply: step.reply, injectPlaintext: step.injectPlaintext, timeoutMs: step.timeoutMs });
    } else if ('drip' in step) {
      await conn.write(step.drip, { split: 'bytewise', intervalMs: step.intervalMs });
    } else if ('delayMs' in step) {
      await conn.delay(step.delayMs);
    } else if ('stall' in step) {
      if (step.reading === false) conn.pauseReading();
      await conn.delay(step.maxMs ?? 120_000);
    } else if ('answerRemaining' in step) {
      await conn.answerRemaining({ maxCommands: step.maxCommands });
    } else if ('close' in step) {
      await conn.close();
    } else if ('reset' in step) {
      await conn.reset();
    } else if ('expectClose' in step) {
      await conn.waitForClose(step.timeoutMs);
    } else {
      throw new FaultScriptError(`unknown fault step ${JSON.stringify(step)}`);
    }
  }
}
