import { resolveConnectOptions, type ResolvedConnect } from './connect-options.js';
import { handshake, noteTls, openSession, type OpenedTransport } from './handshake.js';
import { openNetTransport } from './net-transport.js';
import { openProxyTransport } from './proxy-transport.js';
import { sendMailWith } from './send-mail.js';
import type { ConnectOptions, SendOptions, SendResult, Session } from './types.js';

export { handshake, noteTls, resolveConnectOptions };
export type { ResolvedConnect };

/**
 * Open an SMTP or LMTP session: TCP (every address of the host tried) or a Unix socket (`path`), implicit TLS or
 * STARTTLS, EHLO (LHLO with `protocol: 'lmtp'`), AUTH.
 *
 * With `stopAfter` the handshake stops after that step, sends QUIT, and the session resolves in that
 * state (`usable` false) so its `greeting`, `capabilities`, `tls` and `authenticated` can be inspected.
 *
 * @example
 * ```ts
 * const session = await connect({ host: '127.0.0.1', port: 1025, tls: 'none' });
 * await session.send({ from: 'a@example.com', to: ['b@example.com'], data: 'Subject: hi\r\n\r\nhello\r\n' });
 * await session.quit();
 *
 * // LMTP into Dovecot over its Unix socket
 * const lmtp = await connect({ path: '/run/dovecot/lmtp', protocol: 'lmtp' });
 * ```
 */
export function connect(options: ConnectOptions): Promise<Session> {
  return openSession(options, openNet);
}

/**
 * Connect, send one message, QUIT. The result stands once the server's final 2xx has arrived,
 * whatever happens to the QUIT after it.
 *
 * @example
 * ```ts
 * await sendMail({ host: '127.0.0.1', port: 1025, tls: 'none',
 *   from: 'a@example.com', to: ['b@example.com'], data: 'Subject: hi\r\n\r\nhello\r\n' });
 * ```
 */
export function sendMail(options: ConnectOptions & SendOptions): Promise<SendResult> {
  return sendMailWith(connect, options);
}

/**
 * TCP over `node:net` (Node, Bun, Deno), directly or through a proxy, or a Unix domain socket; then TLS from the
 * first byte when the mode is implicit.
 */
async function openNet(r: ResolvedConnect, options: ConnectOptions, signal: AbortSignal): Promise<OpenedTransport> {
  const target = { host: r.host, port: r.port, ...(options.family ? { family: options.family } : {}), ...(options.localAddress ? { localAddress: options.localAddress } : {}) };
  const transport = r.path !== undefined
    ? await openNetTransport({ path: r.path }, signal, r.transcript)
    : r.proxy
      ? await openProxyTransport(r.proxy, target, signal, r.transcript)
      : await openNetTransport(target, signal, r.transcript);
  if (r.mode !== 'implicit' || options.stopAfter === 'connect') return { transport, tls: null };
  try {
    return { transport, tls: await transport.upgradeToTls({ ...r.tls, mode: 'implicit' }, signal) };
  } catch (err) {
    transport.destroy();
    throw err;
  }
}
