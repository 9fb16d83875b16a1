import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { channelBindingOf } from './channel-binding.js';
import { connectionError } from './errors.js';
import type { ChannelBinding } from './scram.js';
import { tlsConnectOptions, tlsHandshakeError, verifyPeer } from './tls.js';
import type { Transcript } from './transcript.js';
import type { TlsUpgradeOptions, Transport } from './transport.js';
import type { TlsInfo } from './types.js';

/** Chunks held before the socket is paused: incoming data is bounded by backpressure too. */
const MAX_QUEUED_CHUNKS = 64;

/** A TCP peer. */
export interface TcpTarget {
  host: string;
  port: number;
  family?: 0 | 4 | 6;
  localAddress?: string;
  path?: undefined;
}

/** Options of {@link openNetTransport}: a TCP peer, or a Unix domain socket's path. */
export type NetConnectOptions = TcpTarget | { path: string };

/**
 * Open a TCP connection, trying every address of the host (Node's happy-eyeballs
 * `autoSelectFamily`), each attempt in the transcript; or connect to a Unix domain socket.
 */
export function openNetTransport(o: NetConnectOptions, signal: AbortSignal, transcript: Transcript): Promise<NetTransport> {
  return new Promise((resolve, reject) => {
    const where = o.path !== undefined ? `unix:${o.path}` : formatHostPort(o.host, o.port);
    transcript.note(`connecting to ${where}`);
    // Incoming bytes arrive as 'data' events, the read path every runtime's TLS layer can take over on
    // STARTTLS. (A socket opened with Node's `onread` buffer never completes the TLS handshake on Deno 2.9:
    // its TLS layer wraps the handle and the user-buffer reads never reach it.)
    const early: Buffer[] = []; // before 'connect' nothing should arrive; if it does, it is kept
    const onEarly = (chunk: Buffer) => early.push(chunk);
    const socket =
      o.path !== undefined
        ? netConnect({ path: o.path })
        : netConnect({
            host: o.host,
            port: o.port,
            ...(o.family ? { family: o.family } : { autoSelectFamily: true }),
            ...(o.localAddress ? { localAddress: o.localAddress } : {}),
          });
    // Node ≥ 20.12 reports each address it tries.
    socket.on('connectionAttempt', (ip: string, port: number) => transcript.note(`trying ${formatHostPort(ip, port)}`));
    socket.on('connectionAttemptFailed', (ip: string, port: number, _family: number, error: Error) =>
      transcript.note(`attempt to ${formatHostPort(ip, port)} failed: ${error.message}`),
    );
    socket.on('data', onEarly);
    const cleanup = () => {
      socket.off('data', onEarly);
      socket.off('connect', onConnect);
      socket.off('error', onError);
      signal.removeEventListener('abort', onAbort);
    };
    const onConnect = () => {
      cleanup();
      const t = new NetTransport(socket, o.path !== undefined ? where : undefined);
      for (const chunk of early) t.received(chunk);
      transcript.note(`connected to ${t.remote}`);
      resolve(t);
    };
    const onError = (err: Error) => {
      cleanup();
      socket.destroy();
      reject(connectionError(`cannot connect to ${where}: ${err.message}`, err));
    };
    const onAbort = () => {
      cleanup();
      socket.destroy();
      reject(signal.reason);
    };
    if (signal.aborted) return onAbort();
    socket.once('connect', onConnect);
    socket.once('error', onError);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A {@link Transport} over a `node:net` socket, upgradable to `node:tls`. */
export class NetTransport implements Transport {
  #socket: Socket | TLSSocket;
  #queue: Uint8Array[] = [];
  #waiter: { resolve: (c: Uint8Array | null) => void; reject: (e: unknown) => void } | null = null;
  #ended = false;
  #error: Error | null = null;
  #secure = false;
  #detach: () => void = () => {};
  /** The signal {@link read} listens to (see there). */
  #readSignal: AbortSignal | null = null;
  readonly remote: string;

  /** `remote` names the peer; a Unix socket has no address and port, so its opener passes `unix:PATH`. */
  constructor(socket: Socket, remote?: string) {
    this.#socket = socket;
    this.remote = remote ?? formatHostPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
    socket.setNoDelay(true);
    this.#attach(socket);
  }

  get secure(): boolean {
    return this.#secure;
  }

  get bufferedChunks(): number {
    return this.#queue.length;
  }

  /** Bytes that arrived before the transport took over the socket (see {@link openNetTransport}). */
  received(chunk: Uint8Array): void {
    if (!this.#take(chunk)) this.#socket.pause();
  }

  #take(chunk: Uint8Array): boolean {
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = null;
      w.resolve(chunk);
      return true;
    }
    this.#queue.push(chunk);
    return this.#queue.length < MAX_QUEUED_CHUNKS;
  }

  #attach(socket: Socket): void {
    const onData = (chunk: Buffer) => {
      if (!this.#take(chunk)) socket.pause();
    };
    const onEnd = () => this.#finish(null);
    const onError = (err: Error) => this.#finish(err);
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    socket.on('error', onError);
    this.#detach = () => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onError);
    };
  }

  #finish(err: Error | null): void {
    if (err && !this.#error) this.#error = err;
    this.#ended = true;
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = null;
      if (this.#error) w.reject(connectionError(`connection to ${this.remote} failed: ${this.#error.message}`, this.#error));
      else w.resolve(null);
    }
  }

  read(signal: AbortSignal): Promise<Uint8Array | null> {
    const next = this.#queue.shift();
    if (next) {
      if (this.#queue.length < MAX_QUEUED_CHUNKS / 2 && this.#socket.isPaused()) this.#socket.resume();
      return Promise.resolve(next);
    }
    if (this.#error) {
      return Promise.reject(connectionError(`connection to ${this.remote} failed: ${this.#error.message}`, this.#error));
    }
    if (this.#ended) return Promise.resolve(null);
    if (signal.aborted) return Promise.reject(signal.reason);
    // A session reads under one signal for its whole life: listen to it once, not once per read.
    if (signal !== this.#readSignal) {
      this.#readSignal?.removeEventListener('abort', this.#onReadAbort);
      signal.addEventListener('abort', this.#onReadAbort);
      this.#readSignal = signal;
    }
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  /** The signal of the read in progress was aborted: that read rejects with its reason. */
  readonly #onReadAbort = (): void => {
    const w = this.#waiter;
    if (!w) return;
    this.#waiter = null;
    w.reject(this.#readSignal?.reason);
  };

  write(bytes: Uint8Array, signal: AbortSignal): Promise<void> | undefined {
    if (signal.aborted) return Promise.reject(signal.reason);
    const socket = this.#socket;
    if (this.#error || socket.destroyed || !socket.writable) {
      return Promise.reject(connectionError(`connection to ${this.remote} closed`, this.#error ?? undefined));
    }
    if (socket.write(bytes)) return undefined;
    // Backpressure: wait for 'drain', but never past a close or an abort.
    return new Promise<void>((resolve, reject) => {
      const done = (err?: unknown) => {
        socket.off('drain', onDrain);
        socket.off('close', onClose);
        signal.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve();
      };
      const onDrain = () => done();
      const onClose = () => done(connectionError(`connection to ${this.remote} closed while writing`, this.#error ?? undefined));
      const onAbort = () => done(signal.reason);
      socket.on('drain', onDrain);
      socket.on('close', onClose);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  async upgradeToTls(options: TlsUpgradeOptions, signal: AbortSignal): Promise<TlsInfo> {
    const plain = this.#socket;
    this.#detach();
    plain.pause();
    const secure = tlsConnect({ ...tlsConnectOptions(options), socket: plain });
    this.#socket = secure;
    try {
      await new Promise<void>((resolve, reject) => {
        const done = (err?: unknown) => {
          secure.off('secureConnect', onSecure);
          secure.off('error', onError);
          secure.off('close', onClose);
          signal.removeEventListener('abort', onAbort);
          if (err) reject(err);
          else resolve();
        };
        const onSecure = () => done();
        const onError = (err: Error) => done(err);
        const onClose = () => done(new Error('connection closed during the TLS handshake'));
        const onAbort = () => done(signal.reason);
        if (signal.aborted) return onAbort();
        secure.once('secureConnect', onSecure);
        secure.once('error', onError);
        secure.once('close', onClose);
        signal.addEventListener('abort', onAbort, { once: true });
      });
      const info = verifyPeer(secure, options);
      this.#secure = true;
      this.#attach(secure);
      return info;
    } catch (err) {
      secure.destroy();
      plain.destroy();
      this.#ended = true;
      if (err === signal.reason) throw err;
      throw tlsHandshakeError(err, options.mode ?? 'starttls');
    }
  }

  channelBinding(): ChannelBinding | undefined {
    return this.#secure ? channelBindingOf(this.#socket as TLSSocket) : undefined;
  }

  end(): void {
    if (!this.#socket.destroyed) this.#socket.end();
  }

  destroy(error?: Error): void {
    this.#socket.destroy();
    this.#finish(error ?? null);
  }
}
