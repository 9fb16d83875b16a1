import { createQueue, fileStore, redisStore, type MessageStatus, type Queue, type RecipientEvent, type WorkerOptions } from '@smtpkit/queue';
import { DataError, EXIT, exitCodeFor, UsageError, type ExitCode } from '../exit-codes.js';
import { prepareMessage } from '../message.js';
import { escapeControls } from '../output.js';
import { parsePort, parseTlsMode } from '../profiles.js';
import type { SendFlags } from '../program.js';
import { defaultHeloName } from '../run-send.js';
import { resolveSend } from '../send-options.js';
import type { QueueFlags } from './queue.js';

/** How often `run --once` checks whether anything is still due. */
const ONCE_CHECK = 200;

function print(flags: QueueFlags, text: string): void {
  if (flags.quiet !== true) process.stdout.write(`${text}\n`);
}

async function withQueue<T>(flags: QueueFlags, run: (queue: Queue) => Promise<T>): Promise<T> {
  if (flags.spool !== undefined && flags.redis !== undefined) throw new UsageError('use --spool DIR or --redis URL, not both');
  if ((flags.spool === undefined || flags.spool === '') && flags.redis === undefined) throw new UsageError('missing --spool DIR (or --redis URL)');
  const store =
    flags.redis !== undefined
      ? redisStore({ url: flags.redis, ...(flags.prefix !== undefined ? { prefix: flags.prefix } : {}) })
      : fileStore({ dir: flags.spool as string });
  const queue = await createQueue({ store });
  try {
    return await run(queue);
  } finally {
    await queue.close();
  }
}

async function guard(flags: QueueFlags, run: () => Promise<ExitCode>): Promise<ExitCode> {
  try {
    return await run();
  } catch (error) {
    if (flags.quiet !== true) process.stderr.write(`smtpkit queue: ${escapeControls((error as Error)?.message ?? String(error))}\n`);
    return exitCodeFor(error);
  }
}

/** `queue add`: build the message from the `send` flags and store it; prints its id. */
export function runQueueAdd(flags: QueueFlags & SendFlags): Promise<ExitCode> {
  return guard(flags, async () => {
    const cfg = resolveSend(flags);
    const prepared = await prepareMessage(cfg);
    return withQueue(flags, async (queue) => {
      const result = await queue.enqueue({
        from: prepared.from,
        to: prepared.to,
        raw: prepared.message,
        ...(flags.idempotencyKey !== undefined ? { idempotencyKey: flags.idempotencyKey } : {}),
      });
      print(flags, flags.json === true ? JSON.stringify(result) : `${result.id}${result.duplicate ? ' (already queued)' : ''}`);
      return EXIT.OK;
    });
  });
}

function target(flags: QueueFlags): WorkerOptions['deliver'] {
  if (flags.relay !== undefined && flags.mx === true) throw new UsageError('use --relay or --mx, not both');
  if (flags.relay === undefined) return 'mx';
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(flags.relay);
  if (m === null) throw new UsageError(`--relay "${flags.relay}" must look like HOST:PORT`);
  const port = m[2] !== undefined ? parsePort(m[2]) : 25;
  const tls = parseTlsMode(flags.tls ?? 'auto');
  return {
    host: (m[1] ?? '').replace(/^\[|\]$/g, ''),
    port,
    ...(tls === 'auto' ? {} : { tls: tls === 'starttls' ? 'starttls' : tls === 'implicit' ? 'implicit' : 'none' }),
  };
}

function describe(e: RecipientEvent): string {
  const reply = e.reply === undefined ? '' : ` ${e.reply.code ?? '---'} ${e.reply.enhanced ?? ''} ${escapeControls(e.reply.text)}`.replace(/ +/g, ' ');
  return `${e.id} ${e.recipient} ${e.state} (attempt ${e.attempt})${reply}`;
}

/** Nothing in flight and nothing due now: every recipient final, or waiting for a later retry. */
function idle(statuses: MessageStatus[], now: number): boolean {
  return statuses.every((s) =>
    s.recipients.every((r) => {
      if (r.state === 'delivered' || r.state === 'bounced' || r.state === 'expired') return true;
      if (r.state === 'ambiguous' && r.nextAttemptAt === undefined) return true;
      return (r.state === 'deferred' || r.state === 'ambiguous') && (r.nextAttemptAt ?? 0) > now;
    }),
  );
}

/** `queue run`: deliver until interrupted (or, with `--once`, until nothing is due). */
export function runQueueRun(flags: QueueFlags): Promise<ExitCode> {
  return guard(flags, async () => {
    const deliver = target(flags);
    const concurrency = flags.concurrency === undefined ? 4 : Number(flags.concurrency);
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError(`invalid --concurrency "${flags.concurrency}" (a positive integer)`);
    const timeout = flags.timeout === undefined ? undefined : Number(flags.timeout);
    if (timeout !== undefined && !(timeout > 0)) throw new UsageError(`invalid --timeout "${flags.timeout}" (seconds, > 0)`);
    const ms = timeout === undefined ? undefined : Math.round(timeout * 1000);
    return withQueue(flags, async (queue) => {
      queue.on('recipient', (e) => print(flags, flags.json === true ? JSON.stringify(e) : describe(e)));
      let failure: unknown;
      const stopped = new Promise<void>((resolve) => {
        queue.on('error', (e) => {
          failure = e;
          resolve();
        });
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      const worker = queue.worker({
        deliver, concurrency, clientName: flags.helo ?? defaultHeloName(),
        ...(ms !== undefined ? { timeouts: { connect: ms, greeting: ms, ehlo: ms, starttls: ms, auth: ms, mail: ms, rcpt: ms, dataInit: ms, dataBlock: ms, dataDone: ms, command: ms } } : {}),
      });
      if (flags.quiet !== true && flags.json !== true) {
        const waiting = setTimeout(() => process.stderr.write('smtpkit queue: waiting for the process that delivers this spool to stop\n'), 1000);
        void worker.ready.then(() => clearTimeout(waiting), () => clearTimeout(waiting));
      }
      if (flags.once === true) {
        await worker.ready;
        for (;;) {
          const done = await Promise.race([stopped.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ONCE_CHECK))]);
          if (done || idle(await queue.list(), Date.now())) break;
        }
      } else {
        await stopped;
      }
      await worker.close();
      if (failure !== undefined) throw failure;
      return EXIT.OK;
    });
  });
}

function statusLines(s: MessageStatus): string[] {
  const head = `${s.id} from <${s.from}> queued ${new Date(s.enqueuedAt).toISOString()}${s.final ? ' final' : ''}${s.cancelled ? ' cancelled' : ''}`;
  return [
    head,
    ...s.recipients.map((r) => {
      const next = r.nextAttemptAt !== undefined && !s.final ? ` next ${new Date(r.nextAttemptAt).toISOString()}` : '';
      const reply = r.reply === undefined ? '' : ` ${r.reply.code ?? '---'} ${escapeControls(r.reply.text)}`;
      return `  ${r.recipient} ${r.state} attempts=${r.attempts}${r.ambiguous ? ` ambiguous=${r.ambiguous}` : ''}${next}${reply}`;
    }),
  ];
}

/** `queue status [id]`. */
export function runQueueStatus(id: string | undefined, flags: QueueFlags): Promise<ExitCode> {
  return guard(flags, () =>
    withQueue(flags, async (queue) => {
      if (id !== undefined) {
        const status = await queue.status(id);
        if (status === undefined) throw new DataError(`no message ${id} in the spool`);
        print(flags, flags.json === true ? JSON.stringify(status) : statusLines(status).join('\n'));
        return EXIT.OK;
      }
      const all = (await queue.list()).sort((a, b) => a.enqueuedAt - b.enqueuedAt);
      if (flags.json === true) print(flags, JSON.stringify(all));
      else print(flags, all.length === 0 ? 'the spool is empty' : all.flatMap(statusLines).join('\n'));
      return EXIT.OK;
    }),
  );
}

/** `queue retry <id|domain>`. */
export function runQueueRetry(targetName: string, flags: QueueFlags): Promise<ExitCode> {
  return guard(flags, () =>
    withQueue(flags, async (queue) => {
      const n = await queue.retryNow(targetName);
      if (n === 0) throw new DataError(`nothing waiting for ${targetName}`);
      print(flags, `${n} recipient${n === 1 ? '' : 's'} due now`);
      return EXIT.OK;
    }),
  );
}

/** `queue cancel <id>`. */
export function runQueueCancel(id: string, flags: QueueFlags): Promise<ExitCode> {
  return guard(flags, () =>
    withQueue(flags, async (queue) => {
      if (!(await queue.cancel(id))) throw new DataError(`no message ${id} with recipients left to cancel`);
      print(flags, `${id} cancelled`);
      return EXIT.OK;
    }),
  );
}
