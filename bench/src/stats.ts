/** Summary of repeated measurements: the median, with the range it came from. */
export interface Summary {
  median: number;
  min: number;
  max: number;
  runs: number;
}

/** Median, minimum and maximum of the finite values; undefined when there are none. */
export function summarize(values: readonly number[]): Summary | undefined {
  const xs = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (xs.length === 0) return undefined;
  const mid = xs.length >> 1;
  const median = xs.length % 2 === 1 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2;
  return { median, min: xs[0]!, max: xs[xs.length - 1]!, runs: xs.length };
}

/**
 * Ratios paired within a run: run i of `a` against run i of `b`, so that drift of the machine between runs
 * (other load, CPU frequency) cancels out instead of widening the range.
 */
export function pairedRatios(a: readonly (number | undefined)[], b: readonly (number | undefined)[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x !== undefined && y !== undefined && Number.isFinite(x) && Number.isFinite(y) && y !== 0) out.push(x / y);
  }
  return out;
}

/** Number with a sensible number of digits for a table cell. */
export function formatNumber(v: number): string {
  const abs = Math.abs(v);
  if (abs >= 1000) return Math.round(v).toLocaleString('en-US');
  if (abs >= 100) return v.toFixed(0);
  if (abs >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

/** "1,234 (1,100–1,300)"; a single run prints its value alone. */
export function formatSummary(s: Summary | undefined, suffix = ''): string {
  if (!s) return 'n/a';
  if (s.runs === 1 || s.min === s.max) return `${formatNumber(s.median)}${suffix}`;
  return `${formatNumber(s.median)}${suffix} (${formatNumber(s.min)}–${formatNumber(s.max)})`;
}
