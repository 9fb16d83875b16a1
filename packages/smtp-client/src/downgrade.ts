import { Buffer } from 'node:buffer';
import { SevenBitDowngrade, toChunks, type BodySource, type Capabilities } from '@smtpkit/wire';
import { analyseBody, type BodyInfo } from './envelope.js';
import type { SendOptions } from './types.js';

/**
 * The message has 8-bit octets (known from a body given whole, or said by `eightBit`) and the server does not
 * offer 8BITMIME: it goes converted to 7-bit MIME (RFC 6152 §3). Binary bodies are for BINARYMIME only.
 */
export function needsDowngrade(caps: Capabilities, o: SendOptions, info: BodyInfo): boolean {
  return !caps.eightBitMime && !(o.binary ?? info.binary) && (o.eightBit ?? info.eightBit);
}

/** A body given whole, converted at once: refusals come before anything is sent. */
export function downgradeBody(info: BodyInfo): BodyInfo {
  const down = new SevenBitDowngrade();
  const converted = analyseBody(Buffer.concat([down.push(info.bytes as Uint8Array), down.end()]));
  if (info.messageId) converted.messageId = info.messageId;
  return converted;
}

/** The send with its streamed body converted on the way out, in bounded memory. */
export function withDowngradedBody(o: SendOptions): SendOptions {
  return { ...o, data: downgraded(o.data) };
}

async function* downgraded(data: BodySource): AsyncGenerator<Uint8Array> {
  const down = new SevenBitDowngrade();
  for await (const chunk of toChunks(data)) {
    const out = down.push(chunk);
    if (out.length > 0) yield out;
  }
  const tail = down.end();
  if (tail.length > 0) yield tail;
}
