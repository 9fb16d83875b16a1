import { generateKeyPairSync } from 'node:crypto';
import { MIN_RSA_BITS } from './constants.js';
import { DkimError } from './errors.js';

/** Options of {@link generateKey}. */
export interface GenerateKeyOptions {
  type: 'rsa' | 'ed25519';
  /** RSA modulus length (default 2048; at least 1024, RFC 8301 §3.2). */
  bits?: number;
}

/** A new key pair as PEM: the private key PKCS#8, the public key SPKI. */
export interface GeneratedKey {
  privateKey: string;
  publicKey: string;
}

/**
 * Generates a DKIM key pair.
 *
 * @example
 * ```ts
 * const { privateKey } = generateKey({ type: 'ed25519' });
 * ```
 */
export function generateKey(options: GenerateKeyOptions): GeneratedKey {
  if (options.type === 'ed25519') {
    return generateKeyPairSync('ed25519', { publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  }
  if (options.type !== 'rsa') throw new DkimError(`type: ${JSON.stringify(options.type)} is not rsa or ed25519`, { code: 'ERR_DKIM_INVALID_OPTION', field: 'type' });
  const bits = options.bits ?? 2048;
  if (!Number.isSafeInteger(bits) || bits < MIN_RSA_BITS || bits > 16384) {
    throw new DkimError(`bits: ${bits} is not a usable RSA size (1024 to 16384; 2048 recommended, RFC 8301 §3.2)`, { code: 'ERR_DKIM_INVALID_OPTION', field: 'bits' });
  }
  return generateKeyPairSync('rsa', {
    modulusLength: bits,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}
