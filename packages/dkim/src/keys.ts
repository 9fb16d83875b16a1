import { Buffer } from 'node:buffer';
import { KeyObject, createPrivateKey, createPublicKey } from 'node:crypto';
import { MIN_RSA_BITS, RECOMMENDED_RSA_BITS } from './constants.js';
import { DkimError } from './errors.js';

/** The two signing algorithms: RFC 6376 §3.3.1 and RFC 8463 §3 (rsa-sha1 is never produced, RFC 8301 §3.1). */
export type DkimAlgorithm = 'rsa-sha256' | 'ed25519-sha256';

/**
 * A private key: PEM (PKCS#1 `RSA PRIVATE KEY`, PKCS#8 `PRIVATE KEY`, or `ENCRYPTED PRIVATE KEY` with
 * `passphrase`), a `KeyObject`, or a raw 32-byte Ed25519 seed (bytes, or its base64 as in RFC 8463 §A.2).
 */
export type PrivateKeyInput = string | Uint8Array | KeyObject;

/** A public key: PEM (SPKI or PKCS#1), a `KeyObject`, a private key (its public half is used), or a DKIM TXT record. */
export type PublicKeyInput = string | Uint8Array | KeyObject;

/** A loaded signing key and what it means for the signature. */
export interface SigningKey {
  key: KeyObject;
  algorithm: DkimAlgorithm;
  /** RSA modulus length in bits; 256 for Ed25519. */
  bits: number;
}

// RFC 8410 §7: PKCS#8 wrapping of an Ed25519 private key (OID 1.3.101.112) around the 32-byte seed.
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
// RFC 8410 §4: SubjectPublicKeyInfo of an Ed25519 public key, around the 32 raw octets.
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

function rawSeed(input: string | Uint8Array): Buffer | undefined {
  if (typeof input === 'string') {
    const text = input.trim();
    if (!/^[A-Za-z0-9+/]{43}=$/.test(text)) return undefined;
    return Buffer.from(text, 'base64');
  }
  return input.length === 32 ? Buffer.from(input) : undefined;
}

/** The algorithm a key signs with, or a clear refusal. */
export function algorithmOf(key: KeyObject, field: string): DkimAlgorithm {
  if (key.asymmetricKeyType === 'rsa') return 'rsa-sha256';
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519-sha256';
  throw new DkimError(`${field}: a ${key.asymmetricKeyType ?? key.type} key cannot sign DKIM (rsa or ed25519 only)`, {
    code: 'ERR_DKIM_UNSUPPORTED_KEY',
    field,
  });
}

/**
 * Loads a private key for signing. RSA keys under 1024 bits are refused (RFC 8301 §3.2); keys under
 * 2048 bits are signed with, and `onWeakKey` is told.
 */
export function loadPrivateKey(input: PrivateKeyInput, options: { passphrase?: string; field?: string; onWeakKey?: (bits: number) => void } = {}): SigningKey {
  const field = options.field ?? 'privateKey';
  let key: KeyObject;
  if (input instanceof KeyObject) {
    if (input.type !== 'private') throw new DkimError(`${field}: a ${input.type} key cannot sign; pass the private key`, { code: 'ERR_DKIM_INVALID_KEY', field });
    key = input;
  } else if (typeof input === 'string' || input instanceof Uint8Array) {
    const seed = rawSeed(input);
    try {
      key = seed
        ? createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' })
        : createPrivateKey({ key: Buffer.from(input), format: 'pem', ...(options.passphrase === undefined ? {} : { passphrase: options.passphrase }) });
    } catch (cause) {
      const encrypted = /ENCRYPTED/.test(Buffer.from(input).toString('latin1', 0, 200));
      const why = encrypted && options.passphrase === undefined ? 'it is encrypted and no passphrase was given' : (cause as Error).message;
      throw new DkimError(`${field}: cannot read the private key: ${why}`, { code: 'ERR_DKIM_INVALID_KEY', field, cause });
    }
  } else {
    throw new DkimError(`${field}: expected a PEM string or bytes, a KeyObject or a 32-byte Ed25519 seed`, { code: 'ERR_DKIM_INVALID_KEY', field });
  }
  const algorithm = algorithmOf(key, field);
  const bits = algorithm === 'rsa-sha256' ? (key.asymmetricKeyDetails?.modulusLength ?? 0) : 256;
  if (algorithm === 'rsa-sha256') {
    if (bits < MIN_RSA_BITS) {
      throw new DkimError(`${field}: a ${bits}-bit RSA key is refused; use 2048 bits or more (RFC 8301 §3.2)`, { code: 'ERR_DKIM_KEY_TOO_SMALL', field });
    }
    if (bits < RECOMMENDED_RSA_BITS) options.onWeakKey?.(bits);
  }
  return { key, algorithm, bits };
}

/** Reads the `p=` of a DKIM key record (RFC 6376 §3.6.1; RFC 8463 §4.2 for `k=ed25519`). */
function keyFromRecord(text: string, field: string): KeyObject {
  // A zone-file line ("name IN TXT ( "v=DKIM1; …" "…" )"): the record is its quoted strings joined.
  const quoted = text.match(/"(?:[^"\\]|\\.)*"/g);
  const record = quoted ? quoted.map((q) => q.slice(1, -1)).join('') : text;
  const tags = new Map<string, string>();
  for (const part of record.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) tags.set(part.slice(0, eq).trim(), part.slice(eq + 1).replace(/\s+/g, ''));
  }
  const v = tags.get('v');
  if (v !== undefined && v !== 'DKIM1') throw new DkimError(`${field}: the record's v=${v} is not DKIM1`, { code: 'ERR_DKIM_INVALID_RECORD', field });
  const p = tags.get('p');
  if (p === undefined) throw new DkimError(`${field}: the record has no p= tag`, { code: 'ERR_DKIM_INVALID_RECORD', field });
  if (p === '') throw new DkimError(`${field}: the key was revoked (empty p=, RFC 6376 §3.6.1)`, { code: 'ERR_DKIM_INVALID_RECORD', field });
  const der = Buffer.from(p, 'base64');
  const k = tags.get('k') ?? 'rsa';
  try {
    if (k === 'ed25519') {
      if (der.length !== 32) throw new Error(`an ed25519 p= holds 32 octets, not ${der.length}`);
      return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, der]), format: 'der', type: 'spki' });
    }
    if (k !== 'rsa') throw new Error(`unknown key type k=${k}`);
    return createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch (cause) {
    throw new DkimError(`${field}: cannot read the record's key: ${(cause as Error).message}`, { code: 'ERR_DKIM_INVALID_RECORD', field, cause });
  }
}

/** Loads a public key for verifying, from PEM, a KeyObject, a private key, or a DKIM TXT record. */
export function loadPublicKey(input: PublicKeyInput, field = 'key'): KeyObject {
  if (input instanceof KeyObject) return input.type === 'private' ? createPublicKey(input) : input;
  const text = Buffer.from(input).toString('latin1');
  if (/(^|;)\s*p\s*=/.test(text) && !text.includes('-----BEGIN')) return keyFromRecord(text, field);
  try {
    return createPublicKey({ key: Buffer.from(input), format: 'pem' });
  } catch (cause) {
    throw new DkimError(`${field}: cannot read the public key: ${(cause as Error).message}`, { code: 'ERR_DKIM_INVALID_KEY', field, cause });
  }
}

/** The `p=` value of a key record: base64 SPKI DER for RSA, the raw 32 octets for Ed25519 (RFC 8463 §4.2). */
export function publicKeyData(key: KeyObject): { k: 'rsa' | 'ed25519'; p: string } {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const der = pub.export({ format: 'der', type: 'spki' });
  if (pub.asymmetricKeyType === 'ed25519') return { k: 'ed25519', p: der.subarray(ED25519_SPKI_PREFIX.length).toString('base64') };
  if (pub.asymmetricKeyType === 'rsa') return { k: 'rsa', p: der.toString('base64') };
  throw new DkimError(`a ${pub.asymmetricKeyType ?? 'unknown'} key has no DKIM record (rsa or ed25519 only)`, { code: 'ERR_DKIM_UNSUPPORTED_KEY' });
}
