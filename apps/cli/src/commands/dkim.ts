import type { Command } from 'commander';
import type * as DkimRun from './dkim-run.js';

/** Raw `dkim keygen` flags. */
export interface KeygenFlags {
  type?: string;
  bits?: string;
  domain?: string;
  selector?: string;
  out?: string;
  json?: boolean;
}

/** Raw `dkim record` flags. */
export interface RecordFlags {
  domain?: string;
  selector?: string;
  json?: boolean;
}

/** Raw `dkim verify` flags. */
export interface VerifyFlags {
  key?: string[];
  json?: boolean;
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** Run one `dkim` action, its code loaded only when asked for; the exit code goes to `process.exitCode`. */
async function act(run: (m: typeof DkimRun) => Promise<number>): Promise<void> {
  process.exitCode = await run(await import('./dkim-run.js'));
}

/**
 * `smtpkit dkim keygen|record|verify`: make a key pair and the TXT record to publish, print the record
 * of a key, check a message's signatures against given public keys (no DNS).
 */
export function addDkimCommand(program: Command): void {
  const dkim = program.command('dkim').description('DKIM keys and records; verify a signed message without DNS');
  dkim
    .command('keygen')
    .description('generate a private key (written 0600) and print the DNS record to publish')
    .requiredOption('--type <type>', 'rsa | ed25519')
    .option('--bits <n>', 'RSA key size (default 2048)')
    .requiredOption('--domain <domain>', 'signing domain (d=)')
    .requiredOption('--selector <selector>', 'selector (s=)')
    .requiredOption('--out <dir>', 'directory for SELECTOR.private and SELECTOR.txt')
    .option('--json', 'print one JSON object on stdout')
    .action((flags: KeygenFlags) => act((m) => m.runKeygen(flags)));
  dkim
    .command('record')
    .description("print the DNS TXT record of a key (private or public, PEM)")
    .argument('<keyfile>', 'key file')
    .option('--domain <domain>', 'signing domain, to print the record name')
    .option('--selector <selector>', 'selector, to print the record name')
    .option('--json', 'print one JSON object on stdout')
    .action((file: string, flags: RecordFlags) => act((m) => m.runRecord(file, flags)));
  dkim
    .command('verify')
    .description('verify the DKIM signatures of a message file (- = stdin) with the given public keys')
    .argument('<file>', 'message file (RFC 5322)')
    .option('--key <domain:selector:public_key_file>', 'public key (PEM or a DKIM TXT record), repeatable', collect)
    .option('--json', 'print one JSON object on stdout')
    .action((file: string, flags: VerifyFlags) => act((m) => m.runVerify(file, flags)));
}
