import { Buffer } from 'node:buffer';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildMessage } from '@smtpkit/mime';
import { DkimError, createSigner, dnsRecord, generateKey, isDkimError, loadPublicKey, signMessage, verify } from '@smtpkit/dkim';
import type { DkimSignerOptions, DkimWarning } from '@smtpkit/dkim';
import { parseTagList } from '../src/signature-header.js';
import { ED25519_SEED, RSA_PRIVATE_KEY } from './fixtures/rfc8463.js';

const ed = generateKey({ type: 'ed25519' });
const rsa = generateKey({ type: 'rsa', bits: 2048 });
const CLOCK = (): Date => new Date('2026-03-04T05:06:07Z');
const signer = (over: Partial<DkimSignerOptions> = {}): DkimSignerOptions => ({ domain: 'example.com', selector: 'ed', privateKey: ed.privateKey, clock: CLOCK, ...over });
const keys = { 'ed._domainkey.example.com': dnsRecord(ed.privateKey).value, 'rsa._domainkey.example.com': dnsRecord(rsa.privateKey).value };
const MESSAGE = 'From: a@example.com\r\nTo: b@example.net\r\nSubject: hi\r\nDate: Wed, 04 Mar 2026 05:06:07 +0000\r\n\r\nHello\r\n';

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return isDkimError(e) ? e.code : `not a DkimError: ${String(e)}`;
  }
  return undefined;
}

function tags(signed: string): Map<string, string> {
  const field = signed.slice(0, signed.search(/\r\n(?![ \t])/));
  return parseTagList(field.slice(field.indexOf(':') + 1));
}

describe('keys', () => {
  it.each([
    ['PKCS#8 PEM (Ed25519)', () => ed.privateKey],
    ['raw Ed25519 seed, base64 (RFC 8463 §A.1)', () => ED25519_SEED],
    ['raw Ed25519 seed, 32 bytes', () => Buffer.from(ED25519_SEED, 'base64')],
    ['KeyObject', () => createPrivateKey(rsa.privateKey)],
    ['PKCS#1 PEM (RSA)', () => createPrivateKey(rsa.privateKey).export({ type: 'pkcs1', format: 'pem' }) as string],
  ])('%s signs and verifies', async (_name, key) => {
    const privateKey = key();
    const signed = await signMessage(MESSAGE, { signers: signer({ privateKey, selector: 'k' }) });
    const [r] = await verify(await signed.toBuffer(), { keys: { 'k._domainkey.example.com': dnsRecord(privateKey).value } });
    expect(r?.status).toBe('pass');
  });

  it('an encrypted PKCS#8 key needs its passphrase, and signs with it', async () => {
    const enc = createPrivateKey(rsa.privateKey).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'sesame' }) as string;
    expect(await codeOf(() => createSigner(signer({ privateKey: enc })))).toBe('ERR_DKIM_INVALID_KEY');
    const signed = await signMessage(MESSAGE, { signers: signer({ privateKey: enc, passphrase: 'sesame', selector: 'rsa' }) });
    expect((await verify(await signed.toBuffer(), { keys }))[0]?.status).toBe('pass');
  });

  it('refuses RSA under 1024 bits, warns under 2048, refuses other key types', async () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 768 }).privateKey;
    expect(await codeOf(() => createSigner(signer({ privateKey: small })))).toBe('ERR_DKIM_KEY_TOO_SMALL');
    const warnings: DkimWarning[] = [];
    createSigner(signer({ privateKey: RSA_PRIVATE_KEY, onWarning: (w) => warnings.push(w) }));
    expect(warnings.map((w) => w.code)).toEqual(['DKIM_WEAK_KEY']);
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    expect(await codeOf(() => createSigner(signer({ privateKey: ec })))).toBe('ERR_DKIM_UNSUPPORTED_KEY');
    expect(await codeOf(() => createSigner(signer({ privateKey: 'not a key' })))).toBe('ERR_DKIM_INVALID_KEY');
  });
});

describe('options', () => {
  it.each([
    ['a bad domain', { domain: 'exa mple.com' }, 'ERR_DKIM_INVALID_OPTION'],
    ['a bad selector', { selector: 'a_b;' }, 'ERR_DKIM_INVALID_OPTION'],
    ['an unknown canonicalization', { canonicalization: 'loose' as never }, 'ERR_DKIM_INVALID_OPTION'],
    ['i= outside d=', { identity: 'a@example.org' }, 'ERR_DKIM_INVALID_OPTION'],
    ['Received in headers', { headers: ['From', 'Received'] }, 'ERR_DKIM_FORBIDDEN_HEADER'],
    ['Bcc in headers', { headers: ['From', 'Bcc'] }, 'ERR_DKIM_FORBIDDEN_HEADER'],
    ['Return-Path in headers', { headers: ['From', 'Return-Path'] }, 'ERR_DKIM_FORBIDDEN_HEADER'],
    ['From skipped', { skip: ['from'] }, 'ERR_DKIM_NO_FROM'],
    ['a zero expiry', { expiresIn: 0 }, 'ERR_DKIM_INVALID_OPTION'],
  ])('%s is refused before any message is read', async (_name, over, code) => {
    expect(await codeOf(() => createSigner(signer(over as Partial<DkimSignerOptions>)))).toBe(code);
  });

  it('no signers, or a message without From, is an error: nothing is signed half', async () => {
    expect(await codeOf(signMessage(MESSAGE, { signers: [] }))).toBe('ERR_DKIM_INVALID_OPTION');
    expect(await codeOf(signMessage('Subject: x\r\n\r\nbody\r\n', { signers: signer() }))).toBe('ERR_DKIM_NO_FROM');
  });

  it('t= from the clock, x= and i= when asked, no l= unless asked (with a warning)', async () => {
    const warnings: string[] = [];
    const plain = await signMessage(MESSAGE, { signers: signer() });
    expect(tags(plain.signatures).get('t')).toBe(String(Date.parse('2026-03-04T05:06:07Z') / 1000));
    expect(tags(plain.signatures).has('l')).toBe(false);
    expect(tags(plain.signatures).has('x')).toBe(false);
    const more = await signMessage(MESSAGE, { signers: signer({ expiresIn: 3600, identity: '@mail.example.com', bodyLength: true, onWarning: (w) => warnings.push(w.code) }) });
    const t = tags(more.signatures);
    expect(Number(t.get('x')) - Number(t.get('t'))).toBe(3600);
    expect(t.get('i')).toBe('@mail.example.com');
    expect(t.get('l')).toBe('7');
    expect(warnings).toEqual(['DKIM_BODY_LENGTH']);
    expect((await verify(await more.toBuffer(), { keys, now: CLOCK() }))[0]?.status).toBe('pass');
    expect((await verify(await more.toBuffer(), { keys, now: new Date('2026-03-05T00:00:00Z') }))[0]).toMatchObject({ status: 'fail', reason: 'the signature expired (x=)' });
  });

  it('over-signs by default: each name once more than it occurs, absent ones once', async () => {
    const signed = await signMessage(MESSAGE, { signers: signer({ headers: ['From', 'Subject', 'List-Unsubscribe-Post', 'Reply-To'] }) });
    expect(tags(signed.signatures).get('h')?.replace(/\s+/g, '')).toBe('From:From:Subject:Subject:List-Unsubscribe-Post:Reply-To');
    const only = await signMessage(MESSAGE, { signers: signer({ headers: ['From', 'Subject', 'Reply-To'], oversign: ['from'] }) });
    expect(tags(only.signatures).get('h')?.replace(/\s+/g, '')).toBe('From:From:Subject');
    const none = await signMessage(MESSAGE, { signers: signer({ oversign: false, skip: ['to', 'date'] }) });
    expect(tags(none.signatures).get('h')?.replace(/\s+/g, '')).toBe('From:Subject');
  });

  it('a missing Date or Message-ID is not guarded by default: a submission server adds them (RFC 6409 §8)', async () => {
    const bare = 'From: a@example.com\r\nSubject: s\r\n\r\nbody\r\n';
    const h = tags((await signMessage(bare, { signers: signer() })).signatures).get('h')?.replace(/\s+/g, '').toLowerCase().split(':') ?? [];
    expect(h).not.toContain('date');
    expect(h).not.toContain('message-id');
    expect(h.filter((n) => n === 'from')).toHaveLength(2);
    const explicit = await signMessage(bare, { signers: signer({ headers: ['From', 'Date'], oversign: ['date'] }) });
    expect(tags(explicit.signatures).get('h')?.replace(/\s+/g, '')).toBe('From:Date');
  });

  it('the default set covers List-Unsubscribe-Post and never Received, Return-Path or Bcc', async () => {
    const m = `Return-Path: <a@example.com>\r\nReceived: from x by y\r\nBcc: c@example.org\r\n${MESSAGE}`;
    const h = tags((await signMessage(m, { signers: signer() })).signatures).get('h')?.replace(/\s+/g, '').toLowerCase().split(':') ?? [];
    expect(h).toContain('list-unsubscribe-post');
    for (const never of ['received', 'return-path', 'bcc']) expect(h).not.toContain(never);
  });

  it('folds the signature only between tags and after a colon of h=, lines within 78 octets', async () => {
    const signed = await signMessage(MESSAGE, { signers: signer({ privateKey: rsa.privateKey, selector: 'rsa' }) });
    const lines = signed.signatures.split('\r\n').slice(0, -1);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(78);
    const h = signed.signatures.slice(signed.signatures.indexOf('h='), signed.signatures.indexOf(';', signed.signatures.indexOf('h=')));
    // Every fold inside h= comes right after a colon: no name is cut.
    for (const fold of h.split('\r\n ').slice(0, -1)) expect(fold.endsWith(':')).toBe(true);
  });
});

describe('the two passes', () => {
  it('is deterministic: mime deterministic mode and a fixed clock give the same bytes every run', async () => {
    const build = () => buildMessage({ from: 'a@example.com', to: 'b@example.net', subject: 'Grüße', text: 'é', signing: true }, { seed: 'det' });
    const one = Buffer.from(await (await signMessage(build(), { signers: signer() })).toBuffer());
    const two = Buffer.from(await (await signMessage(build(), { signers: signer() })).toBuffer());
    expect(two.equals(one)).toBe(true);
  });

  it('signs a reusable BuiltMessage; size is exact; the stream can be read again', async () => {
    const m = buildMessage({ from: 'a@example.com', to: 'b@example.net', subject: 's', text: 'x'.repeat(5000), signing: true });
    const signed = await signMessage(m, { signers: signer() });
    const a = Buffer.from(await signed.toBuffer());
    const b = Buffer.from(await signed.toBuffer());
    expect(a.length).toBe(signed.size);
    expect(b.equals(a)).toBe(true);
    expect((await verify(a, { keys }))[0]?.status).toBe('pass');
  });

  it('refuses a one-shot stream (spool it first) and a non-reusable BuiltMessage', async () => {
    async function* once(): AsyncGenerator<Uint8Array> {
      yield Buffer.from(MESSAGE);
    }
    expect(await codeOf(signMessage(once() as never, { signers: signer() }))).toBe('ERR_DKIM_SOURCE_NOT_REUSABLE');
    const m = buildMessage({ from: 'a@example.com', to: 'b@example.net', text: 'x', attachments: [{ filename: 'a', content: once() }] });
    expect(await codeOf(signMessage(m, { signers: signer() }))).toBe('ERR_DKIM_SOURCE_NOT_REUSABLE');
  });

  it('a source that changes between the passes throws before its last chunk', async () => {
    let run = 0;
    const source = function* (): Generator<Uint8Array> {
      run++;
      yield Buffer.from('From: a@example.com\r\n\r\n');
      yield Buffer.from(run === 1 ? 'first\r\n' : 'other\r\n');
      yield Buffer.from('end\r\n');
    };
    const signed = await signMessage(source, { signers: signer() });
    const seen: string[] = [];
    const err = await codeOf(
      (async () => {
        for await (const c of signed) seen.push(Buffer.from(c).toString());
      })(),
    );
    expect(err).toBe('ERR_DKIM_SOURCE_CHANGED');
    expect(seen.join('')).not.toContain('end\r\n'); // the last chunk never came out
  });

  it('normalizes line ends as the wire sends them: bare LF in, CRLF out, signed as sent', async () => {
    const signed = await signMessage('From: a@example.com\nSubject: x\n\nline\nlast', { signers: signer() });
    const out = Buffer.from(await signed.toBuffer()).toString();
    expect(out.endsWith('\r\n\r\nline\r\nlast\r\n')).toBe(true);
    expect(out).not.toMatch(/[^\r]\n/);
    expect((await verify(out, { keys }))[0]?.status).toBe('pass');
  });

  it('refuses an 8-bit body unless allow8bit; an 8bit body re-encoded to quoted-printable on the way fails verification', async () => {
    const eight = 'From: a@example.com\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGrüße\r\n';
    expect(await codeOf(signMessage(Buffer.from(eight), { signers: signer() }))).toBe('ERR_DKIM_8BIT_BODY');
    const m = buildMessage({ from: 'a@example.com', to: 'b@example.net', text: 'Grüße', signing: { allow8bit: true }, transferEncoding: { eightBit: true } });
    expect(await codeOf(signMessage(m, { signers: signer() }))).toBe('ERR_DKIM_8BIT_BODY');
    const signed = await signMessage(Buffer.from(eight), { signers: signer(), allow8bit: true });
    const text = Buffer.from(await signed.toBuffer()).toString('utf8');
    expect((await verify(text, { keys }))[0]?.status).toBe('pass');
    // What a relay without 8BITMIME does (RFC 6152 §3): the part becomes quoted-printable.
    const relayed = text.replace('Content-Transfer-Encoding: 8bit', 'Content-Transfer-Encoding: quoted-printable').replace('Grüße', 'Gr=C3=BC=C3=9Fe');
    expect((await verify(relayed, { keys }))[0]?.status).toBe('fail');
  });

  it('errors are DkimError instances with a stable code and toJSON', async () => {
    try {
      createSigner(signer({ domain: '' }));
    } catch (e) {
      expect(e).toBeInstanceOf(DkimError);
      expect((e as DkimError).toJSON()).toMatchObject({ name: 'DkimError', kind: 'input', code: 'ERR_DKIM_INVALID_OPTION', field: 'signer.domain' });
    }
  });
});

describe('dnsRecord', () => {
  it('RSA: p= is the SPKI, the record split into 255-octet strings', () => {
    const big = generateKey({ type: 'rsa', bits: 4096 });
    const r = dnsRecord(big.publicKey, { domain: 'example.com', selector: 's1' });
    expect(r.name).toBe('s1._domainkey.example.com');
    expect(r.value.startsWith('v=DKIM1; k=rsa; p=MIIC')).toBe(true);
    expect(r.strings.length).toBeGreaterThan(2);
    for (const s of r.strings) expect(s.length).toBeLessThanOrEqual(255);
    expect(r.strings.join('')).toBe(r.value);
    expect(r.zone).toBe(r.strings.map((s) => `"${s}"`).join(' '));
    expect(loadPublicKey(r.value).export({ type: 'spki', format: 'pem' })).toBe(big.publicKey);
  });

  it('Ed25519: p= is the raw 32-octet key (RFC 8463 §4.2)', () => {
    expect(dnsRecord(ED25519_SEED).value).toBe('v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=');
  });
});
