import { encodeCommand, SmtpError, type EncodedCommand, type Reply } from '@smtpkit/wire';
import { authError, protocolError } from './errors.js';
import { ScramClient, type ScramBindingFlag, type ScramHash } from './scram.js';
import type { SmtpSession } from './session.js';
import type { AuthMethod, AuthOptions } from './types.js';

/** The SCRAM mechanisms, strongest first. */
export const SCRAM_MECHANISMS = ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256', 'SCRAM-SHA-1-PLUS', 'SCRAM-SHA-1'] as const;
export type ScramMechanism = (typeof SCRAM_MECHANISMS)[number];

export function isScram(m: string): m is ScramMechanism {
  return (SCRAM_MECHANISMS as readonly string[]).includes(m);
}

/**
 * The SCRAM mechanism to run for a chosen one: `SCRAM-SHA-256` becomes `SCRAM-SHA-256-PLUS` when the
 * server offers that and the TLS connection yields a channel binding (RFC 5802 §6).
 */
export function upgradeToPlus(mechanism: ScramMechanism, offered: readonly string[], canBind: boolean): ScramMechanism {
  if (mechanism.endsWith('-PLUS') || !canBind) return mechanism;
  const plus = `${mechanism}-PLUS` as ScramMechanism;
  return offered.includes(plus) ? plus : mechanism;
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (reply: Reply) => Buffer.from(reply.lines[0]?.trim() ?? '', 'base64').toString('utf8');

function redacted(cmd: EncodedCommand, logText: string): EncodedCommand {
  return { ...cmd, logText };
}

/**
 * Run a SCRAM exchange (RFC 5802 §5 over RFC 4954): client-first as the initial response, the
 * server-first challenge, client-final with the proof, then the server-final message, which carries
 * the server signature either in a last 334 (answered with an empty line) or in the 235 text. The
 * signature is verified before the mechanism counts as a success.
 */
export async function scramExchange(s: SmtpSession, auth: AuthOptions, chosen: ScramMechanism, pass: string): Promise<string> {
  const binding = s.secure ? s.transport.channelBinding?.() : undefined;
  const mechanism = upgradeToPlus(chosen, s.capabilities.auth, binding !== undefined);
  const plus = mechanism.endsWith('-PLUS');
  if (plus && !binding) {
    throw new SmtpError(`AUTH ${mechanism} needs TLS with a channel binding (tls-exporter or tls-server-end-point)`, {
      kind: 'auth',
      code: 'ERR_SMTP_AUTH_CHANNEL_BINDING',
      retryable: false,
      hint: 'use the mechanism without -PLUS, or connect with TLS',
    });
  }
  // `y`: we can bind but the server offered no -PLUS; a server that did offer it detects the downgrade.
  const flag: ScramBindingFlag = plus && binding ? { kind: 'bind', binding } : binding ? { kind: 'unused' } : { kind: 'none' };
  const hash: ScramHash = mechanism.startsWith('SCRAM-SHA-256') ? 'sha256' : 'sha1';
  const scram = new ScramClient(hash, auth.user, pass, flag);
  if (plus && binding) s.transcript.note(`${mechanism}: channel binding ${binding.type}`);
  const fail = (reply: Reply): never => {
    throw reply.code >= 400 ? authError(reply, mechanism) : protocolError(`unexpected reply to AUTH ${mechanism}`, reply, `AUTH ${mechanism}`);
  };
  const command = encodeCommand({ verb: 'AUTH', mechanism, initialResponse: b64(scram.clientFirst()) });
  let reply = await s.command(redacted(command, `AUTH ${mechanism} <redacted>`), 'auth');
  if (reply.code !== 334) fail(reply);
  const final = await scram.clientFinal(unb64(reply));
  reply = await s.command(redacted(encodeCommand({ verb: 'AUTH_RESPONSE', response: b64(final) }), '<redacted>'), 'auth');
  let serverFinal: string;
  if (reply.code === 334) {
    serverFinal = unb64(reply);
    try {
      scram.verifyServer(serverFinal);
    } catch (err) {
      // RFC 4954 §4: "*" cancels the exchange; the server answers 501 and the session stays usable.
      await s.command(redacted(encodeCommand({ verb: 'AUTH_RESPONSE', response: '*' }), '*'), 'auth');
      throw err;
    }
    reply = await s.command(redacted(encodeCommand({ verb: 'AUTH_RESPONSE', response: '' }), ''), 'auth');
    if (reply.code !== 235) fail(reply);
    return mechanism;
  }
  if (reply.code !== 235) fail(reply);
  // RFC 4954 §4: the additional data with success may come in the 235 text, base64.
  serverFinal = unb64(reply);
  scram.verifyServer(serverFinal);
  return mechanism;
}

/**
 * AUTH EXTERNAL (RFC 4422 appendix A): the TLS client certificate is the credential; the initial
 * response is the authorization identity, or `=` (empty, RFC 4954 §4) to take the certificate's.
 */
export async function externalExchange(s: SmtpSession, auth: AuthOptions): Promise<string> {
  if (!s.secure) {
    throw new SmtpError('AUTH EXTERNAL needs TLS with a client certificate', {
      kind: 'auth',
      code: 'ERR_SMTP_AUTH_EXTERNAL',
      retryable: false,
      hint: 'pass cert and key (or pfx) and connect with TLS',
    });
  }
  const authzid = auth.user === '' ? '=' : b64(auth.user);
  const cmd = encodeCommand({ verb: 'AUTH', mechanism: 'EXTERNAL', initialResponse: authzid });
  let reply = await s.command(redacted(cmd, `AUTH EXTERNAL ${authzid === '=' ? '=' : '<authzid>'}`), 'auth');
  // A server that ignores the initial response asks with an empty 334: answer the same way.
  if (reply.code === 334) reply = await s.command(redacted(encodeCommand({ verb: 'AUTH_RESPONSE', response: authzid === '=' ? '' : authzid }), '<authzid>'), 'auth');
  if (reply.code === 235) return 'EXTERNAL';
  if (reply.code >= 400) throw authError(reply, 'EXTERNAL');
  throw protocolError('unexpected reply to AUTH EXTERNAL', reply, 'AUTH EXTERNAL');
}

/** Mechanisms in order of preference for a password when the caller names none. */
export const PASSWORD_PREFERENCE: AuthMethod[] = ['SCRAM-SHA-256', 'SCRAM-SHA-1', 'CRAM-MD5', 'PLAIN', 'LOGIN'];
