import { createHash } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { ChannelBinding } from './scram.js';

/** RFC 9266 §2: the exporter label, with an empty context, 32 octets. */
const EXPORTER_LABEL = 'EXPORTER-Channel-Binding';
const EXPORTER_LENGTH = 32;

/** Signature algorithm OIDs (DER bytes after the tag and length) and the hash each one names. */
const SIGNATURE_HASHES: Array<[string, string]> = [
  ['2a864886f70d010104', 'md5'], // md5WithRSAEncryption
  ['2a864886f70d010105', 'sha1'], // sha1WithRSAEncryption
  ['2a864886f70d01010b', 'sha256'],
  ['2a864886f70d01010c', 'sha384'],
  ['2a864886f70d01010d', 'sha512'],
  ['2a864886f70d01010e', 'sha224'],
  ['2a8648ce3d0401', 'sha1'], // ecdsa-with-SHA1
  ['2a8648ce3d040301', 'sha224'],
  ['2a8648ce3d040302', 'sha256'],
  ['2a8648ce3d040303', 'sha384'],
  ['2a8648ce3d040304', 'sha512'],
];

/** One DER TLV: where its value starts and ends. */
function readTlv(der: Buffer, at: number): { tag: number; start: number; end: number } {
  const tag = der[at] as number;
  let len = der[at + 1] as number;
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new Error('unsupported DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (der[start + i] as number);
    start += n;
  }
  if (start + len > der.length) throw new Error('truncated DER');
  return { tag, start, end: start + len };
}

/** The hash named by a certificate's signatureAlgorithm (RFC 5280 §4.1.1.2), or undefined when unknown. */
export function certificateSignatureHash(der: Buffer): string | undefined {
  try {
    const cert = readTlv(der, 0); // Certificate ::= SEQUENCE
    const tbs = readTlv(der, cert.start); // tbsCertificate
    const algorithm = readTlv(der, tbs.end); // AlgorithmIdentifier ::= SEQUENCE
    const oid = readTlv(der, algorithm.start);
    if (oid.tag !== 0x06) return undefined;
    const hex = der.subarray(oid.start, oid.end).toString('hex');
    return SIGNATURE_HASHES.find(([o]) => o === hex)?.[1];
  } catch {
    return undefined;
  }
}

/**
 * RFC 5929 §4.1 `tls-server-end-point`: the hash of the server certificate with its signature's hash
 * function, SHA-256 in place of MD5 and SHA-1. Undefined for algorithms without a single hash (Ed25519, RSA-PSS).
 */
export function serverEndPoint(der: Buffer): Buffer | undefined {
  const named = certificateSignatureHash(der);
  if (!named) return undefined;
  const hash = named === 'md5' || named === 'sha1' ? 'sha256' : named;
  return createHash(hash).update(der).digest();
}

/**
 * The channel binding for SCRAM-…-PLUS: RFC 9266 `tls-exporter` on TLS 1.3 (the unique channel
 * binding RFC 5929's `tls-unique` cannot give there), `tls-server-end-point` on TLS 1.2 and below.
 */
export function channelBindingOf(socket: TLSSocket): ChannelBinding | undefined {
  if (socket.getProtocol() === 'TLSv1.3') {
    return { type: 'tls-exporter', data: socket.exportKeyingMaterial(EXPORTER_LENGTH, EXPORTER_LABEL, Buffer.alloc(0)) };
  }
  const raw = socket.getPeerCertificate()?.raw;
  const data = raw ? serverEndPoint(raw) : undefined;
  return data ? { type: 'tls-server-end-point', data } : undefined;
}
