/**
 * A harness small enough to run unchanged on Node, Bun and Deno (vitest runs on Node only): cases run
 * one after another, each under a deadline; a failure is printed with its error and counted, and the
 * run ends with the "N passed, N failed" line and a non-zero exit when any case failed.
 */
import { inspect } from 'node:util';

/** One end-to-end case. */
export interface Case<C> {
  name: string;
  run(ctx: C): Promise<void>;
  /** Deadline of the case (default 30 000 ms); past it the case fails. */
  timeoutMs?: number;
}

/** Counts of a run. */
export interface RunResult {
  passed: number;
  failed: number;
}

/** Define a case (a typed identity, so case files read as a list). */
export function defineCase<C>(name: string, run: (ctx: C) => Promise<void>, timeoutMs?: number): Case<C> {
  return { name, run, ...(timeoutMs !== undefined ? { timeoutMs } : {}) };
}

/** Run every case in order and print one line per case. */
export async function runCases<C>(cases: readonly Case<C>[], ctx: C, print: (line: string) => void): Promise<RunResult> {
  const result: RunResult = { passed: 0, failed: 0 };
  for (const c of cases) {
    const started = performance.now();
    const limit = c.timeoutMs ?? 30_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        c.run(ctx),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`case did not finish within ${limit} ms`)), limit);
        }),
      ]);
      result.passed++;
      print(`  ✓ ${c.name} (${Math.round(performance.now() - started)} ms)`);
    } catch (error) {
      result.failed++;
      print(`  ✗ ${c.name} (${Math.round(performance.now() - started)} ms)`);
      print(indent(error instanceof Error && error.name === 'CheckError' ? error.message : inspect(error, { depth: 3 })));
    } finally {
      clearTimeout(timer);
    }
  }
  return result;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `      ${l}`)
    .join('\n');
}

class CheckError extends Error {
  override readonly name = 'CheckError';
}

/** Fail the case with `message` unless `condition` holds. */
export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new CheckError(message);
}

/** Fail unless `actual` equals `expected` (compared as JSON). */
export function checkEqual<T>(actual: T, expected: T, what: string): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new CheckError(`${what}: expected ${e}, got ${a}`);
}

/** Run `fn`, which must reject; returns what it rejected with. */
export async function rejection(fn: () => Promise<unknown>, what: string): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new CheckError(`${what}: expected a failure, but it succeeded`);
}
