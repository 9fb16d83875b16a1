// The interop matrix: {rsa-2048, ed25519, dual} × {simple, relaxed}² × four message shapes, each signed
// by signMessage and verified by dkimpy, mailauth, Mail::DKIM (RSA), opendkim -t and our own verify(). Then the
// negative cases every verifier must reject, which is what over-signing is for.
import { Buffer } from 'node:buffer';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildMessage } from '@smtpkit/mime';
import { dnsRecord, dual, generateKey, signMessage, verify } from '@smtpkit/dkim';
import type { DkimSignerOptions } from '@smtpkit/dkim';
import type { Records } from './verifiers.js';
import { verifyWithDkimpy, verifyWithMailauth, verifyWithMailDkim, verifyWithOpendkim } from './verifiers.js';

const DOMAIN = 'example.com';
const CLOCK = (): Date => new Date('2026-01-02T03:04:05Z');
const HEAD = [
  'From: Alice <alice@example.com>',
  'To: Bob <bob@example.net>',
  'Subject: Interop',
  'Date: Fri, 02 Jan 2026 03:04:05 +0000',
  'Message-ID: <interop@example.com>',
  'List-Unsubscribe: <https://example.com/u/1>',
  'MIME-Version: 1.0',
  'Content-Type: text/plain; charset=us-ascii',
].join('\r\n');

function shapes(): Array<[string, Uint8Array]> {
  const attachment = Buffer.alloc(8 * 1024 * 1024);
  for (let i = 0; i < attachment.length; i++) attachment[i] = (i * 2654435761) >>> 24;
  const big = buildMessage(
    { from: 'alice@example.com', to: 'bob@example.net', subject: 'Eight megabytes', text: 'See the attachment.', attachments: [{ filename: 'big.bin', content: attachment }] },
    { seed: 'interop' },
  );
  return [
    ['empty body', Buffer.from(`${HEAD}\r\n\r\n`, 'latin1')],
    ['no final CRLF', Buffer.from(`${HEAD}\r\n\r\nHello Bob,\r\n  two  spaces\t\r\n\r\nlast line without CRLF`, 'latin1')],
    [
      'RFC 2047 headers',
      Buffer.from(
        [
          'From: =?utf-8?Q?Zo=C3=AB?= <zoe@example.com>',
          'To: =?utf-8?B?QmrDtnJu?= <bjorn@example.net>',
          'Subject: =?utf-8?Q?Gr=C3=BC=C3=9Fe_aus_dem_Labor?=',
          '  =?utf-8?Q?_und_mehr?=',
          'Date: Fri, 02 Jan 2026 03:04:05 +0000',
          'Message-ID: <words@example.com>',
          '',
          'Body.',
          '',
        ].join('\r\n'),
        'latin1',
      ),
    ],
    ['8 MB attachment', big as unknown as Uint8Array],
  ];
}

const MODES = ['simple/simple', 'simple/relaxed', 'relaxed/simple', 'relaxed/relaxed'] as const;

let dir: string;
let rsa: string;
let ed: string;
let records: Records;
const files: Array<{ name: string; path: string; algorithms: string[]; bytes: Buffer }> = [];

function signersFor(kind: 'rsa-2048' | 'ed25519' | 'dual', mode: (typeof MODES)[number]): DkimSignerOptions[] {
  const common = { domain: DOMAIN, canonicalization: mode, clock: CLOCK };
  if (kind === 'rsa-2048') return [{ ...common, selector: 'rsa', privateKey: rsa }];
  if (kind === 'ed25519') return [{ ...common, selector: 'ed', privateKey: ed }];
  return dual({ ...common, rsa: { selector: 'rsa', privateKey: rsa }, ed25519: { selector: 'ed', privateKey: ed } });
}

async function write(name: string, bytes: Uint8Array, algorithms: string[]): Promise<void> {
  const path = join(dir, `${files.length}.eml`);
  writeFileSync(path, bytes);
  files.push({ name, path, algorithms, bytes: Buffer.from(bytes) });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'smtpkit-dkim-interop-'));
  rsa = generateKey({ type: 'rsa', bits: 2048 }).privateKey;
  ed = generateKey({ type: 'ed25519' }).privateKey;
  records = {
    [`rsa._domainkey.${DOMAIN}`]: dnsRecord(rsa).value,
    [`ed._domainkey.${DOMAIN}`]: dnsRecord(ed).value,
  };
  for (const [shape, source] of shapes()) {
    for (const kind of ['rsa-2048', 'ed25519', 'dual'] as const) {
      for (const mode of MODES) {
        const signed = await signMessage(source as never, { signers: signersFor(kind, mode) });
        const algorithms = kind === 'dual' ? ['rsa', 'ed25519'] : [kind === 'rsa-2048' ? 'rsa' : 'ed25519'];
        await write(`${shape} · ${kind} · ${mode}`, await signed.toBuffer(), algorithms);
      }
    }
  }
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('interop matrix: every verifier that supports the algorithm passes every signature', () => {
  it('48 signed messages, 4 shapes × 3 key sets × 4 canonicalizations', () => {
    expect(files).toHaveLength(48);
  });

  it('dkimpy (python3-dkim) passes every signature, RSA and Ed25519', async () => {
    const verdicts = await verifyWithDkimpy(files.map((f) => f.path), records);
    expect(files.map((f, i) => [f.name, verdicts[i]])).toEqual(files.map((f) => [f.name, f.algorithms.map(() => true)]));
  });

  it('mailauth passes every signature, RSA and Ed25519', async () => {
    const got: Array<[string, boolean[]]> = [];
    for (const f of files) got.push([f.name, await verifyWithMailauth(f.bytes, records)]);
    expect(got).toEqual(files.map((f) => [f.name, f.algorithms.map(() => true)]));
  });

  it('Mail::DKIM (libmail-dkim-perl) passes every RSA signature', async () => {
    const verdicts = await verifyWithMailDkim(files.map((f) => f.path), records);
    const rsaOnly = (f: (typeof files)[number], v: boolean[] | undefined): boolean[] => f.algorithms.flatMap((a, i) => (a === 'rsa' ? [v?.[i] ?? false] : []));
    expect(files.map((f, i) => [f.name, rsaOnly(f, verdicts[i])])).toEqual(files.map((f) => [f.name, f.algorithms.filter((a) => a === 'rsa').map(() => true)]));
  });

  it('opendkim -t passes every message (its first signature: RSA, or Ed25519 alone)', async () => {
    const verdicts = await verifyWithOpendkim(files.map((f) => f.path), records, dir);
    expect(files.map((f, i) => [f.name, verdicts[i]])).toEqual(files.map((f) => [f.name, true]));
  });

  it('our verify() passes every signature', async () => {
    const got: Array<[string, string[]]> = [];
    for (const f of files) got.push([f.name, (await verify(f.bytes, { keys: records })).map((r) => r.status)]);
    expect(got).toEqual(files.map((f) => [f.name, f.algorithms.map(() => 'pass')]));
  });
});

/** Tampering a relay or an attacker might try, applied to a signed message. */
const TAMPER: Array<[string, (m: string) => string]> = [
  ['a second From added on top', (m) => `From: Mallory <mallory@example.org>\r\n${m}`],
  ['List-Unsubscribe-Post added', (m) => `List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n${m}`],
  ['the Subject edited', (m) => m.replace('Subject: Interop', 'Subject: Interop!')],
  ['a body line appended', (m) => `${m}P.S. appended\r\n`],
];

describe('negative: every verifier rejects a tampered message (over-signing at work)', () => {
  const tampered: Array<{ name: string; path: string; bytes: Buffer; algorithms: string[] }> = [];

  beforeAll(async () => {
    for (const mode of ['simple/simple', 'relaxed/relaxed'] as const) {
      const signed = await signMessage(`${HEAD}\r\n\r\nThe original body.\r\n`, { signers: signersFor('dual', mode) });
      const text = Buffer.from(await signed.toBuffer()).toString('latin1');
      for (const [what, change] of TAMPER) {
        const bytes = Buffer.from(change(text), 'latin1');
        const path = join(dir, `tampered-${tampered.length}.eml`);
        writeFileSync(path, bytes);
        tampered.push({ name: `${what} · ${mode}`, path, bytes, algorithms: ['rsa', 'ed25519'] });
      }
    }
  });

  it('dkimpy fails every signature', async () => {
    const verdicts = await verifyWithDkimpy(tampered.map((t) => t.path), records);
    expect(tampered.map((t, i) => [t.name, verdicts[i]])).toEqual(tampered.map((t) => [t.name, [false, false]]));
  });

  it('mailauth fails every signature', async () => {
    const got: Array<[string, boolean[]]> = [];
    for (const t of tampered) got.push([t.name, await verifyWithMailauth(t.bytes, records)]);
    expect(got).toEqual(tampered.map((t) => [t.name, [false, false]]));
  });

  it('Mail::DKIM fails every RSA signature', async () => {
    const verdicts = await verifyWithMailDkim(tampered.map((t) => t.path), records);
    expect(tampered.map((t, i) => [t.name, verdicts[i]?.[0]])).toEqual(tampered.map((t) => [t.name, false]));
  });

  it('opendkim -t fails every message', async () => {
    const verdicts = await verifyWithOpendkim(tampered.map((t) => t.path), records, dir);
    expect(tampered.map((t, i) => [t.name, verdicts[i]])).toEqual(tampered.map((t) => [t.name, false]));
  });

  it('our verify() fails every signature', async () => {
    const got: Array<[string, string[]]> = [];
    for (const t of tampered) got.push([t.name, (await verify(t.bytes, { keys: records })).map((r) => r.status)]);
    expect(got).toEqual(tampered.map((t) => [t.name, ['fail', 'fail']]));
  });
});
