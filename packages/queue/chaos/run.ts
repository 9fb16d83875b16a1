// pnpm --filter @smtpkit/queue chaos --seed N --rounds R [--store file|redis]
/* eslint-disable no-console -- a command-line runner: its output is the report */
import { parseArgs } from 'node:util';
import { runRound, type ChaosStore, type RoundReport } from './round.js';

const { values } = parseArgs({
  options: { seed: { type: 'string', default: '1' }, rounds: { type: 'string', default: '10' }, store: { type: 'string', default: 'file' } },
});
const seed = Number(values.seed);
const rounds = Number(values.rounds);
if (!Number.isInteger(seed) || !Number.isInteger(rounds) || rounds < 1) {
  console.error('usage: chaos --seed N --rounds R [--store file|redis]');
  process.exit(64);
}
if (values.store !== 'file' && values.store !== 'redis') {
  console.error(`unknown --store ${values.store}`);
  process.exit(64);
}
const totals = { rounds: 0, failed: 0, messages: 0, recipients: 0, delivered: 0, kills: 0, redisKills: 0, cuts: 0, enqueueCuts: 0, ambiguous: 0, duplicates: 0, maxResumeMs: 0 };
for (let i = 0; i < rounds; i++) {
  const r: RoundReport = await runRound(seed + i, values.store as ChaosStore);
  totals.rounds++;
  totals.messages += r.messages;
  totals.recipients += r.recipients;
  totals.delivered += r.delivered;
  totals.kills += r.kills;
  totals.redisKills += r.redisKills;
  totals.cuts += r.cuts;
  totals.enqueueCuts += r.enqueueCuts;
  totals.ambiguous += r.ambiguous;
  totals.duplicates += r.duplicates;
  totals.maxResumeMs = Math.max(totals.maxResumeMs, r.maxResumeMs);
  const verdict = r.violations.length === 0 ? 'ok' : 'FAIL';
  console.log(`seed ${r.seed} ${verdict} messages=${r.messages} recipients=${r.recipients} kills=${r.kills} redis-kills=${r.redisKills} cuts=${r.cuts} enqueue-cuts=${r.enqueueCuts} ambiguous=${r.ambiguous} duplicates=${r.duplicates} resume=${r.maxResumeMs}ms ${r.ms}ms`);
  if (r.violations.length > 0) {
    totals.failed++;
    for (const v of r.violations) console.log(`  ${v}`);
  }
}
console.log(JSON.stringify({ store: values.store, seed, ...totals }));
process.exitCode = totals.failed === 0 ? 0 : 1;
