import { Buffer } from 'node:buffer';

/** The SASL mechanisms a {@link ServerSession} can run (RFC 4954 with RFC 4616, RFC 2195, XOAUTH2). */
export type ServerAuthMechanism = 'PLAIN' | 'LOGIN' | 'CRAM-MD5' | 'XOAUTH2';

/** What a client presented. The session never keeps it after the verify call. */
export type AuthCredentials =
  | { mechanism: 'PLAIN' | 'LOGIN'; user: string; password: string; authzid?: string }
  | { mechanism: 'XOAUTH2'; user: string; token: string }
  | { mechanism: 'CRAM-MD5'; user: string; challenge: string; digest: string };

/** One step of an exchange: send a 334 challenge, or the exchange ended. */
export type AuthStep =
  | { kind: 'challenge'; text: string }
  | { kind: 'done'; credentials: AuthCredentials }
  | { kind: 'error'; code: 501 | 535; reason: string };

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function decode(text: string): string | undefined {
  if (text === '=') return ''; // RFC 4954 §4: "=" is an empty initial response
  if (!B64.test(text)) return undefined;
  return Buffer.from(text, 'base64').toString('utf8');
}

const badBase64: AuthStep = { kind: 'error', code: 501, reason: 'the response is not valid base64 (RFC 4954 §4)' };

/**
 * The server side of one AUTH exchange (RFC 4954 §4): decodes the client's responses and produces
 * the 334 challenges, ending with the credentials for the caller to check. Pure; the CRAM-MD5
 * challenge is given by the caller.
 */
export class AuthExchange {
  readonly mechanism: ServerAuthMechanism;
  readonly #challenge: string;
  #step = 0;
  #user = '';

  constructor(mechanism: ServerAuthMechanism, cramChallenge: string) {
    this.mechanism = mechanism;
    this.#challenge = cramChallenge;
  }

  /** The first step, with the initial response of the AUTH command if there was one. */
  start(initialResponse: string | undefined): AuthStep {
    if (initialResponse === undefined) {
      switch (this.mechanism) {
        case 'LOGIN':
          this.#step = 1;
          return { kind: 'challenge', text: Buffer.from('Username:').toString('base64') };
        case 'CRAM-MD5':
          return { kind: 'challenge', text: Buffer.from(this.#challenge).toString('base64') };
        default:
          return { kind: 'challenge', text: '' };
      }
    }
    if (this.mechanism === 'CRAM-MD5') return { kind: 'error', code: 501, reason: 'CRAM-MD5 takes no initial response' };
    return this.next(initialResponse);
  }

  /** The client's next response line (without CRLF). `*` cancels (RFC 4954 §4). */
  next(line: string): AuthStep {
    if (line === '*') return { kind: 'error', code: 501, reason: 'authentication cancelled by the client' };
    const text = decode(line);
    if (text === undefined) return badBase64;
    switch (this.mechanism) {
      case 'PLAIN': {
        // RFC 4616 §2: [authzid] NUL authcid NUL passwd
        const parts = text.split('\0');
        if (parts.length !== 3 || parts[1] === '') return { kind: 'error', code: 501, reason: 'malformed PLAIN response (RFC 4616 §2)' };
        const credentials: AuthCredentials = { mechanism: 'PLAIN', user: parts[1] as string, password: parts[2] as string };
        if (parts[0] !== '') credentials.authzid = parts[0] as string;
        return { kind: 'done', credentials };
      }
      case 'LOGIN':
        if (this.#step <= 1) {
          this.#user = text;
          this.#step = 2;
          return { kind: 'challenge', text: Buffer.from('Password:').toString('base64') };
        }
        return { kind: 'done', credentials: { mechanism: 'LOGIN', user: this.#user, password: text } };
      case 'CRAM-MD5': {
        // RFC 2195 §2: "user SP 32 lower-case hex digits"
        const m = /^(.+) ([0-9a-f]{32})$/.exec(text);
        if (!m) return { kind: 'error', code: 501, reason: 'malformed CRAM-MD5 response (RFC 2195 §2)' };
        return { kind: 'done', credentials: { mechanism: 'CRAM-MD5', user: m[1] as string, challenge: this.#challenge, digest: m[2] as string } };
      }
      case 'XOAUTH2': {
        // "user=" user ^A "auth=Bearer " token ^A ^A
        // eslint-disable-next-line no-control-regex -- ^A is the XOAUTH2 field separator
        const m = /^user=([^\x01]*)\x01auth=Bearer ([^\x01]+)\x01\x01$/.exec(text);
        if (!m) return { kind: 'error', code: 501, reason: 'malformed XOAUTH2 response' };
        return { kind: 'done', credentials: { mechanism: 'XOAUTH2', user: m[1] as string, token: m[2] as string } };
      }
    }
  }
}
