import { connect, type Socket } from 'node:net';
import type { Job, JobResult } from '../jobs.js';
import { FROM, TO, makeMessage } from '../message.js';
import { startWindow } from './measure.js';

type SendMany = Extract<Job, { kind: 'send-many' }>;

/** Replies wanted for a transaction's envelope when it goes out as one pipelined group (RFC 2920 §3.1). */
const ENVELOPE_REPLIES = [250, 250, 354] as const;

/**
 * The reference point of scenarios A and B, no SMTP client: the least a Node program does to send these
 * messages. Bytes built once; per connection EHLO, then each message's end of data goes out in one write with
 * the next message's MAIL, RCPT and DATA (RFC 2920 §3.1), one round trip per message; replies are split into
 * lines and their codes checked, nothing else. What smtpkit adds over this is its cost.
 */
export async function sendMany(job: SendMany): Promise<JobResult> {
  const raw = makeMessage(job.size);
  const envelope = Buffer.from(`MAIL FROM:<${FROM}>\r\nRCPT TO:<${TO}>\r\nDATA\r\n`, 'latin1');
  // The bench's messages have CRLF line ends and no line starting with "." (see makeMessage): sent as they are.
  const body = Buffer.concat([raw, Buffer.from('.\r\n', 'latin1')]);
  const between = Buffer.concat([body, envelope]);
  const shares = Array.from({ length: job.connections }, (_, i) =>
    Math.floor(job.messages / job.connections) + (i < job.messages % job.connections ? 1 : 0),
  );
  const end = startWindow();
  await Promise.all(shares.filter((n) => n > 0).map((n) => connection(job.port, n, envelope, body, between)));
  return end(job.messages, job.messages * raw.length);
}

/** One connection sending `count` messages; rejects on any reply it did not expect. */
function connection(port: number, count: number, envelope: Buffer, body: Buffer, between: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({ host: '127.0.0.1', port });
    socket.setNoDelay(true);
    // The replies expected, in order; each message adds its final 250 and the next envelope's three.
    const expected: number[] = [220];
    let stage: 'greeting' | 'ehlo' | 'sending' | 'quit' = 'greeting';
    let sent = 0;
    let pending = '';
    let pipelining = false;
    const fail = (error: Error): void => {
      socket.destroy();
      reject(error);
    };
    const onReply = (code: number, text: string): void => {
      const want = expected.shift();
      if (code !== want) return fail(new Error(`expected ${want}, got ${text}`));
      if (expected.length > 0) return;
      if (stage === 'greeting') {
        stage = 'ehlo';
        expected.push(250);
        socket.write('EHLO bench.localhost\r\n');
      } else if (stage === 'ehlo') {
        // Writing ahead of the replies needs the server's consent (RFC 2920 §3).
        if (!pipelining) return fail(new Error('the server does not offer PIPELINING'));
        stage = 'sending';
        expected.push(...ENVELOPE_REPLIES);
        socket.write(envelope);
      } else if (stage === 'sending') {
        sent++;
        if (sent < count) {
          expected.push(250, ...ENVELOPE_REPLIES);
          socket.write(between);
        } else {
          stage = 'quit';
          expected.push(250, 221);
          socket.write(Buffer.concat([body, Buffer.from('QUIT\r\n', 'latin1')]));
        }
      } else {
        socket.end();
        resolve();
      }
    };
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      let at = 0;
      for (let eol = pending.indexOf('\r\n'); eol !== -1; eol = pending.indexOf('\r\n', at)) {
        const line = pending.slice(at, eol);
        at = eol + 2;
        if (stage === 'ehlo' && line.slice(4).toUpperCase() === 'PIPELINING') pipelining = true;
        // A multi-line reply ends with the line whose code is followed by a space (RFC 5321 §4.2.1).
        if (line.charAt(3) !== '-') onReply(Number(line.slice(0, 3)), line);
      }
      pending = pending.slice(at);
    });
    socket.once('error', fail);
    socket.once('close', () => {
      if (stage !== 'quit' || expected.length > 0) reject(new Error(`connection closed after ${sent} of ${count} messages`));
    });
  });
}
