import { connect, type Socket } from 'node:net';
import {
  DataEncoder,
  ReplyParser,
  encodeCommand,
  parseEhlo,
  type Capabilities,
  type ClientTransaction,
  type Reply,
  type TransactionOutcome,
} from '@smtpkit/wire';

/**
 * wire's ClientTransaction over a bare socket, with nothing of the client in between: the least I/O that lets a
 * test drive the state machine against a real server (Postfix smtpd, Dovecot LMTP). Every wait is bounded.
 */
export class RawConversation {
  readonly #socket: Socket;
  readonly #parser = new ReplyParser();
  readonly #ready: Reply[] = [];
  #waiter: (() => void) | undefined;
  #failure: Error | undefined;
  caps: Capabilities | undefined;
  /** Every line written (data as `<chunk n bytes>` / `<message n bytes>`), for failure messages. */
  readonly lines: string[] = [];

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => {
      try {
        this.#ready.push(...this.#parser.push(chunk));
      } catch (err) {
        this.#failure = err as Error;
      }
      this.#waiter?.();
    });
    socket.on('close', () => {
      this.#failure ??= new Error(`connection closed after ${JSON.stringify(this.lines)}`);
      this.#waiter?.();
    });
    socket.on('error', (err) => {
      this.#failure = err;
      this.#waiter?.();
    });
  }

  /** Connects, reads the greeting, says EHLO (or LHLO, RFC 2033 §4.1) and keeps the capabilities. */
  static async open(port: number, hello: 'EHLO' | 'LHLO' = 'EHLO'): Promise<RawConversation> {
    const socket = connect({ host: '127.0.0.1', port });
    const c = new RawConversation(socket);
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const greeting = await c.next();
    if (greeting.code !== 220) throw new Error(`greeting ${greeting.code} ${greeting.text}`);
    c.write(encodeCommand({ verb: hello, domain: 'client.example' }).bytes, hello);
    const reply = await c.next();
    if (reply.code !== 250) throw new Error(`${hello} refused: ${reply.code} ${reply.text}`);
    c.caps = parseEhlo(reply);
    return c;
  }

  /** The next reply, within 10 s. */
  async next(): Promise<Reply> {
    const deadline = Date.now() + 10_000;
    while (this.#ready.length === 0) {
      if (this.#failure) throw this.#failure;
      if (Date.now() > deadline) throw new Error(`no reply within 10 s after ${JSON.stringify(this.lines)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1000);
        this.#waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#waiter = undefined;
    }
    return this.#ready.shift() as Reply;
  }

  write(bytes: Uint8Array, line: string): void {
    this.lines.push(line);
    this.#socket.write(bytes);
  }

  /**
   * Runs `tx` to its end: groups as the machine gives them, the DATA body dot-stuffed by DataEncoder, a streamed
   * BDAT body in `chunkSize` chunks from `rest` (the body after any chunk that went with the envelope).
   */
  async run(tx: ClientTransaction, body: { data?: Uint8Array; rest?: Uint8Array; chunkSize?: number }): Promise<TransactionOutcome> {
    let action = tx.start();
    for (let step = 0; step < 1000; step++) {
      switch (action.type) {
        case 'write':
        case 'reset':
          this.write(Buffer.concat(action.commands.flatMap((c) => (c.data ? [c.bytes, c.data] : [c.bytes]))), action.commands.map((c) => c.logText).join(' | '));
          action = tx.receive(await this.next());
          break;
        case 'read':
          action = tx.receive(await this.next());
          break;
        case 'body':
          action = action.via === 'DATA' ? await this.#dataBody(tx, body.data ?? new Uint8Array(0)) : await this.#bdatBody(tx, body.rest ?? new Uint8Array(0), body.chunkSize ?? 1024);
          break;
        case 'violation':
          throw action.error;
        case 'done':
          return action.outcome;
      }
    }
    throw new Error('no end after 1000 steps');
  }

  async #dataBody(tx: ClientTransaction, data: Uint8Array) {
    const encoder = new DataEncoder();
    this.write(Buffer.concat([encoder.push(data), encoder.end()]), `<message ${data.length} bytes>`);
    return tx.receive(await this.next());
  }

  async #bdatBody(tx: ClientTransaction, rest: Uint8Array, chunkSize: number) {
    for (let at = 0; ; at += chunkSize) {
      const data = rest.subarray(at, at + chunkSize);
      const command = tx.bdatChunk(data, at + chunkSize >= rest.length);
      this.write(Buffer.concat([command.bytes, data]), `${command.logText} <chunk ${data.length} bytes>`);
      const action = tx.receive(await this.next());
      if (action.type !== 'body') return action;
    }
  }

  /** QUIT, the 221, and the socket closed. */
  async quit(): Promise<void> {
    this.write(encodeCommand({ verb: 'QUIT' }).bytes, 'QUIT');
    await this.next().catch(() => undefined);
    this.#socket.destroy();
  }

  destroy(): void {
    this.#socket.destroy();
  }
}
