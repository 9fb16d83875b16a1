/**
 * The classic SMTP lab client ("Programming Assignment: SMTP" — Kurose & Ross, ch. 2),
 * one step per protocol exchange, written on @smtpkit/wire's command encoder and reply parser
 * over a plain TCP socket. It prints nothing when all goes well: graders read silence.
 *
 *   node dist/lab.js [port] [mailserver]      (defaults: 1025 127.0.0.1)
 */
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { encodeCommand, ReplyParser, type Command, type Reply } from '@smtpkit/wire';

/** The lab's message body: sent after DATA, exactly as the skeleton has it. */
export const MSG = '\r\n I love computer networks!';
/** RFC 5321 §4.1.1.4: the mail data ends with a line holding only ".". */
export const END_MSG = '\r\n.\r\n';
/** The sender and recipient of the textbook's example dialogue (§2.3.1). */
export const FROM = 'alice@crepes.fr';
export const TO = 'bob@hamburger.edu';

const STEP_TIMEOUT_MS = 30_000;

/** Replies, one at a time, in the order the server sends them. */
class ReplyReader {
  private readonly parser = new ReplyParser();
  private readonly ready: Reply[] = [];
  private waiting: { resolve: (r: Reply) => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;

  constructor(socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      try {
        this.ready.push(...this.parser.push(chunk));
      } catch (error) {
        this.fail(error as Error);
        socket.destroy();
        return;
      }
      this.deliver();
    });
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => this.fail(new Error('connection closed by the server')));
  }

  next(): Promise<Reply> {
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.deliver();
    });
  }

  private deliver(): void {
    if (!this.waiting) return;
    const reply = this.ready.shift();
    if (reply) {
      const w = this.waiting;
      this.waiting = undefined;
      w.resolve(reply);
    } else if (this.failure) {
      const w = this.waiting;
      this.waiting = undefined;
      w.reject(this.failure);
    }
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.deliver();
  }
}

function open(port: number, host: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host });
    socket.setTimeout(STEP_TIMEOUT_MS, () => socket.destroy(new Error(`no reply within ${STEP_TIMEOUT_MS} ms`)));
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Wait for the next reply and check its code, as the skeleton's `if recv[:3] != '250'` does. */
async function expectReply(replies: ReplyReader, code: number, after: string): Promise<Reply> {
  const reply = await replies.next();
  if (reply.code !== code) throw new Error(`${code} reply not received from server after ${after}: ${reply.code} ${reply.text}`);
  return reply;
}

/** Send one command (its bytes from the encoder, which refuses CR/LF and over-long lines) and check the reply. */
async function command(socket: Socket, replies: ReplyReader, cmd: Command, code: number): Promise<Reply> {
  const encoded = encodeCommand(cmd);
  socket.write(encoded.bytes);
  return expectReply(replies, code, encoded.logText);
}

/**
 * Send the lab message to `mailserver:port`: HELO Alice, MAIL FROM, RCPT TO, DATA, the message,
 * the end-of-data line, QUIT; checking 220/250/354/221 along the way.
 * Resolves silently; rejects with an Error naming the step that went wrong.
 */
export async function smtpClient(port = 1025, mailserver = '127.0.0.1'): Promise<void> {
  // Create a socket called clientSocket and establish a TCP connection with mailserver and port.
  const clientSocket = await open(port, mailserver);
  const replies = new ReplyReader(clientSocket);
  try {
    await expectReply(replies, 220, 'connecting');
    await command(clientSocket, replies, { verb: 'HELO', domain: 'Alice' }, 250);
    await command(clientSocket, replies, { verb: 'MAIL', from: FROM }, 250);
    await command(clientSocket, replies, { verb: 'RCPT', to: TO }, 250);
    await command(clientSocket, replies, { verb: 'DATA' }, 354);
    // Send message data, then end it with a single period.
    clientSocket.write(MSG);
    clientSocket.write(END_MSG);
    await expectReply(replies, 250, 'the end of the message');
    await command(clientSocket, replies, { verb: 'QUIT' }, 221);
  } finally {
    clientSocket.end();
    clientSocket.destroy();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const port = process.argv[2] ? Number(process.argv[2]) : 1025;
  smtpClient(port, process.argv[3] ?? '127.0.0.1').catch((error: Error) => {
    process.stderr.write(`lab: ${error.message}\n`);
    process.exitCode = 1;
  });
}
