#!/usr/bin/env node
import { CommanderError } from 'commander';
import { EXIT } from './exit-codes.js';
import { buildProgram } from './program.js';

const argv = process.argv.slice(2);
const quiet = argv.includes('-q') || argv.includes('--quiet');
const writeErr = (s: string): void => {
  if (!quiet) process.stderr.write(s);
};

// Passwords never come from argv (they would show in `ps` and shell history).
if (argv.some((a) => /^--(password|pass)(=|$)/.test(a))) {
  writeErr('smtpkit: passwords are not taken from the command line: set SMTPKIT_PASSWORD or use --password-command\n');
  process.exit(EXIT.USAGE);
}

const program = buildProgram(
  {
    send: async (flags) => {
      const { runSend } = await import('./run-send.js');
      process.exitCode = await runSend(flags);
    },
    probe: async (flags) => {
      const { runProbe } = await import('./run-probe.js');
      process.exitCode = await runProbe(flags);
    },
    inbox: async (flags) => {
      const { runInbox } = await import('./commands/inbox.js');
      process.exitCode = await runInbox(flags);
    },
    queue: {
      add: async (flags) => void (process.exitCode = await (await import('./commands/run-queue.js')).runQueueAdd(flags)),
      run: async (flags) => void (process.exitCode = await (await import('./commands/run-queue.js')).runQueueRun(flags)),
      status: async (id, flags) => void (process.exitCode = await (await import('./commands/run-queue.js')).runQueueStatus(id, flags)),
      retry: async (target, flags) => void (process.exitCode = await (await import('./commands/run-queue.js')).runQueueRetry(target, flags)),
      cancel: async (id, flags) => void (process.exitCode = await (await import('./commands/run-queue.js')).runQueueCancel(id, flags)),
    },
  },
  writeErr,
);

try {
  if (argv.length === 0) {
    program.outputHelp();
  } else {
    await program.parseAsync(process.argv);
  }
} catch (error) {
  if (error instanceof CommanderError) {
    const ok = ['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(error.code);
    process.exitCode = ok ? EXIT.OK : EXIT.USAGE;
  } else {
    writeErr(`smtpkit: internal error: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exitCode = 70; // EX_SOFTWARE
  }
}
