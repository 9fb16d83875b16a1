/**
 * The end-to-end suite for a JavaScript runtime: run this file under Node, Bun or Deno, from the workspace
 * root, after `pnpm build`:
 *
 *   node apps/runtime-e2e/dist/run.js
 *   bun apps/runtime-e2e/dist/run.js
 *   deno run -A apps/runtime-e2e/dist/run.js
 *
 * The public API (@smtpkit/client, @smtpkit/mime), the built CLI, the lab client and the demo run under the
 * runtime that runs this file; the servers run under Node (servers.ts). Prints one line per case and ends
 * with "N passed, N failed"; exits 1 when any case failed.
 */
import { authCases } from './cases/auth.js';
import { bigCases } from './cases/big.js';
import { programCases } from './cases/programs.js';
import { timeoutCases } from './cases/timeouts.js';
import { tlsCases } from './cases/tls.js';
import { transactionCases } from './cases/transaction.js';
import { createContext, detectRuntime } from './context.js';
import { runCases } from './harness.js';

const cases = [...tlsCases, ...authCases, ...transactionCases, ...timeoutCases, ...bigCases, ...programCases];
const only = process.env.SMTPKIT_E2E_ONLY; // a substring of case names, to run a few while working on them

async function main(): Promise<number> {
  const runtime = detectRuntime();
  const started = Date.now();
  console.log(`runtime e2e: ${runtime.name} ${runtime.version}`);
  const { ctx, stop } = await createContext(runtime);
  try {
    const selected = only ? cases.filter((c) => c.name.includes(only)) : cases;
    const result = await runCases(selected, ctx, (line) => console.log(line));
    console.log(`${runtime.name} ${runtime.version}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    console.log(`${result.passed} passed, ${result.failed} failed`);
    return result.failed === 0 && selected.length > 0 ? 0 : 1;
  } finally {
    await stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error('runtime e2e:', error);
    console.log('0 passed, 1 failed');
    process.exit(1);
  },
);
