import { createReadStream } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import { createPool, sendMail, type SendOptions } from '@smtpkit/client';
import { buildMessage } from '@smtpkit/mime';
import type { Job, JobResult } from '../jobs.js';
import { COMPOSED_HEADERS, FROM, SUBJECT, TO, makeMessage, makeText } from '../message.js';
import { startWindow } from './measure.js';

type SendMany = Extract<Job, { kind: 'send-many' }>;
type SendAttachment = Extract<Job, { kind: 'send-attachment' }>;
type BuildOnly = Extract<Job, { kind: 'build-only' }>;

/**
 * smtpkit's pool, every message queued at once (pre-built, or with `composed` built by `buildMessage` per send); `connections` sessions, none recycled during the run. With
 * `warmup`, that many messages go first on the same pool, unmeasured (a long-lived sender's steady state).
 */
export async function sendMany(job: SendMany): Promise<JobResult> {
  const raw = makeMessage(job.size);
  const warmup = job.warmup ?? 0;
  const pool = createPool({
    host: '127.0.0.1',
    port: job.port,
    tls: 'none',
    clientName: 'bench.localhost',
    maxConnections: job.connections,
    maxMessagesPerConnection: warmup + job.messages + 1,
    maxQueue: Math.max(warmup, job.messages) + 1,
    chunking: job.chunking ?? 'auto',
  });
  const text = makeText(job.size - COMPOSED_HEADERS);
  // Composed: what a user writes to send a message (the CLI does the same with a BuiltMessage).
  const composed = (): SendOptions => {
    const message = buildMessage({ from: FROM, to: [TO], subject: SUBJECT, text });
    return { from: message.envelope.from, to: message.envelope.to, data: message, ...(message.size !== undefined ? { size: message.size } : {}) };
  };
  const batch = (n: number): Promise<unknown[]> => {
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < n; i++) sends.push(pool.send(job.composed ? composed() : { from: FROM, to: [TO], data: raw }));
    return Promise.all(sends);
  };
  if (warmup > 0) await batch(warmup);
  const end = startWindow();
  await batch(job.messages);
  const result = end(job.messages, job.messages * raw.length);
  await pool.close();
  return result;
}

/** One message built by @smtpkit/mime around a file stream, sent by sendMail. */
export async function sendAttachment(job: SendAttachment): Promise<JobResult> {
  const end = startWindow();
  const message = buildMessage({
    from: FROM,
    to: [TO],
    subject: 'attachment',
    text: 'See the attachment.',
    attachments: [{ filename: 'payload.bin', content: createReadStream(job.file), contentType: 'application/octet-stream' }],
  });
  await sendMail({
    host: '127.0.0.1',
    port: job.port,
    tls: 'none',
    clientName: 'bench.localhost',
    from: FROM,
    to: [TO],
    data: message,
  });
  return end(1, 0);
}

/** @smtpkit/mime only: the message built into one Buffer (`toBuffer`). */
export async function buildOnly(job: BuildOnly): Promise<JobResult> {
  const content = randomFillSync(Buffer.alloc(job.bytes));
  const end = startWindow();
  const message = buildMessage({
    from: FROM,
    to: [TO],
    subject: 'attachment',
    text: 'See the attachment.',
    attachments: [{ filename: 'payload.bin', content, contentType: 'application/octet-stream' }],
  });
  const bytes = await message.toBuffer();
  return end(1, bytes.length);
}
