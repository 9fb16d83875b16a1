/** Bytes received on one connection, with whether they arrived inside TLS. */
export interface ReceivedChunk {
  tls: boolean;
  data: Buffer;
}

/** Options for a read from the client. */
export interface ReadOptions {
  /** Fail the read after this many milliseconds (default: the server's `readTimeoutMs`). */
  timeoutMs?: number;
  /** Fail the read when more than this many bytes arrive without its terminator. */
  maxBytes?: number;
}

/** Options for a write to the client. */
export interface WriteOptions {
  /**
   * Write in pieces: an array of segment sizes (the rest goes in a last segment) or
   * 'bytewise' (one byte per write). Each piece is flushed before the next.
   */
  split?: readonly number[] | 'bytewise';
  /** Pause between pieces in milliseconds (default 1 when split, so pieces travel apart). */
  intervalMs?: number;
}

/** Options for {@link FaultConnection.upgradeTls}. */
export interface UpgradeTlsOptions {
  /** The reply that invites the handshake (default '220 2.0.0 Ready to start TLS\r\n'). */
  reply?: string | Uint8Array;
  /**
   * Plaintext written in the same segment right after `reply`, before the handshake: the
   * STARTTLS response injection (CVE-2011-0411 family; RFC 3207 §4.2 says the client must
   * discard it).
   */
  injectPlaintext?: string | Uint8Array;
  /** Fail when the client has not completed the handshake in this many milliseconds (default 10 000). */
  timeoutMs?: number;
}

/** What the server saw on one connection (read-only for tests). */
export interface ConnectionRecord {
  /** 0 for the first connection, 1 for the second… */
  readonly index: number;
  /** Every byte received from the client, plaintext and decrypted TLS, in order. */
  readonly received: Buffer;
  /** The same bytes in arrival chunks, each marked with whether it came inside TLS. */
  readonly chunks: readonly ReceivedChunk[];
  /** Command lines read by the script (without CRLF), in order. */
  readonly commands: readonly string[];
  /** DATA payloads read by the script (dot-stuffed, without the terminating CRLF.CRLF). */
  readonly messages: readonly Buffer[];
  /** Plaintext the client sent after the STARTTLS line and before the handshake (dropped, RFC 3207 §4.2). */
  readonly discardedBeforeTls: Buffer;
  /** True once a TLS session was established (STARTTLS or implicit). */
  readonly tls: boolean;
  /** The TLS error, when a handshake failed (e.g. the client refused the certificate). */
  readonly tlsError: Error | undefined;
  /** True once the client closed or reset its side. */
  readonly clientClosed: boolean;
  /** Why the script stopped early: a mismatch, a read timeout, the client leaving… */
  readonly scriptError: Error | undefined;
  /** Resolves when the connection is fully closed and the script has ended. */
  readonly done: Promise<void>;
}
