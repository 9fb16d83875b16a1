import { execFile } from 'node:child_process';
import { UsageError } from './exit-codes.js';

/** Where a secret may come from. Never argv: it would show in `ps` and shell history. */
export interface SecretSources {
  env: NodeJS.ProcessEnv;
  /** `--password-command` / `--token-command`: a shell command whose stdout is the secret. */
  command?: string;
  /** Ask on the terminal without echo; undefined when there is no TTY. */
  prompt?: (question: string) => Promise<string>;
}

const COMMAND_TIMEOUT_MS = 120_000;

/** Run a secret command through `/bin/sh -c`; its stdout, minus one trailing newline, is the secret. */
export function runSecretCommand(command: string, flag: string, extraEnv: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      '/bin/sh',
      ['-c', command],
      { timeout: COMMAND_TIMEOUT_MS, maxBuffer: 1 << 20, env: { ...process.env, ...extraEnv } },
      (error, stdout) => {
        if (error) {
          const status = (error as { code?: unknown }).code;
          // Never echo its output: it may be the secret.
          reject(new UsageError(`${flag} failed${typeof status === 'number' ? ` (exit ${status})` : ''}`));
          return;
        }
        const secret = String(stdout).replace(/\r?\n$/, '');
        if (secret === '') reject(new UsageError(`${flag} printed nothing`));
        else resolve(secret);
      },
    );
  });
}

/**
 * The AUTH password: `SMTPKIT_PASSWORD`, else `--password-command`, else a no-echo prompt on a TTY.
 * Without any of them it is a usage error, raised before connecting.
 */
export async function resolvePassword(user: string, sources: SecretSources): Promise<string> {
  const fromEnv = sources.env.SMTPKIT_PASSWORD;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (sources.command) return runSecretCommand(sources.command, '--password-command');
  if (sources.prompt) return sources.prompt(`Password for ${user}: `);
  throw new UsageError(
    `--user ${user} needs a password: set SMTPKIT_PASSWORD, pass --password-command CMD, or run on a terminal`,
  );
}

/** The OAuth 2.0 access token, or undefined when none is configured. */
export function tokenSource(
  sources: SecretSources,
): ((ctx: { user: string; refresh: boolean }) => Promise<string>) | undefined {
  const fromEnv = sources.env.SMTPKIT_OAUTH_TOKEN;
  const command = sources.command;
  if (command) {
    // Re-run on refresh (RFC 7628 §3.2.2: a 334 error challenge means the token was refused).
    return ({ refresh }) => runSecretCommand(command, '--token-command', refresh ? { SMTPKIT_TOKEN_REFRESH: '1' } : {});
  }
  if (fromEnv !== undefined && fromEnv !== '') return async () => fromEnv;
  return undefined;
}

/**
 * Prompt on the controlling terminal with echo off. Returns undefined when stdin is not a TTY.
 */
export function ttyPrompt(output: NodeJS.WritableStream = process.stderr): ((q: string) => Promise<string>) | undefined {
  const input = process.stdin;
  if (!input.isTTY) return undefined;
  return (question) =>
    new Promise((resolve, reject) => {
      // Echo off before the question appears, so nothing typed early is echoed.
      input.setRawMode(true);
      input.resume();
      output.write(question);
      let value = '';
      const finish = (error?: Error) => {
        input.setRawMode(false);
        input.pause();
        input.off('data', onData);
        output.write('\n');
        if (error) reject(error);
        else resolve(value);
      };
      const onData = (chunk: Buffer) => {
        for (const ch of chunk.toString('utf8')) {
          if (ch === '\r' || ch === '\n' || ch === '\u0004') return finish();
          if (ch === '\u0003') return finish(new UsageError('password prompt interrupted'));
          if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
          else value += ch;
        }
      };
      input.on('data', onData);
    });
}
