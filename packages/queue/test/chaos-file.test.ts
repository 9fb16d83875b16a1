import { describe, expect, it } from 'vitest';
import { runRound } from '../chaos/round.js';

// The short version of `pnpm --filter @smtpkit/queue chaos --store file`: worker processes SIGKILLed at hook points
// and at random moments, a sink that drops connections after the dot; the oracle must find nothing.
describe('chaos on the file spool (short)', () => {
  it.each([11, 12, 2000, 4514])('round with seed %i keeps every recipient', async (seed) => {
    const report = await runRound(seed, 'file');
    console.log(`chaos seed ${seed}: ${JSON.stringify(report)}`);
    expect(report.violations).toEqual([]);
    expect(report.messages).toBeGreaterThan(0);
  }, 180_000);
});
