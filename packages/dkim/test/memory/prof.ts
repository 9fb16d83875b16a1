import { Buffer } from 'node:buffer';
import { generateKey, signMessage } from '../../src/index.js';
const raw = Buffer.concat([Buffer.from('From: a@example.com\r\n\r\n'), Buffer.from(`${'QUJD'.repeat(19)}\r\n`.repeat(600_000))]);
const privateKey = generateKey({ type: 'ed25519' }).privateKey;
for (const c of ['simple/simple', 'relaxed/relaxed'] as const) {
  const t = performance.now();
  await signMessage(raw, { signers: { domain: 'example.com', selector: 's', privateKey, canonicalization: c } });
  console.log(c, (raw.length / 1048576).toFixed(0), 'MiB', (performance.now() - t).toFixed(0), 'ms');
}
