import { Buffer } from 'node:buffer';
import { SevenBitDowngrade, toChunks, type Capabilities } from '@smtpkit/wire';
import { bodyError } from './errors.js';
import { analyseBody, type BodyInfo } from './envelope.js';
import type { SendOptions } from './types.js';

/**
 * The message has 8-bit octets (known from a body given whole, or said by `eightBit`) and the server does not
 * offer 8BITMIME: it goes converted to 7-bit MIME (RFC 6152 §3). Binary bodies are for BINARYMIME only. A header
 * with UTF-8 in it goes as it is through SMTPUTF8 when the server offers that (RFC 6532 §3), and a server that
 * offers SMTPUTF8 takes 8-bit data (RFC 6531 §3.1 requires it to support 8BITMIME).
 */
export function needsDowngrade(caps: Capabilities, o: SendOptions, info: BodyInfo): boolean {
  if (caps.eightBitMime || (o.binary ?? info.binary) || !(o.eightBit ?? info.eightBit)) return false;
  return !(info.headerEightBit && caps.smtputf8 && o.smtputf8 !== false);
}

/** A body given whole, converted at once: refusals come before anything is sent. */
export function downgradeBody(info: BodyInfo): BodyInfo {
  const down = new SevenBitDowngrade();
  const converted = analyseBody(Buffer.concat([down.push(info.bytes as Uint8Array), down.end()]));
  if (info.messageId) converted.messageId = info.messageId;
  return converted;
}

/**
 * The send with its streamed body converted on the way out, in bounded memory. The message header is read and
 * checked first (up to the end of the header section, which the conversion bounds), so a message that cannot
 * be converted (raw 8-bit header octets, no MIME-Version) is refused before MAIL FROM.
 */
export async function withDowngradedBody(o: SendOptions): Promise<SendOptions> {
  const down = new SevenBitDowngrade();
  const source = toChunks(o.data)[Symbol.asyncIterator]();
  const head: Uint8Array[] = [];
  let ended = false;
  try {
    while (!down.headerChecked && !ended) {
      const r = await source.next();
      if (r.done) {
        head.push(down.end());
        ended = true;
      } else head.push(down.push(r.value));
    }
  } catch (err) {
    throw bodyError(err);
  }
  return { ...o, data: downgraded(head, ended ? undefined : source, down) };
}

async function* downgraded(head: Uint8Array[], source: AsyncIterator<Uint8Array> | undefined, down: SevenBitDowngrade): AsyncGenerator<Uint8Array> {
  for (const out of head) if (out.length > 0) yield out;
  if (!source) return;
  for (let r = await source.next(); !r.done; r = await source.next()) {
    const out = down.push(r.value);
    if (out.length > 0) yield out;
  }
  const tail = down.end();
  if (tail.length > 0) yield tail;
}
