import { connect as socketConnect, type Socket } from 'cloudflare:sockets';
import { SmtpError } from '@smtpkit/wire';
import { connectionError } from '../errors.js';
import type { Transcript } from '../transcript.js';
import type { TlsUpgradeOptions, Transport } from '../transport.js';
import type { TlsInfo, TlsMode } from '../types.js';

type ReadResult = Awaited<ReturnType<ReadableStreamDefaultReader<Uint8Array>['read']>>;

/**
 * What TLS on Workers reports. The runtime checks the certificate against its trust store (the public
 * CAs on Cloudflare; workerd's `trustedCertificates` locally) and tells nothing about the session, so the
 * protocol and cipher are unknown and the verdict is the runtime's.
 */
const WORKERS_TLS: TlsInfo = Object.freeze({ protocol: 'unknown', cipher: 'unknown', authorized: true, verified: 'ca' });

/**
 * Open a socket with `connect()` from `cloudflare:sockets`. Implicit TLS is `secureTransport: 'on'`;
 * STARTTLS needs the socket opened as `'starttls'`, so opportunistic and STARTTLS sessions open it so.
 */
export async function openSocketsTransport(
  o: { host: string; port: number; mode: TlsMode },
  signal: AbortSignal,
  transcript: Transcript,
): Promise<SocketsTransport> {
  const remote = o.host.includes(':') ? `[${o.host}]:${o.port}` : `${o.host}:${o.port}`;
  transcript.note(`connecting to ${remote}`);
  if (signal.aborted) throw signal.reason;
  const secureTransport = o.mode === 'implicit' ? 'on' : o.mode === 'none' ? 'off' : 'starttls';
  const socket = socketConnect({ hostname: o.host, port: o.port }, { secureTransport, allowHalfOpen: false });
  try {
    await untilAborted(socket.opened, signal);
  } catch (err) {
    void socket.close().catch(() => {});
    if (err === signal.reason) throw err;
    throw o.mode === 'implicit' ? tlsError(err, 'implicit') : connectionError(`cannot connect to ${remote}: ${messageOf(err)}`, err);
  }
  transcript.note(`connected to ${remote}`);
  return new SocketsTransport(socket, remote, o.mode === 'implicit');
}

/**
 * A {@link Transport} over a Workers socket (web streams), upgradable with `startTls()`. Reads are pulled
 * one at a time, when the session asks: nothing is read ahead, so at STARTTLS no read is in flight (the
 * runtime refuses to release a reader with one) and bytes a server sent after its 220 stay in the stream,
 * where the TLS handshake meets them as garbage and fails (RFC 3207 §4.2: they are never taken as replies).
 */
export class SocketsTransport implements Transport {
  #socket: Socket;
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  /** The read in flight: an aborted read() leaves it running, and the next read() takes it over. */
  #pending: Promise<ReadResult> | null = null;
  #ended = false;
  #error: unknown = null;
  #secure: boolean;
  /** TLS is up but nothing came back through it yet: a failure now is the handshake's (certificate, version). */
  #handshaking: boolean;
  #tlsMode: 'implicit' | 'starttls' = 'implicit';
  readonly remote: string;
  readonly bufferedChunks = 0;

  constructor(socket: Socket, remote: string, secure: boolean) {
    this.remote = remote;
    this.#secure = secure;
    this.#handshaking = secure;
    this.#socket = socket;
    this.#reader = socket.readable.getReader();
    this.#writer = socket.writable.getWriter();
  }

  get secure(): boolean {
    return this.#secure;
  }

  /** TLS from the first byte: what the session reports for it. */
  get tlsInfo(): TlsInfo | null {
    return this.#secure ? WORKERS_TLS : null;
  }

  #failure(): SmtpError {
    const err = this.#error;
    if (this.#handshaking) return tlsError(err, this.#tlsMode);
    return connectionError(`connection to ${this.remote} failed: ${messageOf(err)}`, err);
  }

  async read(signal: AbortSignal): Promise<Uint8Array | null> {
    for (;;) {
      if (this.#error) throw this.#failure();
      if (this.#ended) return null;
      this.#pending ??= this.#reader.read();
      let result: ReadResult;
      try {
        result = await untilAborted(this.#pending, signal);
      } catch (err) {
        if (err === signal.reason) throw err;
        this.#pending = null;
        this.#error ??= err;
        this.#ended = true;
        throw this.#failure();
      }
      this.#pending = null;
      if (result.done) {
        this.#ended = true;
        return null;
      }
      if (result.value.length === 0) continue;
      this.#handshaking = false;
      return result.value;
    }
  }

  write(bytes: Uint8Array, signal: AbortSignal): Promise<void> | undefined {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.#error || this.#ended) return Promise.reject(this.#error ? this.#failure() : connectionError(`connection to ${this.remote} closed`));
    const written = this.#writer.write(bytes);
    written.catch((err: unknown) => {
      this.#error ??= err;
    });
    if ((this.#writer.desiredSize ?? 0) > 0) return undefined;
    // Backpressure: wait until the stream wants more, but never past a failure or an abort.
    return untilAborted(
      Promise.race([this.#writer.ready, written]).then(() => undefined),
      signal,
    ).catch((err: unknown) => {
      throw err === signal.reason ? err : this.#failure();
    });
  }

  async upgradeToTls(options: TlsUpgradeOptions, signal: AbortSignal): Promise<TlsInfo> {
    let secure: Socket;
    try {
      // startTls() takes over the connection; the plaintext streams are released first.
      this.#reader.releaseLock();
      this.#writer.releaseLock();
      secure = this.#socket.startTls();
      this.#socket = secure;
      await untilAborted(secure.opened, signal);
    } catch (err) {
      this.destroy();
      if (err === signal.reason) throw err;
      throw tlsError(err, options.mode ?? 'starttls');
    }
    this.#secure = true;
    this.#handshaking = true;
    this.#tlsMode = 'starttls';
    this.#reader = secure.readable.getReader();
    this.#writer = secure.writable.getWriter();
    return WORKERS_TLS;
  }

  end(): void {
    void this.#writer.close().catch(() => {});
  }

  destroy(error?: Error): void {
    void this.#socket.close().catch(() => {});
    if (error) this.#error ??= error;
    this.#ended = true;
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * A TLS failure on Workers. The runtime tells the Worker only "internal error; reference = …" and logs the
 * reason (measured with workerd: "invalid peer certificate: UnknownIssuer", "…not valid for name…",
 * "…certificate expired…"), so the code says handshake and the hint says where to look.
 */
function tlsError(err: unknown, mode: 'implicit' | 'starttls'): SmtpError {
  return new SmtpError(`TLS ${mode === 'implicit' ? 'connection' : 'handshake after STARTTLS'} failed: ${messageOf(err)}`, {
    kind: 'tls',
    code: 'ERR_SMTP_TLS_HANDSHAKE',
    retryable: false,
    hint: "the Workers runtime logs the reason: a certificate it does not trust (its own trust store decides), for another host, or expired",
    cause: err,
  });
}

/** `promise`, or the signal's reason as soon as it aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
