import { lookup } from 'node:dns/promises';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connectionError } from './errors.js';
import { NetTransport, type TcpTarget } from './net-transport.js';
import {
  httpConnect, httpFailure, proxyError, socks4Connect, socks4Failure, socks5Connect, socks5Credentials,
  socks5Failure, socks5Greeting, type ProxyConfig,
} from './proxy.js';
import type { Transcript } from './transcript.js';

/** The longest HTTP CONNECT response head read from a proxy. */
const MAX_HTTP_HEAD = 16 * 1024;

/**
 * Reads a proxy's handshake replies from the socket: exact counts, or up to a delimiter, bounded.
 * Whatever arrives beyond the handshake is the SMTP server's and is handed on.
 */
class HandshakeReader {
  #buffered: Buffer = Buffer.alloc(0);
  #wake: (() => void) | undefined;
  #failure: Error | undefined;
  readonly #socket: Socket;
  readonly #onData = (chunk: Buffer) => {
    this.#buffered = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
    this.#wake?.();
  };
  readonly #onEnd = () => {
    this.#failure ??= new Error('the proxy closed the connection during its handshake');
    this.#wake?.();
  };
  readonly #onError = (err: Error) => {
    this.#failure ??= err;
    this.#wake?.();
  };

  readonly #signal: AbortSignal;
  readonly #onAbort = () => {
    this.#failure ??= this.#signal.reason as Error;
    this.#wake?.();
  };

  constructor(socket: Socket, signal: AbortSignal) {
    this.#socket = socket;
    this.#signal = signal;
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('close', this.#onEnd);
    socket.on('error', this.#onError);
    signal.addEventListener('abort', this.#onAbort, { once: true });
  }

  async #fill(ready: () => boolean): Promise<void> {
    while (!ready()) {
      if (this.#failure) throw this.#failure;
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
    }
  }

  /** Exactly `n` octets. */
  async take(n: number): Promise<Buffer> {
    await this.#fill(() => this.#buffered.length >= n);
    const out = this.#buffered.subarray(0, n);
    this.#buffered = this.#buffered.subarray(n);
    return out;
  }

  /** Octets up to and including `delimiter`; fails past `max`. */
  async until(delimiter: string, max: number, tooLong: () => Error): Promise<Buffer> {
    await this.#fill(() => {
      if (this.#buffered.indexOf(delimiter) >= 0) return true;
      if (this.#buffered.length > max) throw tooLong();
      return false;
    });
    const end = this.#buffered.indexOf(delimiter) + delimiter.length;
    return this.take(end);
  }

  /** Stop listening; the rest (early SMTP bytes) is returned. The socket is left paused. */
  detach(): Buffer {
    this.#socket.pause();
    this.#socket.off('data', this.#onData);
    this.#socket.off('end', this.#onEnd);
    this.#socket.off('close', this.#onEnd);
    this.#socket.off('error', this.#onError);
    this.#signal.removeEventListener('abort', this.#onAbort);
    return this.#buffered;
  }
}

function openSocket(proxy: ProxyConfig, target: TcpTarget, signal: AbortSignal): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({
      host: proxy.host,
      port: proxy.port,
      autoSelectFamily: true,
      ...(target.localAddress ? { localAddress: target.localAddress } : {}),
    });
    const done = (err?: unknown) => {
      socket.off('connect', onConnect);
      socket.off('error', onError);
      signal.removeEventListener('abort', onAbort);
      if (err === undefined) return resolve(socket);
      socket.destroy();
      reject(err);
    };
    const onConnect = () => done();
    const onError = (err: Error) => done(connectionError(`cannot connect to the proxy ${proxy.display}: ${err.message}`, err));
    const onAbort = () => done(signal.reason);
    if (signal.aborted) return onAbort();
    socket.once('connect', onConnect);
    socket.once('error', onError);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** For socks5:// and socks4://: the address the proxy connects to, resolved here (honouring `family`), under `signal`. */
async function resolveHere(host: string, family: 0 | 4 | 6 | undefined, v4only: boolean, signal: AbortSignal): Promise<string> {
  if (isIP(host)) return host;
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return (await Promise.race([lookup(host, { family: v4only ? 4 : (family ?? 0) }), aborted])).address;
  } catch (err) {
    if (err === signal.reason) throw err;
    throw connectionError(`cannot resolve ${host}: ${(err as Error).message}`, err);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

async function socks5(reader: HandshakeReader, socket: Socket, proxy: ProxyConfig, host: string, port: number): Promise<void> {
  socket.write(socks5Greeting(proxy));
  const [version, method] = await reader.take(2);
  if (version !== 5) throw proxyError(proxy, 'protocol', `not a SOCKS5 proxy (version byte ${version})`);
  if (method === 0xff) {
    throw proxyError(proxy, 'auth', proxy.user === undefined ? 'the proxy requires a user name and password' : 'the proxy accepts none of our authentication methods');
  }
  if (method === 2) {
    if (proxy.user === undefined) throw proxyError(proxy, 'protocol', 'the proxy chose user/password authentication we did not offer');
    socket.write(socks5Credentials(proxy));
    const [, status] = await reader.take(2);
    if (status !== 0) throw proxyError(proxy, 'auth', 'user name or password refused (RFC 1929)');
  } else if (method !== 0) {
    throw proxyError(proxy, 'protocol', `the proxy chose authentication method ${method}, which we did not offer`);
  }
  socket.write(socks5Connect(host, port));
  const head = await reader.take(4);
  if (head[0] !== 5) throw proxyError(proxy, 'protocol', 'malformed SOCKS5 reply');
  if (head[1] !== 0) throw socks5Failure(proxy, head[1] as number);
  // BND.ADDR and BND.PORT (RFC 1928 §6): read past them.
  const atyp = head[3];
  const length = atyp === 1 ? 4 : atyp === 4 ? 16 : atyp === 3 ? ((await reader.take(1))[0] as number) : -1;
  if (length < 0) throw proxyError(proxy, 'protocol', `unknown address type ${atyp} in the SOCKS5 reply`);
  await reader.take(length + 2);
}

async function socks4(reader: HandshakeReader, socket: Socket, proxy: ProxyConfig, host: string, port: number): Promise<void> {
  socket.write(socks4Connect(host, port, proxy.user));
  const reply = await reader.take(8);
  if (reply[0] !== 0) throw proxyError(proxy, 'protocol', `not a SOCKS4 proxy (version byte ${reply[0]})`);
  if (reply[1] !== 0x5a) throw socks4Failure(proxy, reply[1] as number);
}

async function http(reader: HandshakeReader, socket: Socket, proxy: ProxyConfig, host: string, port: number): Promise<void> {
  socket.write(httpConnect(proxy, host, port));
  const head = await reader.until('\r\n\r\n', MAX_HTTP_HEAD, () => proxyError(proxy, 'protocol', `CONNECT response head longer than ${MAX_HTTP_HEAD} octets`));
  const statusLine = head.toString('latin1').split('\r\n', 1)[0] ?? '';
  const match = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(statusLine);
  if (!match) throw proxyError(proxy, 'protocol', `not an HTTP proxy (answered ${JSON.stringify(statusLine.slice(0, 60))})`);
  const status = Number(match[1]);
  if (status < 200 || status > 299) throw httpFailure(proxy, status, statusLine);
}

/**
 * Open a connection to the SMTP server through a proxy: TCP to the proxy, its handshake, then a
 * {@link NetTransport} over the same socket. Everything runs under `signal` (the connect deadline and
 * the caller's signal), so a proxy that accepts and then stalls times out like a server would.
 */
export async function openProxyTransport(
  proxy: ProxyConfig,
  target: TcpTarget,
  signal: AbortSignal,
  transcript: Transcript,
): Promise<NetTransport> {
  transcript.note(`connecting to ${target.host}:${target.port} through the proxy ${proxy.display}${proxy.user !== undefined ? ' (with credentials)' : ''}`);
  const remoteName = proxy.protocol === 'socks5h' || proxy.protocol === 'socks4a' || proxy.protocol === 'http';
  const host = remoteName ? target.host : await resolveHere(target.host, target.family, proxy.protocol === 'socks4', signal);
  const socket = await openSocket(proxy, target, signal);
  const reader = new HandshakeReader(socket, signal);
  try {
    if (proxy.protocol === 'http') await http(reader, socket, proxy, host, target.port);
    else if (proxy.protocol === 'socks4' || proxy.protocol === 'socks4a') await socks4(reader, socket, proxy, host, target.port);
    else await socks5(reader, socket, proxy, host, target.port);
  } catch (err) {
    reader.detach();
    socket.destroy();
    if (err === signal.reason) throw err;
    if (err instanceof Error && !('kind' in err)) throw connectionError(`proxy ${proxy.display}: ${err.message}`, err);
    throw err;
  }
  const early = reader.detach();
  const transport = new NetTransport(socket);
  if (early.length > 0) transport.received(early);
  socket.resume();
  transcript.note(`proxy ${proxy.display} connected us to ${target.host}:${target.port}`);
  return transport;
}
