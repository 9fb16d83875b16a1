import type { TlsUpgradeOptions, Transport } from './transport.js';
import type { TlsInfo } from './types.js';

/**
 * An in-memory {@link Transport} for tests: the test plays the server with {@link MemoryTransport.push}
 * and reads what the client wrote from {@link MemoryTransport.written}. `upgradeToTls` is simulated
 * and recorded as a marker in the write log.
 */
export class MemoryTransport implements Transport {
  readonly remote: string;
  readonly #queue: Uint8Array[] = [];
  #waiter: ((c: Uint8Array | null) => void) | null = null;
  #ended = false;
  #secure = false;
  #destroyed = false;
  /** Every client write, in order; a TLS upgrade appears as the string 'TLS'. */
  readonly writes: Array<Uint8Array | 'TLS'> = [];
  /** Called after each client write (a scripted server answers from here). */
  onWrite: ((bytes: Uint8Array) => void) | undefined;
  /** Called when the client starts TLS. */
  onUpgrade: ((options: TlsUpgradeOptions) => TlsInfo | Promise<TlsInfo>) | undefined;

  constructor(remote = '127.0.0.1:25') {
    this.remote = remote;
  }

  get secure(): boolean {
    return this.#secure;
  }
  get bufferedChunks(): number {
    return this.#queue.length;
  }
  get destroyed(): boolean {
    return this.#destroyed;
  }
  /** All bytes the client wrote, concatenated (TLS markers left out). */
  get written(): Buffer {
    return Buffer.concat(this.writes.filter((w): w is Uint8Array => w !== 'TLS'));
  }

  /** Server → client bytes. */
  push(data: string | Uint8Array): void {
    const chunk = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = null;
      w(chunk);
    } else this.#queue.push(chunk);
  }

  /** Server closes its side. */
  close(): void {
    this.#ended = true;
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = null;
      w(null);
    }
  }

  read(signal: AbortSignal): Promise<Uint8Array | null> {
    const next = this.#queue.shift();
    if (next) return Promise.resolve(next);
    if (this.#ended || this.#destroyed) return Promise.resolve(null);
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.#waiter = null;
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiter = (c) => {
        signal.removeEventListener('abort', onAbort);
        resolve(c);
      };
    });
  }

  async write(bytes: Uint8Array, signal: AbortSignal): Promise<void> {
    if (signal.aborted) throw signal.reason;
    if (this.#destroyed || this.#ended) throw new Error('memory transport closed');
    this.writes.push(Uint8Array.from(bytes));
    this.onWrite?.(bytes);
  }

  async upgradeToTls(options: TlsUpgradeOptions): Promise<TlsInfo> {
    this.writes.push('TLS');
    const info = (await this.onUpgrade?.(options)) ?? {
      protocol: 'TLSv1.3',
      cipher: 'TLS_AES_256_GCM_SHA384',
      authorized: true,
      verified: 'ca' as const,
    };
    this.#secure = true;
    return info;
  }

  end(): void {
    this.#ended = true;
  }

  destroy(): void {
    this.#destroyed = true;
    this.close();
  }
}
