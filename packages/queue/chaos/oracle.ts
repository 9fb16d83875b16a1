import type { MessageStatus } from '../src/index.js';
import type { LedgerEntry } from '../test/support/ledger-sink.js';

/** What the sink saw, and what the store says, after quiescence. */
export interface OracleInput {
  statuses: MessageStatus[];
  ledger: LedgerEntry[];
  /** Ids of messages the round queued (DSNs the queue made are found through them). */
  queued: Array<{ id: string; key: string; from: string }>;
  /** Most sessions the sink saw open at once, and the limit. */
  maxSessions: number;
  sessionLimit: number;
  /** The id of the DSN the queue makes for a message. */
  dsnIdOf: (id: string) => string;
}

/** One broken promise, in words a failing round can print. */
export type Violation = string;

/**
 * The chaos oracle: every (message, recipient) reaches exactly one final state; every `delivered` is in the
 * ledger; every bounced or expired recipient of a non-null sender produced a DSN; a recipient got more than one
 * copy only as often as its attempts were reported ambiguous (so never after a 250 that was recorded); the
 * sessions limit held as the sink saw it.
 */
export function checkRound(input: OracleInput): { violations: Violation[]; duplicates: number; ambiguous: number; delivered: number } {
  const violations: Violation[] = [];
  const byId = new Map(input.statuses.map((s) => [s.id, s]));
  const copies = new Map<string, number>();
  for (const e of input.ledger) copies.set(`${e.key} ${e.rcpt}`, (copies.get(`${e.key} ${e.rcpt}`) ?? 0) + 1);
  let duplicates = 0;
  let ambiguous = 0;
  let delivered = 0;
  for (const q of input.queued) {
    const status = byId.get(q.id);
    if (status === undefined) {
      violations.push(`message ${q.id} (${q.key}) is unknown to the store: lost`);
      continue;
    }
    if (!status.final) violations.push(`message ${q.id}: not final: ${JSON.stringify(status.recipients)}`);
    for (const r of status.recipients) {
      const n = copies.get(`${q.key} ${r.recipient}`) ?? 0;
      const amb = r.ambiguous ?? 0;
      ambiguous += amb;
      if (r.state === 'delivered') {
        delivered++;
        if (n === 0) violations.push(`${q.id} ${r.recipient}: delivered but not in the ledger`);
      }
      if (n > 1) duplicates += n - 1;
      if (n > 1 + amb) violations.push(`${q.id} ${r.recipient}: ${n} copies with ${amb} ambiguous attempts (re-sent after a 250)`);
      if ((r.state === 'bounced' || r.state === 'expired') && n > 0 && amb === 0) {
        violations.push(`${q.id} ${r.recipient}: ${r.state} but the sink accepted it`);
      }
    }
    const failed = status.recipients.some((r) => r.state === 'bounced' || r.state === 'expired');
    if (failed && q.from !== '' && !input.ledger.some((e) => e.key === `dsn:${q.id}` && e.rcpt === q.from)) {
      // Not at the sink: it must at least be in the store, final (it can expire too: the rounds' give-up time is short).
      const dsn = byId.get(input.dsnIdOf(q.id));
      if (dsn === undefined || !dsn.final || dsn.recipients.some((r) => r.state === 'delivered' || r.state === 'bounced')) {
        violations.push(`${q.id}: failed recipients but no DSN reached ${q.from} (${dsn === undefined ? 'none queued' : JSON.stringify(dsn.recipients)})`);
      }
    }
  }
  if (input.maxSessions > input.sessionLimit) violations.push(`${input.maxSessions} sessions open at once, limit ${input.sessionLimit}`);
  return { violations, duplicates, ambiguous, delivered };
}
