import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import { createQueue, fileStore, type MessageStatus, type WorkerStep } from '../src/index.js';
import { seededRandom, startLedgerSink, type SinkFaults } from '../test/support/ledger-sink.js';
import { checkRound, type Violation } from './oracle.js';

const here = dirname(fileURLToPath(import.meta.url));
const STEPS: WorkerStep[] = ['claimed', 'rcpt-done', 'data-ended', 'replied', 'persisted'];
const KINDS = ['ok', 'ok', 'ok', 'defer1', 'defer2', 'bounce', 'slow', 'defer99'];
const QUIESCENCE_TIMEOUT = 30_000;

/** The id the queue gives the DSN of message `id` (its idempotency key is `dsn:<id>`). */
function dsnIdOf(id: string): string {
  return `k${createHash('sha256').update(`dsn:${id}`).digest('hex').slice(0, 26)}`;
}

/** What one round did and found. */
export interface RoundReport {
  seed: number;
  messages: number;
  recipients: number;
  delivered: number;
  kills: number;
  ambiguous: number;
  duplicates: number;
  /** Longest time from a kill to the next worker's first claim, ms (when work was waiting). */
  maxResumeMs: number;
  violations: Violation[];
  ms: number;
}

interface Child {
  process: ChildProcess;
  exited: Promise<void>;
}

function startWorker(args: object, onOwner: (child: ChildProcess, at: number) => void): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'worker.ts'), JSON.stringify(args)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    cwd: join(here, '..'),
  });
  child.stdout?.setEncoding('utf8').on('data', (text: string) => {
    for (const m of text.matchAll(/^owner (\d+)$/gm)) onOwner(child, Number(m[1]));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { process: child, exited };
}

/**
 * One chaos round on the file spool, fully determined by `seed` (the faults, the messages, the kill points): 2–4
 * worker processes share a spool, the runner queues messages before and during the round, workers die at hook
 * points or by the runner's SIGKILL and are replaced, then the oracle checks the store against the sink's ledger.
 */
export async function runFileRound(seed: number): Promise<RoundReport> {
  const started = Date.now();
  const random = seededRandom(seed);
  const spool = await mkdtemp(join(tmpdir(), `smtpkit-chaos-${seed}-`));
  const faults: SinkFaults = {
    greeting421: random() < 0.3 ? 0.1 : 0,
    dropAfterDot: random() < 0.4 ? 0.08 : 0,
    dropBeforeAccept: random() < 0.3 ? 0.05 : 0,
    delayReply: random() < 0.2 ? 0.05 : 0,
    delayMs: 1500,
    ...(random() < 0.3 ? { maxRecipients: 2 } : {}),
  };
  const sink = await startLedgerSink({ faults, seed: seed ^ 0x5eed, ledgerPath: join(spool, '..', `smtpkit-chaos-${seed}.ledger`) });
  const sessionLimit = 2;
  const workerCount = 2 + Math.floor(random() * 3);
  const children = new Set<Child>();
  const kills: number[] = [];
  const owners: number[] = [];
  /** Times the owning worker was killed: the next owner's start measures how fast its jobs resume. */
  const ownerKills: number[] = [];
  let owner: ChildProcess | undefined;
  let spawned = 0;
  let storm = true;
  const spawnOne = (): void => {
    // During the storm most workers die at a hook point; replacements after it are left alone so the round settles.
    const killStep = storm && random() < 0.8 ? STEPS[Math.floor(random() * STEPS.length)] : undefined;
    const child = startWorker(
      { spool, port: sink.port, seed: seed * 31 + spawned++, killStep, killChance: 0.05, sessions: sessionLimit },
      (process, at) => {
        owners.push(at);
        owner = process;
      },
    );
    children.add(child);
    void child.exited.then(() => {
      children.delete(child);
      if (child.process.signalCode === 'SIGKILL') {
        kills.push(Date.now());
        if (owner === child.process) ownerKills.push(Date.now());
      }
    });
  };
  const producer = await createQueue({ store: fileStore({ dir: spool }) });
  const queued: Array<{ id: string; key: string; from: string }> = [];
  let n = 0;
  const enqueueSome = async (count: number): Promise<void> => {
    for (let i = 0; i < count; i++, n++) {
      const key = `<s${seed}-m${n}@chaos.test>`;
      const rcpts = Array.from({ length: 1 + Math.floor(random() * 5) }, (_, j) => `${KINDS[Math.floor(random() * KINDS.length)]}-${n}-${j}@dest.test`);
      const from = random() < 0.1 ? '' : `sender-${n}@chaos.test`;
      const raw = `From: sender@chaos.test\r\nTo: list@dest.test\r\nSubject: chaos ${seed}/${n}\r\nMessage-ID: ${key}\r\n\r\nround ${seed} message ${n}\r\n`;
      const { id } = await producer.enqueue({ from, to: rcpts, raw });
      queued.push({ id, key, from });
    }
  };
  let report: RoundReport | undefined;
  try {
    await enqueueSome(10 + Math.floor(random() * 10));
    for (let i = 0; i < workerCount; i++) spawnOne();
    // The storm: more mail arrives, the runner kills workers at random moments, dead workers are replaced.
    const deadline = Date.now() + QUIESCENCE_TIMEOUT;
    let statuses: MessageStatus[] = [];
    for (let tick = 0; Date.now() < deadline; tick++) {
      if (tick < 6 && random() < 0.5) await enqueueSome(1 + Math.floor(random() * 3));
      if (tick < 10 && random() < 0.2) {
        const victim = [...children][Math.floor(random() * children.size)];
        victim?.process.kill('SIGKILL');
      }
      if (tick === 10) storm = false;
      while (children.size < workerCount && spawned < workerCount + 40) spawnOne();
      await sleep(200);
      if (tick >= 10) {
        statuses = await producer.list();
        const ids = new Set(queued.map((q) => q.id));
        const mine = statuses.filter((s) => ids.has(s.id));
        if (mine.length === queued.length && statuses.every((s) => s.final) && (await quiet(spool))) break;
      }
    }
    const result = checkRound({ statuses, ledger: sink.entries, queued, maxSessions: sink.maxSessions, sessionLimit, dsnIdOf });
    let maxResumeMs = 0;
    for (const k of ownerKills) {
      const next = owners.find((o) => o > k);
      if (next !== undefined) maxResumeMs = Math.max(maxResumeMs, next - k);
    }
    report = {
      seed, messages: queued.length, recipients: statuses.reduce((a, s) => a + s.recipients.length, 0), delivered: result.delivered,
      kills: kills.length, ambiguous: result.ambiguous, duplicates: result.duplicates, maxResumeMs, violations: result.violations,
      ms: Date.now() - started,
    };
    return report;
  } finally {
    for (const c of children) c.process.kill('SIGKILL');
    await Promise.all([...children].map((c) => c.exited));
    await producer.close();
    await sink.close();
    if (report !== undefined && report.violations.length === 0) {
      await rm(spool, { recursive: true, force: true });
      await rm(join(spool, '..', `smtpkit-chaos-${seed}.ledger`), { force: true });
    }
  }
}

/** Nothing waiting in `incoming/` (a DSN or a late enqueue not yet taken in). */
async function quiet(spool: string): Promise<boolean> {
  const { readdir } = await import('node:fs/promises');
  return (await readdir(join(spool, 'incoming'))).length === 0;
}
