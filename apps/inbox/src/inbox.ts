import { listenHttp } from './http-server.js';
import { listenSmtp } from './smtp-listener.js';
import type { InboxAuth } from './smtp-listener.js';
import { MessageStore } from './store.js';
import type { StoredMessage } from './store.js';

/** Options of {@link startInbox}. Every limit has a default a laptop can live with. */
export interface InboxOptions {
  /** SMTP address; default 127.0.0.1:1025. Port 0 picks a free port. */
  smtpHost?: string;
  smtpPort?: number;
  /** HTTP address; default 127.0.0.1:8025. */
  httpHost?: string;
  httpPort?: number;
  /** Name in the greeting and EHLO reply (default `inbox.smtpkit.test`). */
  hostname?: string;
  /** Keep each message as `<id>.eml` + `<id>.json` here, and load them on start. */
  dir?: string;
  /** Offer STARTTLS with this key and certificate (PEM). */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** `any`: AUTH offered, any credentials accepted, not required. `users`: required, checked. */
  auth?: InboxAuth;
  /** Ring size: messages (default 500) and octets (default 100 MB). */
  maxMessages?: number;
  maxBytes?: number;
  /** SIZE offered and enforced (default 25 MiB). */
  maxMessageSize?: number;
  maxRecipients?: number;
  maxConnections?: number;
  /** Idle time before a session is closed with 421 (default 5 minutes, RFC 5321 §4.5.3.2.7). */
  idleTimeoutMs?: number;
  /** MIME nesting walked (default 20). */
  maxMimeDepth?: number;
  /** Called for each message stored. */
  onMessage?: (message: StoredMessage) => void;
}

/** A running inbox. */
export interface Inbox {
  smtpPort: number;
  httpPort: number;
  /** `http://127.0.0.1:8025/` (or the address given). */
  url: string;
  store: MessageStore;
  /** Stops both servers and ends every session. */
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** True when the host is a loopback address; anything else exposes captured mail to the network. */
export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || host.startsWith('127.');
}

/**
 * Starts the capture inbox: SMTP (on @smtpkit/wire's ServerSession) and HTTP (page, JSON API, events).
 *
 * @example
 * ```ts
 * const inbox = await startInbox({ smtpPort: 0, httpPort: 0 });
 * console.log(inbox.url, inbox.smtpPort);
 * await inbox.close();
 * ```
 */
export async function startInbox(options: InboxOptions = {}): Promise<Inbox> {
  const smtpHost = options.smtpHost ?? '127.0.0.1';
  const httpHost = options.httpHost ?? '127.0.0.1';
  const store = new MessageStore({
    maxMessages: options.maxMessages ?? 500,
    maxBytes: options.maxBytes ?? 100 * 1024 * 1024,
    maxSessions: 1000,
    limits: { maxDepth: options.maxMimeDepth ?? 20, maxParts: 2000 },
    ...(options.dir === undefined ? {} : { dir: options.dir }),
  });
  await store.load();
  if (options.onMessage) {
    const cb = options.onMessage;
    store.subscribe((e) => e.type === 'message' && cb(e.message));
  }
  const smtp = await listenSmtp({
    host: smtpHost,
    port: options.smtpPort ?? 1025,
    hostname: options.hostname ?? 'inbox.smtpkit.test',
    store,
    ...(options.tls ? { tls: options.tls } : {}),
    ...(options.auth ? { auth: options.auth } : {}),
    maxMessageSize: options.maxMessageSize ?? 25 * 1024 * 1024,
    maxRecipients: options.maxRecipients ?? 100,
    maxConnections: options.maxConnections ?? 50,
    idleTimeoutMs: options.idleTimeoutMs ?? 5 * 60_000,
    maxTranscriptLines: 5000,
  });
  let http;
  try {
    http = await listenHttp({ host: httpHost, port: options.httpPort ?? 8025, store, maxWaitSeconds: 600, maxEventClients: 64 });
  } catch (e) {
    await smtp.close();
    throw e;
  }
  const shownHost = httpHost.includes(':') ? `[${httpHost}]` : httpHost === '0.0.0.0' ? '127.0.0.1' : httpHost;
  return {
    smtpPort: smtp.port,
    httpPort: http.port,
    url: `http://${shownHost}:${http.port}/`,
    store,
    close: async () => {
      await Promise.all([smtp.close(), http.close()]);
    },
  };
}
