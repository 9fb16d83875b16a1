/**
 * `smtpkit inbox`: runs the local capture inbox (@smtpkit/inbox) in the foreground until SIGINT / SIGTERM.
 * The command is defined here and registered in program.ts; the inbox itself loads only when it runs.
 */
import type { Command } from 'commander';
import type * as InboxLib from '@smtpkit/inbox';
import { EXIT } from '../exit-codes.js';

/** Raw `inbox` flags as commander hands them over. */
export interface InboxFlags {
  smtp?: string; http?: string; dir?: string; tls?: string; cert?: string; key?: string;
  auth?: string; maxMessages?: string; shot?: string; hostname?: string;
}

/** Adds `smtpkit inbox` to the program. */
export function addInboxCommand(program: Command, run: (flags: InboxFlags) => Promise<void>): void {
  program
    .command('inbox')
    .description('run a local capture inbox: SMTP in, a web page and a JSON API showing what each client really said')
    .option('--smtp <host:port>', 'SMTP address (default 127.0.0.1:1025; port 0 picks a free one)')
    .option('--http <host:port>', 'web page and JSON API address (default 127.0.0.1:8025)')
    .option('--dir <dir>', 'keep each message as <id>.eml + <id>.json here, and load them on start')
    .option('--tls <mode>', 'self-signed: offer STARTTLS with a certificate made at start')
    .option('--cert <file>', 'offer STARTTLS with this certificate (PEM), with --key')
    .option('--key <file>', 'the private key (PEM) of --cert')
    .option('--auth <any|file>', 'any: offer AUTH, accept any credentials; FILE: require AUTH, users as "user:secret" lines')
    .option('--max-messages <n>', 'messages kept in memory (default 500)')
    .option('--shot <file.png>', 'after each message, write a PNG of its evidence view (needs Chromium)')
    .option('--hostname <name>', 'name in the greeting and EHLO reply (default inbox.smtpkit.test)')
    .action((flags: InboxFlags) => run(flags));
}

class UsageError extends Error {}

/** `HOST:PORT`, `:PORT` or `PORT`; `[::1]:PORT` for IPv6. */
export function parseAddress(value: string | undefined, fallbackPort: number, flag: string): { host: string; port: number } {
  if (value === undefined) return { host: '127.0.0.1', port: fallbackPort };
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*))?:?(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new UsageError(`${flag} ${JSON.stringify(value)}: expected HOST:PORT, e.g. 127.0.0.1:${fallbackPort}`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

/** Runs the inbox until a signal; resolves with the exit code. */
export async function runInbox(flags: InboxFlags, out = (s: string) => process.stdout.write(`${s}\n`), err = (s: string) => process.stderr.write(`${s}\n`)): Promise<number> {
  const inboxLib = await import('@smtpkit/inbox');
  let options: Parameters<typeof inboxLib.startInbox>[0];
  try {
    options = await optionsFrom(flags, inboxLib);
  } catch (e) {
    err(`smtpkit inbox: ${(e as Error).message}`);
    return e instanceof UsageError ? EXIT.USAGE : EXIT.NOINPUT;
  }
  for (const [name, host] of [['SMTP', options.smtpHost], ['HTTP', options.httpHost]] as const) {
    if (host !== undefined && !inboxLib.isLoopback(host)) {
      err(`WARNING: the inbox ${name} side listens on ${host}, not loopback: anyone who can reach this machine can send to it${name === 'HTTP' ? ' and READ EVERY CAPTURED MESSAGE' : ''}.`);
    }
  }
  let shooting = Promise.resolve();
  // Listen before anything is printed: until a listener exists, SIGINT keeps its default action and would end the
  // process at once, without closing the inbox (a script that waits for the banner, then stops us, meets that).
  const stopped = new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  let inbox: Awaited<ReturnType<typeof inboxLib.startInbox>>;
  try {
    inbox = await inboxLib.startInbox({
      ...options,
      onMessage: (m) => {
        const t = m.transaction;
        out(`${m.receivedAt.slice(11, 19)}  <${t.from}> → ${t.to.map((x) => `<${x}>`).join(' ')}  ${JSON.stringify(m.analysis.subject)}  ${m.raw.length} octets  [${t.extensions.join(' ')}]  ${m.findings.length} finding(s)  ${inbox.url}evidence/${m.id}`);
        if (flags.shot) shooting = shooting.then(() => shoot(inboxLib, `${inbox.url}evidence/${m.id}`, flags.shot as string, out, err));
      },
    });
  } catch (e) {
    const code = (e as { code?: string }).code;
    err(`smtpkit inbox: ${(e as Error).message}${code === 'EADDRINUSE' ? ' (another inbox or mail catcher is running? pick another port with --smtp / --http)' : ''}`);
    return EXIT.TEMPFAIL;
  }
  out('smtpkit inbox');
  out(`  SMTP  ${options.smtpHost}:${inbox.smtpPort}${options.tls ? '  (STARTTLS offered)' : ''}${options.auth ? `  (AUTH ${options.auth.mode === 'any' ? 'offered, any credentials' : 'required'})` : ''}`);
  out(`  web   ${inbox.url}`);
  out(`  API   ${inbox.url}api/messages`);
  if (options.dir) out(`  dir   ${options.dir} (${inbox.store.list().length} message(s) loaded)`);
  out('Ctrl-C to stop.');
  const latest = inbox.store.list()[0];
  if (flags.shot && latest) shooting = shoot(inboxLib, `${inbox.url}evidence/${latest.id}`, flags.shot, out, err);
  const signal = await stopped;
  out(`${signal}: stopping`);
  await shooting;
  await inbox.close();
  return EXIT.OK;
}

async function shoot(lib: typeof InboxLib, url: string, file: string, out: (s: string) => void, err: (s: string) => void): Promise<void> {
  try {
    out(`evidence screenshot: ${await lib.evidenceScreenshot({ url, file })}`);
  } catch (e) {
    err(`smtpkit inbox: --shot: ${(e as Error).message}`);
  }
}

async function optionsFrom(flags: InboxFlags, lib: typeof InboxLib) {
  const smtp = parseAddress(flags.smtp, 1025, '--smtp');
  const http = parseAddress(flags.http, 8025, '--http');
  const options: Parameters<typeof lib.startInbox>[0] = { smtpHost: smtp.host, smtpPort: smtp.port, httpHost: http.host, httpPort: http.port };
  if (flags.hostname !== undefined) options.hostname = flags.hostname;
  if (flags.dir !== undefined) options.dir = flags.dir;
  if (flags.maxMessages !== undefined) {
    const n = Number(flags.maxMessages);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`--max-messages ${JSON.stringify(flags.maxMessages)}: expected a positive integer`);
    options.maxMessages = n;
  }
  if (flags.tls !== undefined && flags.tls !== 'self-signed') throw new UsageError(`--tls ${JSON.stringify(flags.tls)}: the only mode is self-signed (or give --cert and --key)`);
  if ((flags.cert === undefined) !== (flags.key === undefined)) throw new UsageError('--cert and --key go together');
  if (flags.tls !== undefined && flags.cert !== undefined) throw new UsageError('--tls self-signed and --cert are exclusive');
  if (flags.tls === 'self-signed') options.tls = await lib.selfSignedCertificate(options.hostname ?? 'inbox.smtpkit.test');
  if (flags.cert !== undefined && flags.key !== undefined) {
    const { readFile } = await import('node:fs/promises');
    options.tls = { cert: await readFile(flags.cert), key: await readFile(flags.key) };
  }
  if (flags.auth === 'any') options.auth = { mode: 'any' };
  else if (flags.auth !== undefined) options.auth = { mode: 'users', users: await lib.readUsersFile(flags.auth) };
  return options;
}
