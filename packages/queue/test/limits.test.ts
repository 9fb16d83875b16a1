import { describe, expect, it } from 'vitest';
import { DestinationGate } from '../src/limits.js';

describe('DestinationGate back-off', () => {
  it('counts a burst of failures from transactions already under way once (chaos seed 2000)', () => {
    const gate = new DestinationGate({});
    for (let i = 0; i < 4; i++) gate.signal('throttled', 10_000 + i);
    expect(gate.waitToOpen(10_003)).toBe(997);
    // After the pause a new failure doubles it; a success resets it.
    gate.signal('down', 11_000);
    expect(gate.waitToOpen(11_000)).toBe(2000);
    gate.signal('ok', 13_000);
    gate.signal('down', 13_000);
    expect(gate.waitToOpen(13_000)).toBe(1000);
  });
});
