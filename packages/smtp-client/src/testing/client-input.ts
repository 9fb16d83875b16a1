import { ConnectionClosedError, FaultScriptError } from './errors.js';

const CRLF_DOT_CRLF = Buffer.from('\r\n.\r\n');

/**
 * What a client sent and a fault script has not read yet, and the bounded waits for more: a command line, a DATA
 * payload up to its terminator, or an exact number of bytes. Every wait ends at its deadline or when `ended()` says
 * the connection is gone.
 */
export class ClientInput {
  #buffer: Buffer = Buffer.alloc(0);
  readonly #waiters = new Set<() => void>();
  readonly #ended: () => boolean;

  constructor(ended: () => boolean) {
    this.#ended = ended;
  }

  /** Bytes from the client. */
  push(data: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? data : Buffer.concat([this.#buffer, data]);
    this.wake();
  }

  /** Takes everything not read yet (plaintext to drop before TLS, RFC 3207 §4.2). */
  takeAll(): Buffer {
    const all = this.#buffer;
    this.#buffer = Buffer.alloc(0);
    return all;
  }

  /** Something changed (input, end of input, close): every wait looks again. */
  wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  /** Waits for more input, the end of input, or the deadline. */
  async wait(deadline: number, what: string): Promise<void> {
    if (this.#ended()) throw new ConnectionClosedError(`connection closed while waiting for ${what}`);
    const left = deadline - Date.now();
    if (left <= 0) throw new FaultScriptError(`no ${what} from the client within the read timeout`);
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, left);
      this.#waiters.add(done);
    });
  }

  /** One line up to LF (a CR before it dropped), decoded as UTF-8. */
  async line(deadline: number, maxBytes: number): Promise<string> {
    for (;;) {
      const lf = this.#buffer.indexOf(0x0a);
      if (lf !== -1) {
        const end = lf > 0 && this.#buffer[lf - 1] === 0x0d ? lf - 1 : lf;
        const line = this.#buffer.subarray(0, end).toString('utf8');
        this.#buffer = this.#buffer.subarray(lf + 1);
        return line;
      }
      if (this.#buffer.length > maxBytes) throw new FaultScriptError(`command line longer than ${maxBytes} bytes`);
      await this.wait(deadline, 'command line');
    }
  }

  /** A DATA payload up to CRLF.CRLF (RFC 5321 §4.1.1.4), without the terminator, still dot-stuffed. */
  async data(deadline: number, maxBytes: number): Promise<Buffer> {
    let searchFrom = 0;
    for (;;) {
      const b = this.#buffer;
      if (b.length >= 3 && b[0] === 0x2e && b[1] === 0x0d && b[2] === 0x0a) {
        this.#buffer = b.subarray(3);
        return Buffer.alloc(0);
      }
      const end = b.indexOf(CRLF_DOT_CRLF, searchFrom);
      if (end !== -1) {
        this.#buffer = b.subarray(end + CRLF_DOT_CRLF.length);
        return Buffer.from(b.subarray(0, end));
      }
      searchFrom = Math.max(0, b.length - (CRLF_DOT_CRLF.length - 1));
      if (b.length > maxBytes) throw new FaultScriptError(`DATA payload longer than ${maxBytes} bytes`);
      await this.wait(deadline, 'DATA payload');
    }
  }

  /** Exactly `n` bytes (a BDAT chunk, RFC 3030 §2). */
  async bytes(n: number, deadline: number): Promise<Buffer> {
    while (this.#buffer.length < n) await this.wait(deadline, `${n} bytes`);
    const out = Buffer.from(this.#buffer.subarray(0, n));
    this.#buffer = this.#buffer.subarray(n);
    return out;
  }
}
