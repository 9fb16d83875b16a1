// One measurement in a fresh process: `node worker.mjs <what> <library> <size|count>`. Prints one JSON line.
//   small smtpkit|mailauth N      sign N × the ~2 KB message (RSA-2048 and Ed25519, relaxed/relaxed): µs/message
//   large smtpkit|mailauth|sha256 BYTES  sign one message of BYTES: MiB/s, peak RSS
//     smtpkit: two passes over a generator (signMessage, then the signed stream drained), nothing buffered
//     mailauth: dkimSign over the message in memory (its API takes the whole message)
//     sha256: one SHA-256 pass over the same generator, the floor of any signer (which hashes at least once)
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { signMessage, generateKey, createSigner } from '../dist/index.js';

const require = createRequire(import.meta.url);
const [what, library, arg] = process.argv.slice(2);
const n = Number(arg);
const MiB = 1024 * 1024;
let peak = process.memoryUsage.rss();
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 10);

const rsa = generateKey({ type: 'rsa', bits: 2048 }).privateKey;
const ed = generateKey({ type: 'ed25519' }).privateKey;
const clock = () => new Date('2026-01-01T00:00:00Z');

function smallMessage() {
  const head = 'From: Alice <alice@example.com>\r\nTo: Bob <bob@example.net>\r\nSubject: Bench\r\nDate: Thu, 01 Jan 2026 00:00:00 +0000\r\nMessage-ID: <bench@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n';
  let body = '';
  while (head.length + body.length < 2200) body += 'The quick brown fox jumps over the lazy dog, again and again.\r\n';
  return Buffer.from(head + body);
}

/** The large message: headers, then 76-character base64-looking lines, in 1 MiB blocks. */
function* large(bytes) {
  yield Buffer.from('From: alice@example.com\r\nTo: bob@example.net\r\nSubject: large\r\nMIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n');
  const line = 'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3\r\n';
  const block = Buffer.from(line.repeat(Math.floor(MiB / line.length)));
  for (let sent = 0; sent < bytes; sent += block.length) yield sent + block.length <= bytes ? block : block.subarray(0, bytes - sent);
}

async function mailauthSign(message, privateKey, selector) {
  const { dkimSign } = require('mailauth/lib/dkim/sign');
  const r = await dkimSign(message, { canonicalization: 'relaxed/relaxed', signTime: clock(), signatureData: [{ signingDomain: 'example.com', selector, privateKey }] });
  if (r.errors?.length) throw new Error(JSON.stringify(r.errors));
  return r.signatures;
}

let result;
if (what === 'small') {
  const message = smallMessage();
  const out = {};
  for (const [name, key] of [['rsa', rsa], ['ed25519', ed]]) {
    const signer = createSigner({ domain: 'example.com', selector: name, privateKey: key, clock });
    const once = library === 'smtpkit' ? async () => (await signMessage(message, { signers: signer })).signatures : () => mailauthSign(message, key, name);
    for (let i = 0; i < Math.min(200, n); i++) await once(); // warm
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await once();
    out[name] = Number(process.hrtime.bigint() - t) / 1000 / n;
  }
  result = { library, usPerMessage: out };
} else {
  const t = process.hrtime.bigint();
  if (library === 'smtpkit') {
    const signers = [{ domain: 'example.com', selector: 'rsa', privateKey: rsa, clock }, { domain: 'example.com', selector: 'ed', privateKey: ed, clock }];
    const signed = await signMessage(() => large(n), { signers });
    for await (const chunk of signed.stream()) void chunk; // the second pass, as a send would read it
  } else if (library === 'mailauth') {
    const message = Buffer.concat([...large(n)]);
    await mailauthSign(message, rsa, 'rsa');
    await mailauthSign(message, ed, 'ed');
  } else {
    const h = createHash('sha256');
    for (const chunk of large(n)) h.update(chunk);
    h.digest();
  }
  const seconds = Number(process.hrtime.bigint() - t) / 1e9;
  result = { library, mibPerSecond: n / MiB / seconds, seconds };
}
clearInterval(sampler);
peak = Math.max(peak, process.memoryUsage.rss());
process.stdout.write(`${JSON.stringify({ ...result, peakRssMb: peak / MiB })}\n`);
