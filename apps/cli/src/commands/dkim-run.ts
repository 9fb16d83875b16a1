import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDkimSpec } from '../dkim-flag.js';
import { EXIT, InputFileError, UsageError, exitCodeFor, type ExitCode } from '../exit-codes.js';
import { readInput } from '../message.js';
import type { KeygenFlags, RecordFlags, VerifyFlags } from './dkim.js';

function fail(error: unknown, json: boolean | undefined): ExitCode {
  const code = exitCodeFor(error);
  const e = error as { name?: string; code?: string; message?: string };
  if (json) process.stdout.write(`${JSON.stringify({ ok: false, error: { name: e.name, code: e.code ?? null, message: e.message ?? String(error) }, exitCode: code })}\n`);
  process.stderr.write(`smtpkit: ${e.message ?? String(error)}\n`);
  return code;
}

async function readKey(path: string): Promise<Buffer> {
  return readFile(path).catch((e: unknown) => Promise.reject(new InputFileError(path, e)));
}

/** `smtpkit dkim keygen`: the private key 0600 in `--out`, the record beside it and on stdout. */
export async function runKeygen(flags: KeygenFlags): Promise<ExitCode> {
  try {
    const dkim = await import('@smtpkit/dkim');
    if (flags.type !== 'rsa' && flags.type !== 'ed25519') throw new UsageError(`--type "${flags.type}" must be rsa or ed25519`);
    if (flags.bits !== undefined && flags.type !== 'rsa') throw new UsageError('--bits applies to --type rsa only');
    const bits = flags.bits === undefined ? undefined : Number(flags.bits);
    if (bits !== undefined && !Number.isSafeInteger(bits)) throw new UsageError(`--bits "${flags.bits}" is not a number`);
    const domain = flags.domain as string;
    const selector = flags.selector as string;
    // createSigner checks the domain and selector the way signing will.
    const key = dkim.generateKey({ type: flags.type, ...(bits === undefined ? {} : { bits }) });
    dkim.createSigner({ domain, selector, privateKey: key.privateKey, onWarning: () => undefined }, '--domain/--selector');
    const record = dkim.dnsRecord(key.privateKey, { domain, selector });
    const dir = flags.out as string;
    await mkdir(dir, { recursive: true });
    const keyFile = join(dir, `${selector}.private`);
    const recordFile = join(dir, `${selector}.txt`);
    // 'wx': never overwrite a key someone may already have published.
    await writeFile(keyFile, key.privateKey, { mode: 0o600, flag: 'wx' }).catch((e: unknown) => {
      throw (e as { code?: string }).code === 'EEXIST' ? new UsageError(`${keyFile} exists: pick another --selector or --out`) : e;
    });
    await chmod(keyFile, 0o600); // whatever the umask
    await writeFile(recordFile, `${record.name}. IN TXT ( ${record.zone} )\n`, { mode: 0o644 });
    if (flags.json) process.stdout.write(`${JSON.stringify({ ok: true, keyFile, recordFile, name: record.name, value: record.value, strings: record.strings })}\n`);
    else process.stdout.write(`${record.name}. IN TXT ( ${record.zone} )\n`);
    process.stderr.write(`smtpkit: private key written to ${keyFile} (0600); publish the record above, then sign with --dkim ${domain}:${selector}:${keyFile}\n`);
    return EXIT.OK;
  } catch (error) {
    return fail(error, flags.json);
  }
}

/** `smtpkit dkim record KEYFILE`: the TXT record of a key. */
export async function runRecord(file: string, flags: RecordFlags): Promise<ExitCode> {
  try {
    const dkim = await import('@smtpkit/dkim');
    if ((flags.domain === undefined) !== (flags.selector === undefined)) throw new UsageError('--domain and --selector go together');
    const record = dkim.dnsRecord(await readKey(file), { ...(flags.domain ? { domain: flags.domain } : {}), ...(flags.selector ? { selector: flags.selector } : {}) });
    if (flags.json) process.stdout.write(`${JSON.stringify({ ok: true, name: record.name ?? null, value: record.value, strings: record.strings })}\n`);
    else process.stdout.write(record.name ? `${record.name}. IN TXT ( ${record.zone} )\n` : `${record.zone}\n`);
    return EXIT.OK;
  } catch (error) {
    return fail(error, flags.json);
  }
}

/** `smtpkit dkim verify FILE --key D:S:PUB`: every signature's result; exit 0 only when all pass. */
export async function runVerify(file: string, flags: VerifyFlags): Promise<ExitCode> {
  try {
    const dkim = await import('@smtpkit/dkim');
    const specs = (flags.key ?? []).map((k) => parseDkimSpec(k, '--key'));
    if (specs.length === 0) throw new UsageError('dkim verify needs --key DOMAIN:SELECTOR:PUBLIC_KEY_FILE (no DNS is asked)');
    const keys: Record<string, Buffer> = {};
    for (const s of specs) keys[`${s.selector}._domainkey.${s.domain}`] = await readKey(s.keyFile);
    const results = await dkim.verify(await readInput(file), { keys });
    const ok = results.length > 0 && results.every((r) => r.status === 'pass');
    if (flags.json) process.stdout.write(`${JSON.stringify({ ok, results })}\n`);
    else {
      if (results.length === 0) process.stdout.write('no DKIM-Signature\n');
      for (const r of results) process.stdout.write(`dkim=${r.status} d=${r.domain ?? '?'} s=${r.selector ?? '?'} a=${r.algorithm ?? '?'}${r.reason ? ` (${r.reason})` : ''}\n`);
    }
    return ok ? EXIT.OK : EXIT.DATAERR;
  } catch (error) {
    return fail(error, flags.json);
  }
}
