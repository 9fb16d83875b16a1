import { Option, type Command } from 'commander';
import type { SendFlags } from '../program.js';

/** Flags of `queue add` shared with `send`: what the message is, not where it goes. */
const MESSAGE_FLAGS = new Set([
  '--from', '--to', '--cc', '--bcc', '--subject', '--body', '--body-file', '--html', '--attach', '--inline', '--header', '--eml',
  '--read-recipients',
]);

/** Raw `queue …` flags as commander hands them over. */
export interface QueueFlags {
  spool?: string;
  redis?: string;
  prefix?: string;
  relay?: string;
  mx?: boolean;
  tls?: string;
  helo?: string;
  concurrency?: string;
  once?: boolean;
  timeout?: string;
  json?: boolean;
  quiet?: boolean;
  idempotencyKey?: string;
}

/** What the queue commands run; loaded lazily like `send` and `probe`. */
export interface QueueActions {
  add(flags: QueueFlags & SendFlags): Promise<void>;
  run(flags: QueueFlags): Promise<void>;
  status(id: string | undefined, flags: QueueFlags): Promise<void>;
  retry(target: string, flags: QueueFlags): Promise<void>;
  cancel(id: string, flags: QueueFlags): Promise<void>;
}

const spool = (cmd: Command): Command =>
  cmd
    .option('--spool <dir>', 'the spool directory (created when missing)')
    .option('--redis <url>', 'use BullMQ on this Redis instead of a spool (redis://host:port/db)')
    .option('--prefix <name>', 'with --redis: key prefix (default smtpkit)');

/**
 * `smtpkit queue add|run|status|retry|cancel`: msmtpq done right. `add` takes the message flags of `send` (copied
 * from that command, so the two never drift) and stores the message durably; `run` delivers.
 */
export function addQueueCommands(program: Command, send: Command, actions: QueueActions): void {
  const queue = program.command('queue').description('a durable outbound queue in a spool directory (retries, DSNs, limits)');

  const add = spool(queue.command('add').description('store a message in the spool; `queue run` delivers it'));
  for (const option of send.options) if (option.long !== undefined && MESSAGE_FLAGS.has(option.long)) add.addOption(option);
  add
    .option('--idempotency-key <key>', 'a repeated key queues nothing new and prints the first id')
    .option('--json', 'print { id, duplicate } as JSON')
    .option('-q, --quiet', 'print nothing')
    .action((flags: QueueFlags & SendFlags) => actions.add(flags));

  spool(queue.command('run').description('deliver what the spool holds: retries on schedule, DSNs for bounces'))
    .option('--relay <host:port>', 'send everything through this relay')
    .option('--mx', "direct delivery to each recipient domain's MX hosts on port 25 (the default without --relay)")
    .addOption(new Option('--tls <mode>', 'with --relay: auto | starttls | implicit | none').default('auto'))
    .option('--helo <name>', 'EHLO name (default: this host name)')
    .option('--concurrency <n>', 'transactions at once (default 4)')
    .option('--timeout <seconds>', 'per-step timeout (default: RFC 5321 §4.5.3.2 values)')
    .option('--once', 'exit once nothing is due (recipients waiting for a later retry stay in the spool)')
    .option('--json', 'print one JSON line per recipient event')
    .option('-q, --quiet', 'print nothing')
    .action((flags: QueueFlags) => actions.run(flags));

  spool(queue.command('status').description('each message and the state of each recipient').argument('[id]', 'one message'))
    .option('--json', 'print JSON')
    .action((id: string | undefined, flags: QueueFlags) => actions.status(id, flags));

  spool(queue.command('retry').description('try the waiting recipients of a message, or of a domain, now').argument('<id-or-domain>'))
    .option('-q, --quiet', 'print nothing')
    .action((target: string, flags: QueueFlags) => actions.retry(target, flags));

  spool(queue.command('cancel').description('cancel the recipients of a message not delivered yet').argument('<id>'))
    .option('-q, --quiet', 'print nothing')
    .action((id: string, flags: QueueFlags) => actions.cancel(id, flags));
}
