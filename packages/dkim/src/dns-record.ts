import { TXT_STRING_LENGTH } from './constants.js';
import { Buffer } from 'node:buffer';
import { KeyObject } from 'node:crypto';
import { loadPrivateKey, loadPublicKey, publicKeyData } from './keys.js';
import type { PublicKeyInput } from './keys.js';

/** Options of {@link dnsRecord}: the name is filled in when both are given. */
export interface DnsRecordOptions {
  domain?: string;
  selector?: string;
  /** For an encrypted private key. */
  passphrase?: string;
}

/** A DKIM key record to publish as TXT (RFC 6376 §3.6.1, §3.6.2.2). */
export interface DnsRecord {
  /** `<selector>._domainkey.<domain>` when both were given. */
  name?: string;
  /** The record: `v=DKIM1; k=rsa; p=…`. */
  value: string;
  /** The value cut into TXT character-strings of at most 255 octets (RFC 6376 §3.6.2.2). */
  strings: string[];
  /** The record as a zone-file line fragment: the strings quoted, space separated. */
  zone: string;
}

function publicHalf(key: PublicKeyInput, passphrase: string | undefined): KeyObject {
  if (key instanceof KeyObject) return key;
  const text = Buffer.from(key).toString('latin1');
  // A private key (PEM, or a raw Ed25519 seed) gives its public half; anything else is read as public.
  if (/PRIVATE KEY-----/.test(text) || (typeof key === 'string' ? /^[A-Za-z0-9+/]{43}=$/.test(key.trim()) : key.length === 32)) {
    return loadPrivateKey(key, { field: 'key', onWeakKey: () => undefined, ...(passphrase === undefined ? {} : { passphrase }) }).key;
  }
  return loadPublicKey(key);
}

/**
 * The TXT record that publishes a key: for RSA `p=` is the base64 SubjectPublicKeyInfo, for Ed25519 the
 * raw 32-octet key (RFC 8463 §4.2). A private key gives its public half.
 *
 * @example
 * ```ts
 * dnsRecord(pem, { domain: 'example.com', selector: 'mail' }).name; // 'mail._domainkey.example.com'
 * ```
 */
export function dnsRecord(key: PublicKeyInput, options: DnsRecordOptions = {}): DnsRecord {
  const { k, p } = publicKeyData(publicHalf(key, options.passphrase));
  const value = `v=DKIM1; k=${k}; p=${p}`;
  const strings: string[] = [];
  for (let i = 0; i < value.length; i += TXT_STRING_LENGTH) strings.push(value.slice(i, i + TXT_STRING_LENGTH));
  const name = options.domain !== undefined && options.selector !== undefined ? `${options.selector}._domainkey.${options.domain}` : undefined;
  return { ...(name === undefined ? {} : { name }), value, strings, zone: strings.map((s) => `"${s}"`).join(' ') };
}
