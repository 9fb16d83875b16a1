import { Buffer } from 'node:buffer';
import { createHash, sign as cryptoSign } from 'node:crypto';
import type { Canonicalization } from './canonicalize.js';
import { canonicalizeHeader } from './canonicalize.js';
import { DkimError } from './errors.js';
import type { HeaderField } from './header-section.js';
import { loadPrivateKey } from './keys.js';
import type { DkimAlgorithm, PrivateKeyInput, SigningKey } from './keys.js';
import { headerList, resolveHeaderNames, selectFields } from './select-headers.js';
import type { HeaderSelection } from './select-headers.js';
import { appendSignature, formatUnsignedHeader } from './signature-header.js';

/** `header/body`, or one mode for both (RFC 6376 §3.5 `c=`). */
export type CanonicalizationInput = Canonicalization | `${Canonicalization}/${Canonicalization}`;

/** Something a signer wants its caller to know; signing goes on. */
export interface DkimWarning {
  code: 'DKIM_WEAK_KEY' | 'DKIM_BODY_LENGTH';
  message: string;
}

/** One signature: who signs (d=, s=), with which key, over what. */
export interface DkimSignerOptions extends HeaderSelection {
  /** Signing domain, `d=` (ASCII; IDN as A-labels). */
  domain: string;
  /** Selector, `s=`: the key is published at `<selector>._domainkey.<domain>`. */
  selector: string;
  privateKey: PrivateKeyInput;
  /** For an encrypted PEM key. */
  passphrase?: string;
  /** Default `relaxed/relaxed`. */
  canonicalization?: CanonicalizationInput;
  /** Agent or user identifier, `i=` (RFC 6376 §3.5): `@domain` or `user@sub.domain` under `d=`. */
  identity?: string;
  /** Add `x=` this many seconds after `t=`. */
  expiresIn?: number;
  /**
   * Add `l=` (the signed body length). Anyone may then append to the body without breaking the
   * signature (RFC 6376 §8.2), so it is off unless asked, and asking warns.
   */
  bodyLength?: boolean;
  /** The clock for `t=` (default: now). */
  clock?: () => Date;
  /** Told about weak keys and `l=`; default `process.emitWarning`. */
  onWarning?: (warning: DkimWarning) => void;
}

/** A checked signer, ready for any number of messages (the key is parsed once). */
export interface DkimSigner {
  readonly domain: string;
  readonly selector: string;
  readonly algorithm: DkimAlgorithm;
  readonly header: Canonicalization;
  readonly body: Canonicalization;
  readonly bodyLength: boolean;
  /** The DKIM-Signature field (CRLF-terminated) for a message with these header fields and body hash. */
  sign(fields: readonly HeaderField[], bodyHash: Buffer, bodyLength: number): string;
}

const DOMAIN = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IDENTITY_LOCAL = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]*$/;

function invalid(message: string, field: string): DkimError {
  return new DkimError(message, { code: 'ERR_DKIM_INVALID_OPTION', field });
}

function parseCanonicalization(value: CanonicalizationInput | undefined, field: string): [Canonicalization, Canonicalization] {
  const [h, b = 'simple'] = (value ?? 'relaxed/relaxed').split('/');
  const ok = (m: string | undefined): m is Canonicalization => m === 'simple' || m === 'relaxed';
  // RFC 6376 §3.5: a lone c= mode names the header canonicalization; the body's is then simple.
  if (!ok(h) || !ok(b)) throw invalid(`${field}.canonicalization: ${JSON.stringify(value)} is not simple|relaxed[/simple|relaxed]`, `${field}.canonicalization`);
  return [h, b];
}

function defaultWarning(w: DkimWarning): void {
  process.emitWarning(w.message, { code: w.code });
}

/**
 * Checks a signer's options and loads its key. Every problem is a {@link DkimError} here, before any
 * message is read.
 *
 * @example
 * ```ts
 * const signer = createSigner({ domain: 'example.com', selector: 'mail', privateKey: pem });
 * ```
 */
export function createSigner(options: DkimSignerOptions, field = 'signer'): DkimSigner {
  if (typeof options !== 'object' || options === null) throw invalid(`${field}: expected signer options`, field);
  const { domain, selector } = options;
  if (typeof domain !== 'string' || !DOMAIN.test(domain)) throw invalid(`${field}.domain: ${JSON.stringify(domain)} is not a domain name (A-labels)`, `${field}.domain`);
  if (typeof selector !== 'string' || !DOMAIN.test(selector)) throw invalid(`${field}.selector: ${JSON.stringify(selector)} is not a selector (RFC 6376 §3.1)`, `${field}.selector`);
  const [header, body] = parseCanonicalization(options.canonicalization, field);
  const { names, oversign } = resolveHeaderNames(options, field);
  const warn = options.onWarning ?? defaultWarning;
  if (options.identity !== undefined) {
    const at = options.identity.lastIndexOf('@');
    const local = options.identity.slice(0, Math.max(at, 0));
    const idDomain = options.identity.slice(at + 1).toLowerCase();
    const d = domain.toLowerCase();
    if (at < 0 || !IDENTITY_LOCAL.test(local) || !(idDomain === d || idDomain.endsWith(`.${d}`))) {
      throw invalid(`${field}.identity: ${JSON.stringify(options.identity)} must be [local]@${domain} or @a subdomain of it (RFC 6376 §3.5 i=)`, `${field}.identity`);
    }
  }
  if (options.expiresIn !== undefined && !(Number.isSafeInteger(options.expiresIn) && options.expiresIn > 0)) {
    throw invalid(`${field}.expiresIn: seconds, a positive integer`, `${field}.expiresIn`);
  }
  const key: SigningKey = loadPrivateKey(options.privateKey, {
    field: `${field}.privateKey`,
    ...(options.passphrase === undefined ? {} : { passphrase: options.passphrase }),
    onWeakKey: (bits) => warn({ code: 'DKIM_WEAK_KEY', message: `${field}: a ${bits}-bit RSA key is weak; use 2048 bits (RFC 8301 §3.2)` }),
  });
  const bodyLength = options.bodyLength === true;
  if (bodyLength) warn({ code: 'DKIM_BODY_LENGTH', message: `${field}: l= lets anyone append to the signed body (RFC 6376 §8.2)` });
  const clock = options.clock ?? (() => new Date());

  return {
    domain,
    selector,
    algorithm: key.algorithm,
    header,
    body,
    bodyLength,
    sign(fields, bodyHash, length) {
      const t = Math.floor(clock().getTime() / 1000);
      const list = headerList(names, oversign, fields);
      const tags: Array<[string, string]> = [
        ['v', '1'],
        ['a', key.algorithm],
        ['c', `${header}/${body}`],
        ['d', domain],
        ['s', selector],
        ['t', String(t)],
      ];
      if (options.expiresIn !== undefined) tags.push(['x', String(t + options.expiresIn)]);
      if (options.identity !== undefined) tags.push(['i', options.identity]);
      if (bodyLength) tags.push(['l', String(length)]);
      tags.push(['h', list.join(':')], ['bh', bodyHash.toString('base64')]);
      const unsigned = formatUnsignedHeader(tags);
      const data = headerHashInput(selectFields(list, fields), unsigned, header);
      return appendSignature(unsigned, signData(key, data).toString('base64'));
    },
  };
}

/**
 * RFC 6376 §3.7: the canonical signed fields, then the signature field itself (its `b=` empty) without
 * its final CRLF.
 */
export function headerHashInput(selected: readonly HeaderField[], signatureField: string, mode: Canonicalization): Buffer {
  let text = '';
  for (const f of selected) text += canonicalizeHeader(f.raw, mode);
  text += canonicalizeHeader(signatureField, mode).slice(0, -2);
  return Buffer.from(text, 'latin1');
}

/** RSA signs the data with SHA-256 (PKCS#1 v1.5); Ed25519 signs the SHA-256 of the data (RFC 8463 §3). */
export function signData(key: SigningKey, data: Buffer): Buffer {
  if (key.algorithm === 'ed25519-sha256') return cryptoSign(null, createHash('sha256').update(data).digest(), key.key);
  return cryptoSign('sha256', data, key.key);
}
