import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { SmtpError } from '@smtpkit/wire';

/** The hash behind a SCRAM mechanism: SHA-1 (RFC 5802) or SHA-256 (RFC 7677). */
export type ScramHash = 'sha1' | 'sha256';

/** A channel binding (RFC 5056): its type name and the octets both ends compute from the TLS connection. */
export interface ChannelBinding {
  type: 'tls-exporter' | 'tls-server-end-point';
  data: Buffer;
}

/** What the client tells the server about channel binding in its GS2 header (RFC 5802 §6). */
export type ScramBindingFlag =
  /** `n`: the client does not support channel binding. */
  | { kind: 'none' }
  /** `y`: the client supports it but believes the server does not (no -PLUS offered): a downgrade is detectable. */
  | { kind: 'unused' }
  /** `p=type`: the client binds to the TLS connection (the -PLUS mechanisms). */
  | { kind: 'bind'; binding: ChannelBinding };

/** The largest iteration count accepted from a server: a hostile one must not make us spin for minutes. */
export const MAX_SCRAM_ITERATIONS = 10_000_000; // RFC 7677 §4 asks for at least 4096; bound the other side too
/** The smallest: RFC 5802 §5.1 `i=` is a positive number; fewer than this offers no real protection. */
export const MIN_SCRAM_ITERATIONS = 1;

function scramError(message: string, code = 'ERR_SMTP_AUTH_SCRAM'): SmtpError {
  return new SmtpError(message, { kind: 'auth', code, retryable: false });
}

/** RFC 5802 §5.1: in `saslname`, "=" is written "=3D" and "," is written "=2C". */
export function encodeSaslName(name: string): string {
  return name.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

/** RFC 3454 table C.1.2 (beside U+2000–U+200B): mapped to SPACE. */
const NON_ASCII_SPACE = new Set([0xa0, 0x1680, 0x202f, 0x205f, 0x3000]);
/** RFC 3454 table B.1 (beside U+FE00–U+FE0F): mapped to nothing. */
const MAPPED_TO_NOTHING = new Set([0xad, 0x34f, 0x1806, 0x180b, 0x180c, 0x180d, 0x200c, 0x200d, 0x2060, 0xfeff]);

/**
 * SASLprep (RFC 4013) of a password, the mapping and normalisation steps: non-ASCII spaces become
 * SPACE (§2.1, table C.1.2), "commonly mapped to nothing" characters go (table B.1), then NFKC (§2.2).
 * Prohibited characters (controls, §2.3) are refused.
 */
export function saslPrep(value: string): string {
  let mapped = '';
  for (const ch of value) {
    const c = ch.codePointAt(0) as number;
    if (NON_ASCII_SPACE.has(c) || (c >= 0x2000 && c <= 0x200b)) mapped += ' ';
    else if (!MAPPED_TO_NOTHING.has(c) && !(c >= 0xfe00 && c <= 0xfe0f)) mapped += ch;
  }
  mapped = mapped.normalize('NFKC');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f\ufff9-\ufffd]/.test(mapped)) {
    throw new SmtpError('the password contains control characters that SASLprep prohibits (RFC 4013 §2.3)', {
      kind: 'input',
      code: 'ERR_SMTP_INPUT',
    });
  }
  return mapped;
}

/** Parse `k=v,k=v` attributes (RFC 5802 §5.1); values may contain "=". */
function attributes(message: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of message.split(',')) {
    const eq = part.indexOf('=');
    if (eq !== 1) throw scramError(`malformed SCRAM server message: ${JSON.stringify(message.slice(0, 80))}`, 'ERR_SMTP_AUTH_SCRAM_PROTOCOL');
    if (!out.has(part[0] as string)) out.set(part[0] as string, part.slice(2));
  }
  return out;
}

function hmac(hash: ScramHash, key: Buffer, text: string): Buffer {
  return createHmac(hash, key).update(text, 'utf8').digest();
}

function pbkdf2Async(password: string, salt: Buffer, iterations: number, hash: ScramHash): Promise<Buffer> {
  const length = hash === 'sha1' ? 20 : 32;
  return new Promise((resolve, reject) =>
    pbkdf2(Buffer.from(password, 'utf8'), salt, iterations, length, hash, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/**
 * The client side of SCRAM (RFC 5802; SHA-256 per RFC 7677), one exchange:
 * {@link clientFirst} → the server's first message → {@link clientFinal} → the server's final message →
 * {@link verifyServer}. The password never leaves the client, and the server proves it knows the
 * verifier: a server signature that does not match fails the exchange even after a 235.
 *
 * @example
 * ```ts
 * const scram = new ScramClient('sha256', 'user', 'pencil');
 * send(scram.clientFirst());
 * send(await scram.clientFinal(serverFirst));
 * scram.verifyServer(serverFinal);
 * ```
 */
export class ScramClient {
  readonly #hash: ScramHash;
  readonly #user: string;
  readonly #password: string;
  readonly #nonce: string;
  readonly #gs2Header: string;
  readonly #binding: Buffer;
  #clientFirstBare = '';
  #serverSignature: Buffer | undefined;

  /**
   * @param flag channel binding: `none` (default), `unused` (we could bind, but no -PLUS was offered), or `bind`.
   * @param nonce the client nonce; random (24 octets, base64) unless given (test vectors).
   */
  constructor(hash: ScramHash, user: string, password: string, flag: ScramBindingFlag = { kind: 'none' }, nonce?: string) {
    this.#hash = hash;
    this.#user = user;
    this.#password = saslPrep(password);
    this.#nonce = nonce ?? randomBytes(24).toString('base64');
    // RFC 5802 §7: gs2-header = gs2-cbind-flag "," [ authzid ] ","
    this.#gs2Header = flag.kind === 'bind' ? `p=${flag.binding.type},,` : flag.kind === 'unused' ? 'y,,' : 'n,,';
    this.#binding = flag.kind === 'bind' ? flag.binding.data : Buffer.alloc(0);
  }

  /** `gs2-header client-first-message-bare` (RFC 5802 §5.1), as text to base64-encode. */
  clientFirst(): string {
    this.#clientFirstBare = `n=${encodeSaslName(saslPrep(this.#user))},r=${this.#nonce}`;
    return this.#gs2Header + this.#clientFirstBare;
  }

  /** The client-final-message with the proof, from the server-first-message (RFC 5802 §3). */
  async clientFinal(serverFirst: string): Promise<string> {
    const attrs = attributes(serverFirst);
    if (attrs.has('m')) throw scramError('the server asks for a SCRAM extension we do not know (m=)', 'ERR_SMTP_AUTH_SCRAM_PROTOCOL');
    if (attrs.has('e')) throw scramError(`the server refused SCRAM: ${attrs.get('e') ?? ''}`);
    const nonce = attrs.get('r');
    const salt = attrs.get('s');
    const iterations = Number(attrs.get('i'));
    if (!nonce || !nonce.startsWith(this.#nonce) || nonce.length === this.#nonce.length) {
      // RFC 5802 §5.1: the server's nonce starts with ours and adds its own part.
      throw scramError('the SCRAM server nonce does not extend the client nonce', 'ERR_SMTP_AUTH_SCRAM_PROTOCOL');
    }
    if (!salt) throw scramError('the SCRAM server sent no salt', 'ERR_SMTP_AUTH_SCRAM_PROTOCOL');
    if (!Number.isInteger(iterations) || iterations < MIN_SCRAM_ITERATIONS || iterations > MAX_SCRAM_ITERATIONS) {
      throw scramError(`the SCRAM iteration count ${JSON.stringify(attrs.get('i'))} is out of range (1..${MAX_SCRAM_ITERATIONS})`, 'ERR_SMTP_AUTH_SCRAM_PROTOCOL');
    }
    const salted = await pbkdf2Async(this.#password, Buffer.from(salt, 'base64'), iterations, this.#hash);
    // RFC 5802 §7: c= is base64(gs2-header [ cbind-data ]).
    const channel = Buffer.concat([Buffer.from(this.#gs2Header, 'utf8'), this.#binding]).toString('base64');
    const withoutProof = `c=${channel},r=${nonce}`;
    const authMessage = `${this.#clientFirstBare},${serverFirst},${withoutProof}`;
    const clientKey = hmac(this.#hash, salted, 'Client Key');
    const storedKey = createHash(this.#hash).update(clientKey).digest();
    const signature = hmac(this.#hash, storedKey, authMessage);
    const proof = Buffer.alloc(clientKey.length);
    for (let i = 0; i < proof.length; i++) proof[i] = (clientKey[i] as number) ^ (signature[i] as number);
    this.#serverSignature = hmac(this.#hash, hmac(this.#hash, salted, 'Server Key'), authMessage);
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  /** Check the server-final-message: `v=` must carry the expected ServerSignature (RFC 5802 §3). */
  verifyServer(serverFinal: string): void {
    const attrs = attributes(serverFinal);
    if (attrs.has('e')) throw scramError(`the server refused SCRAM: ${attrs.get('e') ?? ''}`);
    const v = attrs.get('v');
    const expected = this.#serverSignature;
    if (!expected) throw scramError('SCRAM server-final message before the client-final message', 'ERR_SMTP_AUTH_SCRAM_PROTOCOL');
    const got = Buffer.from(v ?? '', 'base64');
    if (got.length !== expected.length || !timingSafeEqual(got, expected)) {
      throw new SmtpError('the SCRAM server signature does not match: the server does not know the password (or the exchange was tampered with)', {
        kind: 'auth',
        code: 'ERR_SMTP_AUTH_SERVER_SIGNATURE',
        retryable: false,
      });
    }
  }
}
