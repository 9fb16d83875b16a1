// The independent verifiers the tests run: dkimpy (Debian python3-dkim), Mail::DKIM (Debian
// libmail-dkim-perl), opendkim -t (Debian opendkim) and mailauth (npm). Each gets the message on stdin (or as bytes) and the key
// records from the test, never from DNS. A verifier that is missing fails the test loudly.
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Buffer } from 'node:buffer';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';

export const PYTHON = '/usr/bin/python3';
export const PERL = '/usr/bin/perl';

/** Key records by DNS name, as the verifiers would have found them in TXT records. */
export type Records = Record<string, string>;

/** One verdict per DKIM-Signature field, top to bottom: true when it verified. */
export type Verdicts = boolean[];

function run(file: string, args: string[], input: Uint8Array, env: Record<string, string>, withStderr = false): Promise<string> {
  if (!existsSync(file)) throw new Error(`${file} is missing: the DKIM verifiers need Debian's python3-dkim, libmail-dkim-perl and opendkim`);
  return runProcess(file, args, { input, env, withStderr, timeoutMs: 120_000 });
}

/** Runs a program to its end (killed after `timeoutMs`); resolves its stdout (and stderr), rejects on a non-zero exit. */
export function runProcess(
  file: string,
  args: string[],
  options: { input?: Uint8Array; env?: Record<string, string>; cwd?: string; withStderr?: boolean; timeoutMs: number },
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: { ...process.env, ...options.env }, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(options.withStderr ? out + err : out);
      else reject(new Error(`${file} exited ${code}: ${err.slice(-2000)}`));
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? new Uint8Array(0));
  });
}

const DKIMPY = String.raw`
import dkim, json, os, sys
records = json.loads(os.environ['DKIM_RECORDS'])
def dnsfunc(name, timeout=5):
    name = name.decode('ascii').rstrip('.')
    if name not in records:
        raise Exception('test has no key for ' + name)
    return records[name].encode('ascii')
results = []
for path in json.loads(sys.stdin.read()):
    with open(path, 'rb') as f:
        msg = f.read()
    count = sum(1 for (k, v) in dkim.DKIM(msg).headers if k.lower() == b'dkim-signature')
    out = []
    for i in range(count):
        try:
            out.append(bool(dkim.DKIM(msg, minkey=1024).verify(idx=i, dnsfunc=dnsfunc)))
        except Exception:
            out.append(False)
    results.append(out)
print(json.dumps(results))
`;

/**
 * dkimpy: `dkim.DKIM(msg).verify(idx=i, dnsfunc=…)` for every signature of every message file
 * (rsa-sha256 and ed25519-sha256), in one process.
 */
export async function verifyWithDkimpy(files: string[], records: Records): Promise<Verdicts[]> {
  const out = await run(PYTHON, ['-c', DKIMPY], Buffer.from(JSON.stringify(files)), { DKIM_RECORDS: JSON.stringify(records) });
  return JSON.parse(out) as Verdicts[];
}

const MAIL_DKIM = String.raw`
use strict; use warnings;
use JSON::PP; use Mail::DKIM::Verifier; use Net::DNS;
my $records = decode_json($ENV{DKIM_RECORDS});
{
  no warnings 'redefine';
  *Mail::DKIM::DNS::query = sub {
    my ($name, $type) = @_;
    $name =~ s/\.$//;
    my $txt = $records->{$name};
    return () unless defined $txt;
    my @strings = unpack('(A255)*', $txt);
    return (Net::DNS::RR->new(name => $name, type => 'TXT', txtdata => [@strings]));
  };
}
my $files = decode_json(do { local $/; <STDIN> });
my @results;
for my $path (@$files) {
  open(my $fh, '<:raw', $path) or die "$path: $!";
  my $v = Mail::DKIM::Verifier->new();
  # Mail::DKIM wants CRLF; a Maildir file has LF line ends.
  my $message = do { local $/; <$fh> };
  $message =~ s/\015?\012/\015\012/g;
  $v->PRINT($message);
  close $fh;
  $v->CLOSE;
  push @results, [map { $_->result eq 'pass' ? JSON::PP::true : JSON::PP::false } $v->signatures];
}
print encode_json(\@results), "\n";
`;

/**
 * Mail::DKIM::Verifier, with its DNS query answered from the test's records, for every message file.
 * Debian's build has no Crypt::PK::Ed25519, so only its rsa-sha256 verdicts count.
 */
export async function verifyWithMailDkim(files: string[], records: Records): Promise<Verdicts[]> {
  const out = await run(PERL, ['-e', MAIL_DKIM], Buffer.from(JSON.stringify(files)), { DKIM_RECORDS: JSON.stringify(records) });
  return JSON.parse(out) as Verdicts[];
}

/** mailauth's `dkimVerify` with its `resolver` option answering from the test's records. */
export async function verifyWithMailauth(message: Uint8Array, records: Records): Promise<Verdicts> {
  const resolver = async (name: string, type: string): Promise<string[][]> => {
    const record = records[name.replace(/\.$/, '')];
    if (type !== 'TXT' || record === undefined) throw Object.assign(new Error(`no ${type} for ${name}`), { code: 'ENOTFOUND' });
    const strings: string[] = [];
    for (let i = 0; i < record.length; i += 255) strings.push(record.slice(i, i + 255));
    return [strings];
  };
  const result = await dkimVerify(Buffer.from(message), { resolver, minBitLength: 1024 });
  return result.results.map((r: { status: { result: string } }) => r.status.result === 'pass');
}

export const OPENDKIM = '/usr/sbin/opendkim';

/**
 * `opendkim -t` (Debian package opendkim) with `TestPublicKeys`: the keys from a file, never DNS. In
 * test mode it reports one verdict per message, for its first signature.
 */
export async function verifyWithOpendkim(files: string[], records: Records, workDir: string): Promise<boolean[]> {
  const keys = join(workDir, 'opendkim-keys.txt');
  const conf = join(workDir, 'opendkim.conf');
  writeFileSync(keys, Object.entries(records).map(([name, value]) => `${name} ${value}\n`).join(''));
  writeFileSync(conf, `Syslog no\nMode v\nTestPublicKeys ${keys}\n`);
  const out = await run(OPENDKIM, ['-x', conf, '-t', files.join(',')], new Uint8Array(0), {}, true);
  const verdicts = new Map<string, boolean>();
  for (const line of out.split('\n')) {
    const m = /^opendkim: (.+?): verification .* (succeeded|failed)/.exec(line);
    if (m) verdicts.set(m[1] as string, m[2] === 'succeeded');
  }
  return files.map((f) => verdicts.get(f) ?? false);
}
