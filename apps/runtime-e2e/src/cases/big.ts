import { createHash } from 'node:crypto';
import { sendMail } from '@smtpkit/client';
import { buildMessage } from '@smtpkit/mime';
import type { E2eContext } from '../context.js';
import { check, checkEqual, defineCase } from '../harness.js';

const MIB = 1024 * 1024;
const ATTACHMENT = 100 * MIB;
/**
 * Peak RSS growth allowed while 100 MiB (137 MiB as base64) go through: half of what holding the attachment
 * and its encoding would take. Deno's collector runs late (measured peak about 78 MiB, Node 17, Bun 33).
 */
const RSS_BUDGET = 120 * MIB;

/** 100 MiB of non-repeating-looking bytes, made 64 KiB at a time (nothing holds the whole). */
async function* bytes(total: number): AsyncGenerator<Uint8Array> {
  const block = new Uint8Array(64 * 1024);
  for (let sent = 0, n = 0; sent < total; sent += block.length, n++) {
    for (let i = 0; i < block.length; i += 4) block[i] = (n * 31 + i) & 0xff;
    yield block.slice(0, Math.min(block.length, total - sent));
  }
}

export const bigCases = [
  defineCase<E2eContext>(
    'a 100 MiB attachment, streamed: same bytes on the server, memory flat',
    async (ctx) => {
      const token = ctx.token('big');
      const message = buildMessage({
        from: 'sender@example.com',
        to: `${token}@example.com`,
        subject: token,
        text: 'A large attachment.',
        attachments: [{ filename: 'big.bin', content: bytes(ATTACHMENT), size: ATTACHMENT }],
      });
      const hash = createHash('sha256');
      let sent = 0;
      let peak = 0;
      const base = process.memoryUsage().rss;
      async function* hashed(): AsyncGenerator<Uint8Array> {
        for await (const chunk of message.stream()) {
          hash.update(chunk);
          sent += chunk.length;
          if ((sent & (8 * MIB - 1)) < chunk.length) peak = Math.max(peak, process.memoryUsage().rss - base);
          yield chunk;
        }
      }
      await sendMail({
        host: '127.0.0.1',
        port: ctx.port('plain'),
        tls: 'none',
        from: message.envelope.from,
        to: message.envelope.to,
        data: hashed(),
        ...(message.size !== undefined ? { size: message.size } : {}),
      });
      checkEqual(sent, message.size, 'octets streamed vs BuiltMessage.size');
      const [got] = await ctx.messages(token);
      checkEqual(got?.size, sent, 'octets the server received');
      checkEqual(got?.sha256, hash.digest('hex'), 'SHA-256 of the received message');
      console.log(`      ${(sent / MIB).toFixed(1)} MiB on the wire, peak RSS growth ${(peak / MIB).toFixed(1)} MiB`);
      check(peak < RSS_BUDGET, `peak RSS grew by ${(peak / MIB).toFixed(1)} MiB (budget ${RSS_BUDGET / MIB} MiB)`);
    },
    180_000,
  ),
];
