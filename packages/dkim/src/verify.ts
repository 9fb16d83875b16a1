import { Buffer } from 'node:buffer';
import { createHash, verify as cryptoVerify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { Canonicalization, HashSink } from './canonicalize.js';
import { createBodyCanonicalizer } from './canonicalize.js';
import { isDkimError } from './errors.js';
import { HeaderSplitter, parseHeaderFields } from './header-section.js';
import type { HeaderField } from './header-section.js';
import { loadPublicKey } from './keys.js';
import type { DkimAlgorithm, PublicKeyInput } from './keys.js';
import { LineEndNormalizer } from './line-ends.js';
import { selectFields } from './select-headers.js';
import { headerHashInput } from './signer.js';
import { parseTagList, withoutSignatureValue } from './signature-header.js';

/**
 * Where {@link verify} finds public keys: a map from the DNS name (`<selector>._domainkey.<domain>`)
 * to a key record (`v=DKIM1; k=…; p=…`), a PEM public key or a KeyObject; or a function of domain and selector.
 */
export type VerifyKeys =
  | Readonly<Record<string, PublicKeyInput>>
  | ((domain: string, selector: string) => PublicKeyInput | undefined | Promise<PublicKeyInput | undefined>);

/** Options of {@link verify}. */
export interface VerifyOptions {
  keys: VerifyKeys;
  /** The time to check `x=` against (default now). */
  now?: Date;
}

/** RFC 8601 §2.7.1 results, as a verifier reports them. */
export type DkimStatus = 'pass' | 'fail' | 'neutral' | 'permerror' | 'temperror';

/** The outcome of one DKIM-Signature field. */
export interface DkimVerifyResult {
  status: DkimStatus;
  /** Why, when not `pass`. */
  reason?: string;
  domain?: string;
  selector?: string;
  algorithm?: DkimAlgorithm | string;
  /** The names `h=` covers, as written. */
  signedHeaders?: string[];
  /** True when the body hash matched (`bh=`). */
  bodyHashMatches?: boolean;
}

function bodyHash(body: Uint8Array, mode: Canonicalization, limit: number | undefined): { hash: Buffer; length: number } {
  const h = createHash('sha256');
  let seen = 0;
  // l=: only the first `limit` canonical octets are hashed (RFC 6376 §3.4.5).
  const sink: HashSink =
    limit === undefined
      ? h
      : {
          update(bytes: Uint8Array) {
            const take = Math.min(bytes.length, Math.max(0, limit - seen));
            if (take > 0) h.update(bytes.subarray(0, take));
            seen += bytes.length;
          },
        };
  const c = createBodyCanonicalizer(mode, sink);
  c.push(body); // whole: a slice could end between CR and LF
  const length = c.end();
  return { hash: h.digest(), length };
}

async function findKey(keys: VerifyKeys, domain: string, selector: string): Promise<PublicKeyInput | undefined> {
  if (typeof keys === 'function') return keys(domain, selector);
  const name = `${selector}._domainkey.${domain}`.toLowerCase();
  for (const [k, v] of Object.entries(keys)) if (k.toLowerCase().replace(/\.$/, '') === name) return v;
  return undefined;
}

function fail(status: DkimStatus, reason: string, base: DkimVerifyResult = { status }): DkimVerifyResult {
  return { ...base, status, reason };
}

async function verifyOne(sig: HeaderField, fields: HeaderField[], body: Uint8Array, options: VerifyOptions): Promise<DkimVerifyResult> {
  const value = sig.raw.slice(sig.raw.indexOf(':') + 1);
  const tags = parseTagList(value);
  const domain = tags.get('d');
  const selector = tags.get('s');
  const algorithm = tags.get('a');
  const h = tags.get('h');
  const base: DkimVerifyResult = {
    status: 'neutral',
    ...(domain === undefined ? {} : { domain }),
    ...(selector === undefined ? {} : { selector }),
    ...(algorithm === undefined ? {} : { algorithm }),
    ...(h === undefined ? {} : { signedHeaders: h.split(':').map((n) => n.trim()) }),
  };
  // RFC 6376 §6.1.1: the required tags and their syntax.
  if (tags.get('v') !== '1') return fail('permerror', 'v= is not 1', base);
  for (const t of ['a', 'b', 'bh', 'd', 'h', 's']) if (!tags.has(t)) return fail('permerror', `the ${t}= tag is missing`, base);
  if (algorithm !== 'rsa-sha256' && algorithm !== 'ed25519-sha256') return fail('permerror', `unsupported algorithm a=${algorithm}`, base);
  const names = (h as string).split(':').map((n) => n.trim().toLowerCase());
  if (!names.includes('from')) return fail('permerror', 'h= does not cover From', base);
  const [hc = 'simple', bc = 'simple'] = (tags.get('c') ?? 'simple/simple').split('/');
  if ((hc !== 'simple' && hc !== 'relaxed') || (bc !== 'simple' && bc !== 'relaxed')) return fail('permerror', `unknown canonicalization c=${tags.get('c')}`, base);
  const identity = tags.get('i');
  if (identity !== undefined) {
    const idDomain = identity.slice(identity.lastIndexOf('@') + 1).toLowerCase();
    const d = (domain as string).toLowerCase();
    if (!(idDomain === d || idDomain.endsWith(`.${d}`))) return fail('permerror', 'i= is not within d=', base);
  }
  const x = tags.get('x');
  if (x !== undefined && /^\d+$/.test(x) && Number(x) * 1000 < (options.now ?? new Date()).getTime()) return fail('fail', 'the signature expired (x=)', base);
  const l = tags.get('l');
  if (l !== undefined && !/^\d{1,76}$/.test(l)) return fail('permerror', 'l= is not a number', base);

  let key: KeyObject;
  try {
    const input = await findKey(options.keys, domain as string, selector as string);
    if (input === undefined) return fail('temperror', `no key for ${selector}._domainkey.${domain}`, base);
    key = loadPublicKey(input, `${selector}._domainkey.${domain}`);
  } catch (error) {
    return fail('permerror', isDkimError(error) ? error.message : String(error), base);
  }
  const keyType = key.asymmetricKeyType;
  if ((algorithm === 'rsa-sha256') !== (keyType === 'rsa') || (algorithm === 'ed25519-sha256') !== (keyType === 'ed25519')) {
    return fail('permerror', `a=${algorithm} does not match the ${keyType ?? 'unknown'} key`, base);
  }
  const limit = l === undefined ? undefined : Number(l);
  const computed = bodyHash(body, bc, limit);
  if (limit !== undefined && limit > computed.length) return fail('permerror', 'l= is longer than the body', base);
  const bodyHashMatches = computed.hash.toString('base64') === (tags.get('bh') as string).replace(/\s+/g, '');
  if (!bodyHashMatches) return fail('fail', 'body hash did not verify', { ...base, bodyHashMatches });
  const data = headerHashInput(selectFields(names, fields), withoutSignatureValue(sig.raw), hc);
  const b = Buffer.from((tags.get('b') as string).replace(/\s+/g, ''), 'base64');
  const ok =
    algorithm === 'ed25519-sha256'
      ? cryptoVerify(null, createHash('sha256').update(data).digest(), key, b)
      : cryptoVerify('sha256', data, key, b);
  return ok ? { ...base, status: 'pass', bodyHashMatches } : fail('fail', 'signature did not verify', { ...base, bodyHashMatches });
}

/**
 * Verifies every DKIM-Signature of a message (RFC 6376 §6) with keys handed over, not looked up in DNS:
 * for tests, for the CLI, for a receiving server that resolved the keys itself. One result per signature,
 * top to bottom; a message without one gives `[]`.
 *
 * @example
 * ```ts
 * const [r] = await verify(raw, { keys: { 'mail._domainkey.example.com': 'v=DKIM1; k=ed25519; p=…' } });
 * r?.status; // 'pass'
 * ```
 */
export async function verify(raw: string | Uint8Array, options: VerifyOptions): Promise<DkimVerifyResult[]> {
  const normalizer = new LineEndNormalizer();
  const bytes = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
  const message = Buffer.concat([normalizer.push(bytes), normalizer.end()]);
  const splitter = new HeaderSplitter(message.length + 1);
  const body = splitter.push(message);
  splitter.end();
  const fields = parseHeaderFields(splitter.head);
  const signatures = fields.filter((f) => f.name === 'dkim-signature');
  const results: DkimVerifyResult[] = [];
  for (const sig of signatures) results.push(await verifyOne(sig, fields, body, options));
  return results;
}
