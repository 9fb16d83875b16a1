import { createReadStream } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import nodemailer from 'nodemailer';
import MailComposer from 'nodemailer/lib/mail-composer';
import type { Job, JobResult } from '../jobs.js';
import { COMPOSED_HEADERS, FROM, SUBJECT, TO, makeMessage, makeText } from '../message.js';
import { startWindow } from './measure.js';

type SendMany = Extract<Job, { kind: 'send-many' }>;
type SendAttachment = Extract<Job, { kind: 'send-attachment' }>;
type BuildOnly = Extract<Job, { kind: 'build-only' }>;

/**
 * nodemailer's pooled SMTP transport, every message queued at once (raw, or with `composed` built by its own
 * MailComposer per send), one connection reused without limit. With
 * `warmup`, that many messages go first on the same transport, unmeasured.
 */
export async function sendMany(job: SendMany): Promise<JobResult> {
  const raw = makeMessage(job.size);
  const text = makeText(job.size - COMPOSED_HEADERS);
  const transport = nodemailer.createTransport({
    pool: true,
    host: '127.0.0.1',
    port: job.port,
    secure: false,
    ignoreTLS: true,
    maxConnections: job.connections,
    maxMessages: Infinity,
    name: 'bench.localhost',
  });
  const batch = (n: number): Promise<unknown[]> => {
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < n; i++) {
      sends.push(transport.sendMail(job.composed ? { from: FROM, to: [TO], subject: SUBJECT, text } : { envelope: { from: FROM, to: [TO] }, raw }));
    }
    return Promise.all(sends);
  };
  if (job.warmup) await batch(job.warmup);
  const end = startWindow();
  await batch(job.messages);
  const result = end(job.messages, job.messages * raw.length);
  transport.close();
  return result;
}

/** One message with a file attachment streamed from disk, over a plain (non-pooled) transport. */
export async function sendAttachment(job: SendAttachment): Promise<JobResult> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: job.port,
    secure: false,
    ignoreTLS: true,
    name: 'bench.localhost',
  });
  const end = startWindow();
  await transport.sendMail({
    from: FROM,
    to: [TO],
    subject: 'attachment',
    text: 'See the attachment.',
    attachments: [{ filename: 'payload.bin', content: createReadStream(job.file), contentType: 'application/octet-stream' }],
  });
  const result = end(1, 0);
  transport.close();
  return result;
}

/** MailComposer only: the message built into one Buffer (`compile().build()`). */
export async function buildOnly(job: BuildOnly): Promise<JobResult> {
  const content = randomFillSync(Buffer.alloc(job.bytes));
  const end = startWindow();
  const composer = new MailComposer({
    from: FROM,
    to: [TO],
    subject: 'attachment',
    text: 'See the attachment.',
    attachments: [{ filename: 'payload.bin', content, contentType: 'application/octet-stream' }],
  });
  const bytes = await composer.compile().build();
  return end(1, bytes.length);
}
