import { isSmtpError } from '@smtpkit/wire';
import { describe, expect, it } from 'vitest';
import { StepClock } from '../src/timeouts.js';

const aborted = (signal: AbortSignal) =>
  new Promise<unknown>((resolve) => signal.addEventListener('abort', () => resolve(signal.reason), { once: true }));

describe('StepClock: one timer per session, re-armed per step', () => {
  it('times out naming the step that ran out of time', async () => {
    const clock = new StepClock();
    clock.arm('mail', 60_000);
    clock.disarm();
    clock.arm('rcpt', 5); // earlier than the armed timer: re-scheduled
    const reason = await aborted(clock.signal);
    expect(isSmtpError(reason) && reason.kind).toBe('timeout');
    expect(isSmtpError(reason) && reason.message).toMatch(/during rcpt/);
    clock.stop();
  });

  it('a disarmed clock never fires, and a nested step hands the outer one back', async () => {
    const clock = new StepClock();
    clock.arm('dataDone', 5);
    clock.disarm();
    const outer = clock.state;
    expect(outer.due).toBe(0);
    clock.arm('dataBlock', 60_000);
    const saved = clock.state;
    clock.arm('command', 60_000);
    clock.restore(saved);
    expect(clock.state.step).toBe('dataBlock');
    await new Promise((r) => setTimeout(r, 30));
    expect(clock.signal.aborted).toBe(false);
    clock.stop();
  });

  it("the session's signal aborts with kind 'aborted', naming the running step", () => {
    const controller = new AbortController();
    const clock = new StepClock(controller.signal);
    clock.arm('greeting', 60_000);
    controller.abort(new Error('user gave up'));
    const reason = clock.signal.reason as unknown;
    expect(isSmtpError(reason) && reason.kind).toBe('aborted');
    expect(isSmtpError(reason) && reason.message).toMatch(/greeting/);
    clock.stop();
  });

  it('stop() detaches from the signal', () => {
    const controller = new AbortController();
    const clock = new StepClock(controller.signal);
    clock.stop();
    controller.abort();
    expect(clock.signal.aborted).toBe(false);
  });
});
