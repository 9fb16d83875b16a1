import { randomFillSync } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

/** Writes `bytes` octets of incompressible data: one random MiB repeated, so it costs disk time, not CPU. */
export async function writePayload(path: string, bytes: number): Promise<void> {
  const block = randomFillSync(Buffer.alloc(1024 * 1024));
  const out = createWriteStream(path);
  let left = bytes;
  while (left > 0) {
    const piece = left >= block.length ? block : block.subarray(0, left);
    left -= piece.length;
    if (!out.write(piece)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}
