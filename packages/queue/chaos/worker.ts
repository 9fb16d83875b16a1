// A chaos worker process: delivers from the spool (when it holds the lock) or from Redis, to the sink, and
// SIGKILLs itself at the hook point it was given, with the chance it was given (seeded).
import { createQueue, fileStore, redisStore, type WorkerStep } from '../src/index.js';
import { seededRandom } from '../test/support/ledger-sink.js';

const args = JSON.parse(process.argv[2] ?? '{}') as {
  store: 'file' | 'redis'; spool: string; redis: string; prefix: string; port: number; seed: number;
  killStep?: WorkerStep; killChance: number; sessions: number;
  /** The bench's resume measure: the product's lock duration and default retry schedule, not the chaos rounds' scaled ones. */
  lockDuration?: number; realRetry?: boolean;
};
const random = seededRandom(args.seed);
const queue = await createQueue({
  store: args.store === 'redis' ? redisStore({ url: args.redis, prefix: args.prefix, lockDuration: args.lockDuration ?? 2000, slotTtl: 5000, repairInterval: 500 }) : fileStore({ dir: args.spool }),
  ...(args.realRetry === true ? {} : { retry: { schedule: [100, 200, 400], giveUpAfter: 2500, jitter: 0.1 } }),
  limits: { default: { sessions: args.sessions, messagesPerSession: 5 } },
  dsn: { reportingMta: 'chaos.test', from: 'MAILER-DAEMON@chaos.test' },
});
queue.on('error', (e) => {
  process.stderr.write(`worker error: ${String(e)}\n`);
  process.exit(1);
});
const worker = queue.worker({
  concurrency: 4,
  deliver: { host: '127.0.0.1', port: args.port, tls: 'none' },
  timeouts: { connect: 2000, greeting: 2000, dataDone: 1000, command: 2000, mail: 2000, rcpt: 2000, dataInit: 2000 },
  onStep: (step, job) => {
    if (step !== args.killStep || random() >= args.killChance) return;
    // Pipes are written synchronously on Linux: the line is out before the signal.
    process.stdout.write(`kill ${Date.now()} ${JSON.stringify(job.recipients)}\n`);
    process.kill(process.pid, 'SIGKILL');
  },
});
process.stdout.write(`started ${Date.now()}\n`);
await worker.ready;
process.stdout.write(`owner ${Date.now()}\n`);
process.on('SIGTERM', () => process.exit(0));
