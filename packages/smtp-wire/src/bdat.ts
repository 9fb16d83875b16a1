import { Buffer } from 'node:buffer';
import { encodeCommand } from './command-encoder.js';
import type { EncodedCommand } from './command-encoder.js';
import { toChunks } from './body-source.js';
import type { BodySource } from './body-source.js';
import { inputError } from './errors.js';

/** Default BDAT chunk size: 1 MiB. */
export const DEFAULT_BDAT_CHUNK_SIZE = 1024 * 1024;

/** One BDAT command and exactly the `command`-announced number of bytes to send after it. */
export interface BdatChunk {
  command: EncodedCommand;
  data: Uint8Array;
  last: boolean;
}

/** Options of {@link frameBdat}. */
export interface FrameBdatOptions {
  /** Octets per BDAT chunk (default 1 MiB); the last chunk may be shorter. */
  chunkSize?: number;
}

function chunkOf(data: Uint8Array, last: boolean): BdatChunk {
  return { command: encodeCommand({ verb: 'BDAT', size: data.length, last }), data, last };
}

/**
 * `BDAT n [LAST]` carrying its n octets as one typed command (RFC 3030 §2): `bytes` is the command line,
 * `data` the chunk, written right after it. RFC 3030 §4.2 lets such a command go in a pipelined group.
 *
 * @example
 * ```ts
 * const cmd = encodeBdatChunk(body, true); // cmd.logText 'BDAT 23 LAST', cmd.data === body
 * socket.write(Buffer.concat([cmd.bytes, cmd.data!]));
 * ```
 */
export function encodeBdatChunk(data: Uint8Array, last: boolean): EncodedCommand {
  const command = encodeCommand({ verb: 'BDAT', size: data.length, last });
  command.data = data;
  return command;
}

/**
 * Frames a body into BDAT chunks (RFC 3030 §2) of exactly `chunkSize` octets; the final one carries
 * `LAST`. When the body ends on a chunk boundary (or is empty) the final chunk is `BDAT 0 LAST`.
 * The bytes are sent as given: canonicalise line endings first (see `CrlfCanonicalizer`) unless the
 * body is BINARYMIME.
 *
 * @example
 * ```ts
 * for await (const { command, data } of frameBdat(body, { chunkSize: 65536 })) {
 *   socket.write(command.bytes); socket.write(data);
 * }
 * ```
 */
export async function* frameBdat(body: BodySource, options: FrameBdatOptions = {}): AsyncIterable<BdatChunk> {
  const size = options.chunkSize ?? DEFAULT_BDAT_CHUNK_SIZE;
  if (!Number.isSafeInteger(size) || size < 1) throw inputError(`chunkSize must be a positive integer, got ${size}`);
  const held: Uint8Array[] = [];
  let heldLen = 0;
  for await (const input of toChunks(body)) {
    let chunk = input;
    while (chunk.length > 0) {
      if (heldLen === 0 && chunk.length >= size) {
        // Whole chunks straight from the input: no copy.
        yield chunkOf(chunk.subarray(0, size), false);
        chunk = chunk.subarray(size);
        continue;
      }
      const take = Math.min(size - heldLen, chunk.length);
      held.push(chunk.subarray(0, take));
      heldLen += take;
      chunk = chunk.subarray(take);
      if (heldLen === size) {
        yield chunkOf(Buffer.concat(held, heldLen), false);
        held.length = 0;
        heldLen = 0;
      }
    }
  }
  yield chunkOf(heldLen === 0 ? new Uint8Array(0) : Buffer.concat(held, heldLen), true);
}
