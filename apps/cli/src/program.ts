import { Command, Option } from 'commander';
import pkg from '../package.json' with { type: 'json' };
import { addExtraSendOptions, type ExtraSendFlags } from './send-extras.js';
import { addOAuthCommands } from './commands/oauth.js';
import { addInboxCommand, type InboxFlags } from './commands/inbox.js';
import { addDkimCommand } from './commands/dkim.js';
import { addQueueCommands, type QueueActions } from './commands/queue.js';

/** Raw `send` flags as commander hands them over (strings; validated in send-options.ts). */
export interface SendFlags extends ExtraSendFlags {
  server?: string; port?: string; profile?: string; mx?: boolean; lmtp?: boolean; socket?: string;
  from?: string; to?: string[]; cc?: string[]; bcc?: string[];
  subject?: string; body?: string; bodyFile?: string; html?: string;
  attach?: string[]; inline?: string[]; header?: string[];
  eml?: string; readRecipients?: boolean;
  tls?: string; requireTls?: boolean; ca?: string; pin?: string; insecure?: boolean; account?: string;
  user?: string; passwordCommand?: string; auth?: string; tokenCommand?: string;
  helo?: string; heloOnly?: boolean; timeout?: string; quitAfter?: string;
  dryRun?: boolean; quiet?: boolean; verbose?: boolean; json?: boolean; transcript?: string;
  dkim?: string[];
}

/** Raw `probe` flags. */
export interface ProbeFlags {
  server?: string; port?: string; profile?: string; tls?: string; ca?: string; pin?: string; insecure?: boolean;
  lmtp?: boolean; socket?: string;
  helo?: string; timeout?: string; quiet?: boolean; verbose?: boolean; json?: boolean; transcript?: string;
  account?: string;
}

/** What the program decided to run; actions load their code lazily so `--help` stays instant. */
export interface Actions {
  send(flags: SendFlags): Promise<void>;
  probe(flags: ProbeFlags): Promise<void>;
  inbox?(flags: InboxFlags): Promise<void>;
  queue?: QueueActions;
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

function connectionOptions(cmd: Command): Command {
  return cmd
    .option('-s, --server <host>', 'SMTP server (default 127.0.0.1)')
    .option('-p, --port <n>', 'port (default 1025; 465 with --tls implicit; 587 with --tls starttls)')
    .option('--profile <name>', 'preset: local, gmail, office365, outlook, aol, or a profile from the config file')
    .option('--lmtp', 'speak LMTP (RFC 2033: LHLO, one reply per recipient), e.g. into Dovecot; needs --port or --socket')
    .option('--socket <path>', 'connect to this Unix domain socket instead of --server/--port (TLS off unless --tls)')
    .addOption(new Option('--tls <mode>', 'auto (from the port, STARTTLS when offered) | starttls | implicit | none'))
    .option('--ca <path>', 'extra CA certificate (PEM)')
    .option('--pin <sha256>', "pin the server certificate's SHA-256 fingerprint")
    .option('--insecure', 'do not verify the certificate (dangerous)')
    .option('--account <name>', 'AUTH XOAUTH2 with an account from `smtpkit login` (refreshed as needed)')
    .option('--helo <name>', 'EHLO/HELO/LHLO name (default: this host name)')
    .option('--timeout <seconds>', 'per-step timeout (default: RFC 5321 §4.5.3.2 values)')
    .option('-q, --quiet', 'print nothing at all')
    .option('-v, --verbose', 'print the transcript (C: / S: / * lines, AUTH redacted) on stderr')
    .option('--json', 'print one JSON object on stdout')
    .option('--transcript <file>', 'write the redacted transcript as JSON lines');
}

/**
 * Build the commander program. Errors from commander itself (unknown flag, missing value)
 * surface as CommanderError, which cli.ts turns into exit 64.
 */
export function buildProgram(actions: Actions, writeErr: (s: string) => void): Command {
  const program = new Command('smtpkit')
    .description('Send mail and probe SMTP servers, speaking SMTP itself.')
    .version(pkg.version, '-V, --version')
    .exitOverride()
    .configureOutput({ writeErr, outputError: (s, write) => write(s) })
    .showHelpAfterError('(run with --help for usage)');

  const send = program
    .command('send')
    .description('send one message')
    .option('--mx', "direct delivery: the MX of each recipient's domain, port 25")
    .option('-f, --from <addr>', 'envelope and header From ("Name <a@b>" accepted)')
    .option('-t, --to <addr>', 'recipient, repeatable ("Name <a@b>" accepted)', collect)
    .option('--cc <addr>', 'Cc recipient, repeatable', collect)
    .option('--bcc <addr>', 'Bcc recipient, repeatable (never in the headers)', collect)
    .option('--subject <text>', 'subject')
    .option('--body <text>', 'text part')
    .option('--body-file <path>', 'text part from a file (- = stdin)')
    .option('--html <path>', 'HTML part (multipart/alternative with the text)')
    .option('-a, --attach <path>', 'attachment, repeatable; type from the extension', collect)
    .option('--inline <path>', 'inline image, repeatable; referenced as cid:<basename> in the HTML', collect)
    .option('--header <line>', 'extra header "Name: value", repeatable', collect)
    .option('--eml <path>', 'send this RFC 5322 message as-is (- = stdin)')
    .option('--read-recipients', 'with --eml: recipients from To/Cc/Bcc, Bcc stripped (sendmail -t)')
    .option('--require-tls', 'refuse to send MAIL FROM unless TLS is up')
    .option('--user <name>', 'AUTH user; password from SMTPKIT_PASSWORD, --password-command, or a prompt')
    .option('--password-command <cmd>', 'shell command printing the password')
    .option('--auth <mech>', 'auto | plain | login | xoauth2 | oauthbearer | cram-md5 | scram-sha-256 | scram-sha-1 | external')
    .option('--token-command <cmd>', 'shell command printing an OAuth 2.0 access token (else SMTPKIT_OAUTH_TOKEN)')
    .option('--helo-only', 'send HELO instead of EHLO')
    .option('--quit-after <step>', 'stop after connect | greeting | ehlo | tls | auth | mail | rcpt, then QUIT')
    .option('--dry-run', 'print the message that would be sent; send nothing')
    .option('--dkim <domain:selector:keyfile>', 'DKIM-sign with this private key, repeatable (e.g. RSA + Ed25519)', collect);
  connectionOptions(addExtraSendOptions(send)).action((flags: SendFlags) => actions.send(flags));
  if (actions.queue) addQueueCommands(program, send, actions.queue);

  const probe = program
    .command('probe')
    .description('connect, EHLO (LHLO with --lmtp), STARTTLS when offered, EHLO again; print capabilities and the certificate');
  connectionOptions(probe).action((flags: ProbeFlags) => actions.probe(flags));
  addOAuthCommands(program);
  addInboxCommand(program, async (flags) => actions.inbox?.(flags));
  addDkimCommand(program);

  return program;
}
