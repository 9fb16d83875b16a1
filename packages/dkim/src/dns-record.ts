import { TXT_STRING_LENGTH } from './constants.js';
import { DkimError } from './errors.js';
import { loadPublicKey, publicKeyData } from './keys.js';
import type { PublicKeyInput } from './keys.js';

/** Options of {@link dnsRecord}: the name is filled in when both are given. */
export interface DnsRecordOptions {
  domain?: string;
  selector?: string;
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
  let pub;
  try {
    pub = loadPublicKey(key);
  } catch (error) {
    throw error instanceof DkimError ? error : new DkimError(`cannot read the key: ${String(error)}`, { code: 'ERR_DKIM_INVALID_KEY', cause: error });
  }
  const { k, p } = publicKeyData(pub);
  const value = `v=DKIM1; k=${k}; p=${p}`;
  const strings: string[] = [];
  for (let i = 0; i < value.length; i += TXT_STRING_LENGTH) strings.push(value.slice(i, i + TXT_STRING_LENGTH));
  const name = options.domain !== undefined && options.selector !== undefined ? `${options.selector}._domainkey.${options.domain}` : undefined;
  return { ...(name === undefined ? {} : { name }), value, strings, zone: strings.map((s) => `"${s}"`).join(' ') };
}
