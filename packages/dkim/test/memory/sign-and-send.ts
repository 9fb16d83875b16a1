// Child process of memory.test.ts: builds a ~500 MB message with @smtpkit/mime (an attachment opened
// afresh for each pass), signs it with @smtpkit/dkim (RSA + Ed25519) and sends it with @smtpkit/client
// to the port given, sampling its own RSS. Prints one JSON line: { baseline, peak, size, code }.
import { Buffer } from 'node:buffer';
import { connect } from '@smtpkit/client';
import { buildMessage } from '@smtpkit/mime';
import { dual, generateKey, signMessage } from '../../src/index.js';

const port = Number(process.argv[2]);
const attachmentSize = Number(process.argv[3]);
const CHUNK = 1 << 20;

/** Deterministic bytes, a 1 MiB block at a time, never more than one block alive. */
function* content(): Generator<Uint8Array> {
  const block = Buffer.alloc(CHUNK);
  for (let at = 0; at < attachmentSize; at += CHUNK) {
    const n = Math.min(CHUNK, attachmentSize - at);
    for (let i = 0; i < n; i += 4) block.writeUInt32LE(((at + i) * 2654435761) >>> 0, i);
    yield Buffer.from(block.subarray(0, n)); // a fresh buffer: the consumer may hold it
  }
}

const rsa = generateKey({ type: 'rsa', bits: 2048 }).privateKey;
const ed = generateKey({ type: 'ed25519' }).privateKey;
const signers = dual({ domain: 'example.com', rsa: { selector: 'rsa', privateKey: rsa }, ed25519: { selector: 'ed', privateKey: ed } });

// Warm up: the code paths loaded and compiled before the baseline is taken.
const small = buildMessage({ from: 'a@example.com', to: 'b@example.net', text: 'warm', signing: true });
const session = await connect({ host: '127.0.0.1', port, tls: 'none' });
await session.send({ ...small.envelope, data: await signMessage(small, { signers }) });
global.gc?.();
const baseline = process.memoryUsage.rss();
let peak = baseline;
const timer = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage.rss());
}, 20);

const message = buildMessage({
  from: 'a@example.com',
  to: 'b@example.net',
  subject: 'half a gigabyte',
  text: 'See the attachment.',
  attachments: [{ filename: 'big.bin', content: () => content(), size: attachmentSize }],
  signing: true,
});
const signed = await signMessage(message, { signers });
peak = Math.max(peak, process.memoryUsage.rss());
const result = await session.send({ ...message.envelope, data: signed, size: signed.size });
peak = Math.max(peak, process.memoryUsage.rss());
clearInterval(timer);
await session.quit();
process.stdout.write(`${JSON.stringify({ baseline, peak, size: signed.size, code: result.reply.code })}\n`);
