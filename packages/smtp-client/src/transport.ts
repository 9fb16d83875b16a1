import type { ChannelBinding } from './scram.js';
import type { TlsInfo } from './types.js';

/** What a transport needs to turn itself into TLS (STARTTLS or implicit TLS). */
export interface TlsUpgradeOptions {
  host: string;
  servername?: string;
  ca?: string | Buffer | Array<string | Buffer>;
  rejectUnauthorized: boolean;
  pin?: string[];
  /** TLS client certificate (PEM) and its key, or a PKCS#12 bundle, with the key's passphrase. */
  cert?: string | Buffer | Array<string | Buffer>;
  key?: string | Buffer | Array<string | Buffer>;
  pfx?: string | Buffer | Array<string | Buffer>;
  passphrase?: string;
  /** For error hints: how TLS was started. */
  mode?: 'implicit' | 'starttls';
}

/**
 * The byte pipe a session talks through. The session never touches `node:net`; tests hand it an
 * in-memory fake (Go `net/smtp` `NewClient(conn)` is the model).
 */
export interface Transport {
  /** `address:port` of the peer, for the transcript and errors. */
  readonly remote: string;
  /** True once TLS is up. */
  readonly secure: boolean;
  /**
   * Write bytes: undefined when the transport took them at once, else a promise that resolves once it
   * accepted them (after 'drain' when its buffer was full). The promise rejects with the signal's reason
   * when aborted, or a connection error when the peer went away.
   */
  write(bytes: Uint8Array, signal: AbortSignal): Promise<void> | undefined;
  /** The next incoming chunk, or null at end of stream. Rejects with the signal's reason when aborted. */
  read(signal: AbortSignal): Promise<Uint8Array | null>;
  /** Chunks received and not yet read (STARTTLS checks that nothing arrived beyond the 220). */
  readonly bufferedChunks: number;
  /** Start TLS over the current connection (RFC 3207) and verify the peer. */
  upgradeToTls(options: TlsUpgradeOptions, signal: AbortSignal): Promise<TlsInfo>;
  /** The channel binding of the TLS connection for SCRAM-…-PLUS (RFC 9266 / RFC 5929); undefined without TLS. */
  channelBinding?(): ChannelBinding | undefined;
  /** Half-close politely (after QUIT). */
  end(): void;
  /** Drop the connection now. */
  destroy(error?: Error): void;
}
