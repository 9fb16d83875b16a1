// The part of Cloudflare's `cloudflare:sockets` module (Workers, workerd) that the Workers transport uses.
declare module 'cloudflare:sockets' {
  export interface SocketAddress {
    hostname: string;
    port: number;
  }
  export interface SocketOptions {
    /** 'off' plaintext, 'on' TLS from the first byte, 'starttls' plaintext that may call startTls(). */
    secureTransport?: 'off' | 'on' | 'starttls';
    allowHalfOpen?: boolean;
  }
  export interface SocketInfo {
    remoteAddress?: string;
    localAddress?: string;
  }
  export interface Socket {
    readonly readable: ReadableStream<Uint8Array>;
    readonly writable: WritableStream<Uint8Array>;
    readonly opened: Promise<SocketInfo>;
    readonly closed: Promise<void>;
    close(): Promise<void>;
    startTls(options?: { expectedServerHostname?: string }): Socket;
  }
  export function connect(address: SocketAddress | string, options?: SocketOptions): Socket;
}
