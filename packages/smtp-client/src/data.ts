import { CrlfCanonicalizer, MAX_DATA_LINE, frameBdat, isPositiveCompletion, SmtpError, toChunks, type DataEncoder, type EncodedCommand, type Reply } from '@smtpkit/wire';
import { bodyEnded, bodyProgress, type BodyProgress } from './progress.js';
import type { QueuedSend, SmtpSession, WrittenAhead } from './session.js';
import type { SendOptions } from './types.js';

/** BDAT chunks written ahead of their 250 when PIPELINING is on (bounded, RFC 3030 §4.2 + RFC 2920). */
const BDAT_WINDOW = 4;

/** A failure of the caller's body source mid-transfer ends the session (the data stream cannot be undone). */
export function bodyError(err: unknown): SmtpError {
  if (err instanceof SmtpError) return err;
  return new SmtpError(`reading the message body failed: ${err instanceof Error ? err.message : String(err)}`, {
    kind: 'input',
    code: 'ERR_SMTP_BODY',
    retryable: false,
    cause: err,
  });
}

/**
 * Iterate the body, turning its failures into a typed error that ends the session. Reads happen
 * outside any deadline (the caller's source sets its own pace); writes are under `dataBlock`.
 */
async function* bodyChunks(s: SmtpSession, o: SendOptions): AsyncGenerator<Uint8Array> {
  const it = toChunks(o.data)[Symbol.asyncIterator]();
  for (;;) {
    let r: IteratorResult<Uint8Array>;
    try {
      r = await it.next();
    } catch (err) {
      const error = bodyError(err);
      s.fail(error);
      throw error;
    }
    if (r.done) return;
    yield r.value;
  }
}

/** Encode one piece of the body; a failure (a line too long) ends the session, mid-DATA there is no way back. */
function encodeChunk(s: SmtpSession, encoder: DataEncoder, chunk: Uint8Array): Uint8Array {
  try {
    return encoder.push(chunk);
  } catch (err) {
    const error = bodyError(err);
    s.fail(error);
    throw error;
  }
}

/**
 * A streamed body: every encoded piece but the last is written as it comes (under the data block
 * deadline); the last is returned, to share a write with the end of data.
 */
export async function streamDataBody(
  s: SmtpSession,
  o: SendOptions,
  progress: BodyProgress,
  encoder: DataEncoder,
): Promise<Uint8Array | undefined> {
  let held: Uint8Array | undefined;
  for await (const chunk of bodyChunks(s, o)) {
    const out = encodeChunk(s, encoder, chunk);
    if (held && held.length > 0) await writeDataBlock(s, o, held);
    held = out;
    bodyProgress(o, progress, encoder.bytesIn);
  }
  return held;
}

/** A body given whole (its octets), encoded at once: dot-stuffed, CRLF only (RFC 5321 §4.5.2, §2.3.8). */
export function encodeWholeBody(
  s: SmtpSession,
  o: SendOptions,
  progress: BodyProgress,
  encoder: DataEncoder,
  bytes: Uint8Array,
): Uint8Array | undefined {
  if (bytes.length === 0) return undefined;
  const held = encodeChunk(s, encoder, bytes);
  bodyProgress(o, progress, encoder.bytesIn);
  return held;
}

/** Held-back body bytes up to this size go out in the same write as the end of data. */
export const COALESCE_LIMIT = 64 * 1024;

/** Write one block of message data under the data block deadline (RFC 5321 §4.5.3.2.5). */
export async function writeDataBlock(s: SmtpSession, o: SendOptions, bytes: Uint8Array): Promise<void> {
  await s.step('dataBlock', async (sig) => s.transport.write(bytes, sig), o.signal);
}

/** The last write of a DATA body; once it went out, {@link endWritten}. */
export interface EndOfData {
  bytes: Uint8Array;
  /** The next queued send's envelope, written with the end of data. */
  next: WrittenAhead | undefined;
}

/**
 * The end of data (RFC 5321 §4.1.1.4): the held-back last piece of the body, the terminator and, with
 * PIPELINING, the next queued send's envelope (RFC 2920 §3.1), as one write: one wake-up of the server
 * per message instead of two or three.
 */
export function endOfData(s: SmtpSession, encoder: DataEncoder, held: Uint8Array | undefined, pipelined: boolean): EndOfData {
  const next = pipelined ? s.takeNextEnvelope() : undefined;
  if (!next && !(held && held.length > 0)) return { bytes: encoder.end(), next };
  // One plain allocation and copies: this runs for every message.
  let total = encoder.endLength + (held ? held.length : 0);
  if (next) for (let i = 0; i < next.commands.length; i++) total += (next.commands[i] as EncodedCommand).bytes.length;
  const bytes = Buffer.allocUnsafe(total); // from the shared pool: no allocation of its own below 4 KiB
  let at = 0;
  if (held) {
    bytes.set(held, 0);
    at = held.length;
  }
  at = encoder.endInto(bytes, at);
  if (next) {
    for (let i = 0; i < next.commands.length; i++) {
      const c = (next.commands[i] as EncodedCommand).bytes;
      bytes.set(c, at);
      at += c.length;
    }
  }
  return { bytes, next };
}

/** The end of data went out (with `next`, the envelope written with it): the hooks, then the transcript. */
export function endWritten(s: SmtpSession, o: SendOptions, progress: BodyProgress, encoder: DataEncoder, next: WrittenAhead | undefined): void {
  bodyEnded(o, progress);
  if (next) endWrittenAhead(next.whole);
  if (s.transcript.enabled) logEndOfData(s, encoder.bytesIn, next?.commands);
}

/** Queued sends whose whole message went out ahead of their turn (one-write BDAT): their end of data is written. */
export function endWrittenAhead(whole: readonly QueuedSend[]): void {
  for (let i = 0; i < whole.length; i++) {
    const job = whole[i] as QueuedSend;
    bodyEnded(job.send as SendOptions, job);
  }
}

/** The transcript of a body's last write: its size, then the next envelope written with it. */
function logEndOfData(s: SmtpSession, bytes: number, next: readonly EncodedCommand[] | undefined): void {
  s.transcript.emit('C', `<message ${bytes} bytes>`);
  for (const c of next ?? []) s.transcript.emit('C', c.logText);
}

/**
 * RFC 3030 BDAT: the body (CRLF-canonicalised unless BINARYMIME) framed by wire's `frameBdat`.
 * With PIPELINING up to {@link BDAT_WINDOW} chunks go out before their replies; without, lock-step.
 * A refused chunk stops the transfer; outstanding replies are drained, then RSET (RFC 3030 §2).
 */
export async function sendBdat(
  s: SmtpSession,
  o: SendOptions,
  progress: BodyProgress,
  mode: { binary: boolean; pipelined: boolean },
): Promise<{ final: Reply; bytes: number }> {
  const window = mode.pipelined ? BDAT_WINDOW : 1;
  let bytesIn = 0;
  async function* source(): AsyncGenerator<Uint8Array> {
    // RFC 5321 §4.5.3.1.6 holds for BDAT too; only BINARYMIME lifts the line limit (RFC 3030 §3).
    const canon = mode.binary ? null : new CrlfCanonicalizer({ maxLineLength: MAX_DATA_LINE });
    for await (const chunk of bodyChunks(s, o)) {
      bytesIn += chunk.length;
      let out: Uint8Array;
      try {
        out = canon ? canon.push(chunk) : chunk;
      } catch (err) {
        // Chunks already accepted cannot be recalled: end the session so the server drops them.
        const error = bodyError(err);
        s.fail(error);
        throw error;
      }
      if (out.length > 0) yield out;
    }
    const tail = canon?.end();
    if (tail && tail.length > 0) yield tail;
  }
  const outstanding: Array<{ last: boolean; logText: string }> = [];
  let failed: { reply: Reply; command: string } | null = null;
  let final: Reply | null = null;
  let sent = 0;
  const readOne = async () => {
    const c = outstanding.shift() as { last: boolean; logText: string };
    const reply = await s.step(c.last ? 'dataDone' : 'dataBlock', (sig) => s.readReply(sig, c.logText), o.signal);
    if (!isPositiveCompletion(reply)) failed ??= { reply, command: c.logText };
    else if (c.last) final = reply;
  };
  for await (const chunk of frameBdat(source())) {
    await s.step('dataBlock', async (sig) => {
      if (outstanding.length === 0) await s.assertNoUnsolicited(sig);
      // From here the last chunk may reach the server: count the end of data as written.
      if (chunk.last) bodyEnded(o, progress);
      s.transcript.emit('C', chunk.command.logText);
      await s.transport.write(chunk.command.bytes, sig);
      if (chunk.data.length > 0) await s.transport.write(chunk.data, sig);
    }, o.signal);
    sent += chunk.data.length;
    if (chunk.data.length > 0) s.transcript.emit('C', `<chunk ${chunk.data.length} bytes>`);
    bodyProgress(o, progress, bytesIn);
    outstanding.push({ last: chunk.last, logText: chunk.command.logText });
    while (outstanding.length >= window || (chunk.last && outstanding.length > 0)) {
      await readOne();
      if (failed) break;
    }
    if (failed) break;
  }
  while (outstanding.length > 0) await readOne();
  if (failed) {
    const f = failed as { reply: Reply; command: string };
    await s.rset(o.signal);
    return { final: f.reply, bytes: bytesIn };
  }
  s.transcript.emit('*', `message sent in BDAT chunks: ${sent} bytes`);
  return { final: final as unknown as Reply, bytes: bytesIn };
}
