import type { ServerSessionOptions } from './session-types.js';

/**
 * The keywords of a session's EHLO reply (RFC 5321 §4.1.1.1), one per line after the greeting:
 * what the options offer, SIZE with the enforced maximum (RFC 1870 §4), and STARTTLS only
 * while the connection is plaintext (RFC 3207 §4.2).
 */
export function ehloKeywords(o: ServerSessionOptions, maxSize: number, secure: boolean): string[] {
  const k: string[] = [];
  if (o.pipelining !== false) k.push('PIPELINING');
  if (o.chunking !== false) k.push('CHUNKING', 'BINARYMIME');
  if (o.eightBitMime !== false) k.push('8BITMIME');
  if (o.smtputf8 !== false) k.push('SMTPUTF8');
  k.push(`SIZE ${maxSize}`, 'ENHANCEDSTATUSCODES');
  if (o.dsn !== false) k.push('DSN');
  if (o.starttls && !secure) k.push('STARTTLS');
  if (o.auth && o.auth.mechanisms.length > 0) k.push(`AUTH ${o.auth.mechanisms.join(' ')}`);
  return k;
}
