import { createHmac } from 'node:crypto';
import { encodeCommand, isPositiveCompletion, MAX_COMMAND_LINE, SmtpError, type EncodedCommand, type Reply } from '@smtpkit/wire';
import { externalExchange, isScram, PASSWORD_PREFERENCE, scramExchange } from './auth-scram.js';
import { authError, protocolError } from './errors.js';
import type { SmtpSession } from './session.js';
import type { AuthMethod, AuthOptions } from './types.js';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

/** RFC 4616 §2: `authzid NUL authcid NUL passwd`, authzid empty. */
export function encodePlain(user: string, pass: string): string {
  return b64(`\0${user}\0${pass}`);
}

/** RFC 2195 §2: `user SP hex(HMAC-MD5(secret, challenge))`, the challenge given base64-decoded. */
export function encodeCramMd5(user: string, pass: string, challenge: string): string {
  const digest = createHmac('md5', Buffer.from(pass, 'utf8')).update(Buffer.from(challenge, 'latin1')).digest('hex');
  return b64(`${user} ${digest}`);
}

/** Google / Microsoft XOAUTH2: `user={user}^Aauth=Bearer {token}^A^A`. */
export function encodeXoauth2(user: string, token: string): string {
  return b64(`user=${user}\x01auth=Bearer ${token}\x01\x01`);
}

/** RFC 7628 §3.1: GS2 header with the authzid (`=` and `,` escaped as `=3D`, `=2C`), then key/value pairs. */
export function encodeOauthBearer(user: string, token: string, host: string, port: number): string {
  const authzid = user.replace(/=/g, '=3D').replace(/,/g, '=2C');
  return b64(`n,a=${authzid},\x01host=${host}\x01port=${port}\x01auth=Bearer ${token}\x01\x01`);
}

/**
 * Preference when the caller names no mechanism: OAuth with a token, else SCRAM (the password never
 * leaves the client), then CRAM-MD5, then cleartext.
 */
export function chooseMechanism(offered: readonly string[], auth: AuthOptions): AuthMethod | undefined {
  if (auth.method) return auth.method;
  const oauth: AuthMethod[] = auth.accessToken !== undefined ? ['XOAUTH2', 'OAUTHBEARER'] : [];
  const password: AuthMethod[] = auth.pass !== undefined || auth.accessToken === undefined ? PASSWORD_PREFERENCE : [];
  const order = [...oauth, ...password];
  return order.find((m) => isOffered(offered, m));
}

/** Offered by the server; a SCRAM mechanism counts as offered when only its -PLUS form is. */
function isOffered(offered: readonly string[], m: string): boolean {
  return offered.includes(m) || (isScram(m) && offered.includes(`${m}-PLUS`));
}

/** The AUTH command with its logged form forced to a redacted one, whatever the encoder says. */
function authCommand(mechanism: string, initialResponse?: string): EncodedCommand {
  const cmd = encodeCommand(
    initialResponse === undefined ? { verb: 'AUTH', mechanism } : { verb: 'AUTH', mechanism, initialResponse },
  );
  return { ...cmd, logText: initialResponse === undefined ? `AUTH ${mechanism}` : `AUTH ${mechanism} <redacted>` };
}

/** True when `AUTH mech payload` CRLF fits in a command line. */
function fitsInitialResponse(mechanism: string, payload: string): boolean {
  return `AUTH ${mechanism} ${payload}\r\n`.length <= MAX_COMMAND_LINE;
}

function responseCommand(response: string): EncodedCommand {
  return { ...encodeCommand({ verb: 'AUTH_RESPONSE', response }), logText: '<redacted>' };
}

/** Decode a 334 challenge (RFC 4954 §4: base64 after "334 "). */
function challengeOf(reply: Reply): string {
  return Buffer.from(reply.lines[0]?.trim() ?? '', 'base64').toString('latin1');
}

/**
 * Authenticate (RFC 4954). Returns the mechanism on success; throws kind 'auth' with a code per reply
 * (535 credentials, 534 weak mechanism, 454 temporary, 530 required) and a provider hint. Secrets never
 * reach the transcript or the error.
 */
export async function authenticate(
  s: SmtpSession,
  auth: AuthOptions,
  ctx: { host: string; port: number; allowInsecure: boolean },
): Promise<string> {
  if (!s.secure && !ctx.allowInsecure) {
    throw new SmtpError('refusing to send credentials over a connection without TLS', {
      kind: 'tls',
      code: 'ERR_SMTP_INSECURE_AUTH',
      retryable: false,
      hint: "use tls: 'starttls' or 'implicit'; allowInsecureAuth: true only for a trusted local server",
    });
  }
  const offered = s.capabilities.auth;
  const mechanism = chooseMechanism(offered, auth);
  if (!mechanism || (!auth.method && !isOffered(offered, mechanism))) {
    throw new SmtpError(
      offered.length === 0
        ? 'the server offers no AUTH mechanism'
        : `no usable AUTH mechanism: the server offers ${offered.join(' ')}`,
      {
        kind: 'auth',
        code: 'ERR_SMTP_AUTH_UNSUPPORTED',
        retryable: false,
        ...(!s.secure && offered.length === 0 ? { hint: 'many servers offer AUTH only after STARTTLS' } : {}),
      },
    );
  }
  const exchange = (cmd: EncodedCommand) => s.command(cmd, 'auth');
  const needPass = (): string => {
    if (typeof auth.pass !== 'string') {
      throw new SmtpError(`AUTH ${mechanism} needs auth.pass`, { kind: 'input', code: 'ERR_SMTP_INPUT' });
    }
    return auth.pass;
  };
  const expectChallenge = (reply: Reply): void => {
    if (reply.code === 334) return;
    throw reply.code >= 400 ? authError(reply, mechanism) : protocolError(`unexpected reply to AUTH ${mechanism}`, reply);
  };
  const finish = (reply: Reply): string => {
    // 235 is the success RFC 4954 §4 names; as everywhere, the first digit decides (RFC 5321 §4.2.1).
    if (isPositiveCompletion(reply)) return mechanism;
    if (reply.code >= 400) throw authError(reply, mechanism);
    throw protocolError(`unexpected reply to AUTH ${mechanism}`, reply, `AUTH ${mechanism}`);
  };

  switch (mechanism) {
    case 'PLAIN':
      return finish(await exchange(authCommand('PLAIN', encodePlain(auth.user, needPass()))));
    case 'LOGIN': {
      const pass = needPass();
      let reply = await exchange(authCommand('LOGIN'));
      expectChallenge(reply);
      reply = await exchange(responseCommand(b64(auth.user)));
      expectChallenge(reply);
      return finish(await exchange(responseCommand(b64(pass))));
    }
    case 'CRAM-MD5': {
      const pass = needPass();
      const reply = await exchange(authCommand('CRAM-MD5'));
      expectChallenge(reply);
      return finish(await exchange(responseCommand(encodeCramMd5(auth.user, pass, challengeOf(reply)))));
    }
    case 'XOAUTH2':
    case 'OAUTHBEARER':
      return oauth(s, auth, mechanism, ctx, exchange, finish);
    case 'EXTERNAL':
      return externalExchange(s, auth);
    default:
      return scramExchange(s, auth, mechanism, needPass());
  }
}

async function oauth(
  s: SmtpSession,
  auth: AuthOptions,
  mechanism: 'XOAUTH2' | 'OAUTHBEARER',
  ctx: { host: string; port: number },
  exchange: (cmd: EncodedCommand) => Promise<Reply>,
  finish: (reply: Reply) => string,
): Promise<string> {
  const provider = auth.accessToken;
  if (provider === undefined) {
    throw new SmtpError(`AUTH ${mechanism} needs auth.accessToken`, { kind: 'input', code: 'ERR_SMTP_INPUT' });
  }
  const getToken = async (refresh: boolean): Promise<string> => {
    try {
      const token = typeof provider === 'string' ? provider : await provider({ user: auth.user, refresh });
      if (typeof token !== 'string' || token === '') throw new Error('the token provider returned no token');
      return token;
    } catch (err) {
      throw new SmtpError(`getting an OAuth 2.0 access token failed: ${err instanceof Error ? err.message : String(err)}`, {
        kind: 'auth',
        code: 'ERR_SMTP_AUTH_TOKEN',
        retryable: false,
        cause: err,
      });
    }
  };
  const encode = (token: string) =>
    mechanism === 'XOAUTH2' ? encodeXoauth2(auth.user, token) : encodeOauthBearer(auth.user, token, ctx.host, ctx.port);
  const attempt = async (token: string): Promise<Reply> => {
    const payload = encode(token);
    let reply: Reply;
    if (fitsInitialResponse(mechanism, payload)) {
      reply = await exchange(authCommand(mechanism, payload));
    } else {
      // Too long for one command line (RFC 5321 §4.5.3.1.4): send it after an empty 334 (RFC 4954 §4).
      reply = await exchange(authCommand(mechanism));
      if (reply.code === 334) reply = await exchange(responseCommand(payload));
    }
    if (reply.code === 334) {
      // The server sent an error JSON; acknowledge it (XOAUTH2: empty line; RFC 7628 §3.2.3: %x01) to get the 5xx.
      s.transcript.note(`${mechanism} error details: ${challengeOf(reply)}`);
      reply = await exchange(responseCommand(mechanism === 'XOAUTH2' ? '' : b64('\x01')));
    }
    return reply;
  };
  let reply = await attempt(await getToken(false));
  if (reply.code !== 235 && reply.code >= 500 && typeof provider === 'function') {
    s.transcript.note(`${mechanism} rejected the token; asking for a fresh one`);
    reply = await attempt(await getToken(true));
  }
  return finish(reply);
}
