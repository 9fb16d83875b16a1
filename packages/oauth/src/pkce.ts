import { createHash, randomBytes } from 'node:crypto';

/** A PKCE pair (RFC 7636 §4.1, §4.2): the verifier stays here, the S256 challenge goes to the provider. */
export interface Pkce {
  verifier: string;
  challenge: string;
  method: 'S256';
}

/** 32 random octets, base64url: a 43-character verifier (RFC 7636 §4.1 asks for 43 to 128). */
export function createPkce(): Pkce {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url'), method: 'S256' };
}

/** An unguessable `state` value (RFC 6749 §10.12). */
export function randomState(): string {
  return randomBytes(24).toString('base64url');
}
