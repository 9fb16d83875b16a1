import type { PrivateKeyInput } from './keys.js';
import type { DkimSignerOptions } from './signer.js';

/** One key of the {@link dual} preset. */
export interface DualKey {
  selector: string;
  privateKey: PrivateKeyInput;
  passphrase?: string;
}

/** Options of {@link dual}: the domain, both keys, and anything else every signature shares. */
export interface DualOptions extends Omit<DkimSignerOptions, 'selector' | 'privateKey' | 'passphrase'> {
  rsa: DualKey;
  ed25519: DualKey;
}

/**
 * Two signatures on one message: RSA (which every verifier checks; Gmail checks no Ed25519) and
 * Ed25519 (RFC 8463). A verifier that knows both passes either (RFC 8463 §4).
 *
 * @example
 * ```ts
 * await signMessage(msg, { signers: dual({ domain: 'example.com', rsa: { selector: 'r1', privateKey: rsaPem }, ed25519: { selector: 'e1', privateKey: edPem } }) });
 * ```
 */
export function dual(options: DualOptions): DkimSignerOptions[] {
  const { rsa, ed25519, ...common } = options;
  return [
    { ...common, ...rsa },
    { ...common, ...ed25519 },
  ];
}
