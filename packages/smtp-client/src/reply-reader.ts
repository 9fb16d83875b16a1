import { ReplyParser, SmtpError, type Reply } from '@smtpkit/wire';
import { connectionError } from './errors.js';
import type { Transcript } from './transcript.js';
import type { Transport } from './transport.js';

/**
 * The one reader of server replies: transport chunks go into wire's {@link ReplyParser}; whole replies
 * wait in a FIFO until the command that expects them asks (pipelined replies match in order, RFC 2920 §3.1).
 */
export class ReplyReader {
  readonly #parser = new ReplyParser();
  readonly #transport: Transport;
  readonly #transcript: Transcript;
  readonly #queue: Reply[] = [];
  #bytesSeen = 0;
  /** The signal of the {@link next} in progress. */
  #signal: AbortSignal | undefined;

  constructor(transport: Transport, transcript: Transcript) {
    this.#transport = transport;
    this.#transcript = transcript;
  }

  /** Nothing buffered anywhere: no reply waiting, no partial reply, no unread chunk (RFC 3207 §4.2 check). */
  get isIdle(): boolean {
    return this.#queue.length === 0 && this.#parser.isIdle && this.#transport.bufferedChunks === 0;
  }

  /** Replies already parsed and not yet claimed. */
  get pending(): number {
    return this.#queue.length;
  }

  /** The next reply; rejects on close, a protocol error, or the signal. */
  next(signal: AbortSignal): Promise<Reply> {
    const ready = this.#queue.shift();
    if (ready) return Promise.resolve(ready);
    this.#signal = signal;
    // A plain promise chain, not an async function: this wait happens for nearly every reply.
    return this.#transport.read(signal).then(this.#received);
  }

  /** A chunk read while a reply is awaited: the reply, or the wait for the rest of it. */
  readonly #received = (chunk: Uint8Array | null): Reply | Promise<Reply> => {
    if (chunk === null) {
      throw connectionError(`connection closed by ${this.#transport.remote} while waiting for a reply`);
    }
    this.#ingest(chunk);
    return this.#queue.shift() ?? this.#transport.read(this.#signal as AbortSignal).then(this.#received);
  };

  /** A reply already parsed, without waiting, or undefined. */
  take(): Reply | undefined {
    return this.#queue.shift();
  }

  /**
   * A reply that is already here although no command is outstanding (parsed, or in a chunk that
   * arrived unread), or undefined. Never waits for the network.
   */
  async takeUnsolicited(signal: AbortSignal): Promise<Reply | undefined> {
    while (this.#queue.length === 0 && this.#transport.bufferedChunks > 0) {
      const chunk = await this.#transport.read(signal);
      if (chunk === null) break;
      this.#ingest(chunk);
    }
    return this.#queue.shift();
  }

  #ingest(chunk: Uint8Array): void {
    if (this.#bytesSeen === 0 && chunk.length >= 2 && chunk[0] === 0x16 && chunk[1] === 0x03 && !this.#transport.secure) {
      // A TLS record where a plaintext greeting belongs: the port speaks implicit TLS.
      throw new SmtpError('received TLS bytes on a plaintext connection', {
        kind: 'tls',
        code: 'ERR_SMTP_TLS_EXPECTED',
        retryable: false,
        hint: "this port expects TLS from the first byte: use tls: 'implicit' (usually port 465)",
      });
    }
    const offset = this.#bytesSeen;
    this.#bytesSeen += chunk.length;
    let replies: Reply[];
    try {
      replies = this.#parser.push(chunk);
    } catch (err) {
      if (err instanceof SmtpError) throw err;
      throw new SmtpError(`unparseable reply: ${String(err)}`, {
        kind: 'protocol',
        code: 'ERR_SMTP_PROTOCOL',
        offset,
        cause: err,
      });
    }
    const logged = this.#transcript.enabled;
    for (let i = 0; i < replies.length; i++) {
      const reply = replies[i] as Reply;
      if (logged) {
        const last = reply.lines.length - 1;
        for (let k = 0; k <= last; k++) this.#transcript.emit('S', `${reply.code}${k === last ? ' ' : '-'}${reply.lines[k]}`);
      }
      this.#queue.push(reply);
    }
  }
}
