/**
 * Bounds of the property-based tests. `pnpm test` runs a short, bounded pass with a fresh seed;
 * `pnpm fuzz` raises the bounds through the environment:
 *
 * - `FUZZ_RUNS`: runs per property (default: the property's own, small).
 * - `FUZZ_TIME_MS`: wall-clock budget per property (default 10 s, or 5 min when FUZZ_RUNS is set).
 * - `FUZZ_SEED`: replay a run; every property prints the seed it used.
 */
export interface FuzzParams {
  seed: number;
  numRuns: number;
  interruptAfterTimeLimit: number;
  markInterruptAsFailure: false;
  /** Vitest timeout for the test wrapping the property: the budget plus slack for the run in flight. */
  testTimeout: number;
}

function intFromEnv(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

/** Parameters for one property; logs the seed so that any failure can be replayed with FUZZ_SEED. */
export function fuzzParams(property: string, defaults: { numRuns: number; timeMs?: number }): FuzzParams {
  const runs = intFromEnv('FUZZ_RUNS');
  const seed = intFromEnv('FUZZ_SEED') ?? (Math.floor(Math.random() * 0x7fffffff) + 1);
  const budget = intFromEnv('FUZZ_TIME_MS') ?? (runs !== undefined ? 5 * 60_000 : (defaults.timeMs ?? 10_000));
  const numRuns = runs ?? defaults.numRuns;
  console.log(`[fuzz] ${property}: seed=${seed} numRuns=${numRuns} budget=${budget}ms (replay: FUZZ_SEED=${seed})`);
  return { seed, numRuns, interruptAfterTimeLimit: budget, markInterruptAsFailure: false, testTimeout: budget + 30_000 };
}
