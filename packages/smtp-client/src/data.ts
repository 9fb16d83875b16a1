import { CrlfCanonicalizer, DataEncoder, MAX_DATA_LINE, frameBdat, SmtpError, toChunks, type EncodedCommand, type Reply } from '@smtpkit/wire';
import { replyError } from './errors.js';
import type { SmtpSession } from './session.js';
import type { SendOptions } from './types.js';

/** BDAT chunks written ahead of their 250 when PIPELINING is on (bounded, RFC 3030 §4.2 + RFC 2920). */
const BDAT_WINDOW = 4;

/** A failure of the caller's body source mid-transfer ends the session (the data stream cannot be undone). */
function bodyError(err: unknown): SmtpError {
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

/** Held-back body bytes up to this size go out in the same write as the end of data. */
const COALESCE_LIMIT = 64 * 1024;

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
async function streamBody(s: SmtpSession, o: SendOptions, encoder: DataEncoder): Promise<Uint8Array | undefined> {
  let held: Uint8Array | undefined;
  for await (const chunk of bodyChunks(s, o)) {
    const out = encodeChunk(s, encoder, chunk);
    if (held && held.length > 0) {
      const bytes = held;
      await s.step('dataBlock', (sig) => s.transport.write(bytes, sig), o.signal);
    }
    held = out;
    o.onProgress?.(encoder.bytesIn);
  }
  return held;
}

/** The transcript of a body's last write: its size, then the next envelope written with it. */
function logEndOfData(s: SmtpSession, bytes: number, next: readonly EncodedCommand[] | undefined): void {
  s.transcript.emit('C', `<message ${bytes} bytes>`);
  for (const c of next ?? []) s.transcript.emit('C', c.logText);
}

/** After 354: the body through wire's {@link DataEncoder} (CRLF, dot-stuffing, terminator), then the final reply. */
export async function sendDataBody(
  s: SmtpSession,
  o: SendOptions,
  mode: { pipelined: boolean },
): Promise<{ final: Reply; bytes: number }> {
  const encoder = new DataEncoder();
  // The last encoded piece is held back so that it, the end of data and the next envelope share one
  // write: one wake-up of the server per message instead of two or three.
  let held: Uint8Array | undefined;
  const data = o.data;
  if (typeof data === 'string' || data instanceof Uint8Array) {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    if (bytes.length > 0) {
      held = encodeChunk(s, encoder, bytes);
      o.onProgress?.(encoder.bytesIn);
    }
  } else {
    held = await streamBody(s, o, encoder);
  }
  if (held && held.length > COALESCE_LIMIT) {
    const bytes = held;
    await s.step('dataBlock', (sig) => s.transport.write(bytes, sig), o.signal);
    held = undefined;
  }
  // RFC 2920 §3.1: the next queued envelope may follow the end of data, in the same write.
  const next = mode.pipelined ? s.takeNextEnvelope() : undefined;
  const tail = encoder.end();
  let end = tail;
  if (next || (held && held.length > 0)) {
    const parts: Uint8Array[] = held && held.length > 0 ? [held, tail] : [tail];
    if (next) for (const c of next.commands) parts.push(c.bytes);
    end = Buffer.concat(parts);
  }
  // One step: the write under the data block deadline, the reply under the end of data one.
  const scope = s.enterStep('dataBlock', o.signal);
  let final: Reply;
  try {
    const sig = s.stepSignal();
    // A reply before our end of data answers nothing: never take it for the final one.
    await s.assertNoUnsolicited(sig);
    await s.transport.write(end, sig);
    o.onEndOfData?.();
    if (next) for (const whole of next.whole) whole.onEndOfData?.();
    if (s.transcript.enabled) logEndOfData(s, encoder.bytesIn, next?.commands);
    s.rearm('dataDone');
    final = s.reader.take() ?? (await s.reader.next(sig));
    if (final.code === 421) throw replyError(final, 'DATA', 'server closing the connection;');
  } catch (err) {
    throw s.stepFailed('dataBlock', err);
  } finally {
    s.exitStep(scope);
  }
  return { final, bytes: encoder.bytesIn };
}

/**
 * RFC 3030 BDAT: the body (CRLF-canonicalised unless BINARYMIME) framed by wire's `frameBdat`.
 * With PIPELINING up to {@link BDAT_WINDOW} chunks go out before their replies; without, lock-step.
 * A refused chunk stops the transfer; outstanding replies are drained, then RSET (RFC 3030 §2).
 */
export async function sendBdat(
  s: SmtpSession,
  o: SendOptions,
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
    if (reply.code !== 250) failed ??= { reply, command: c.logText };
    else if (c.last) final = reply;
  };
  for await (const chunk of frameBdat(source())) {
    await s.step('dataBlock', async (sig) => {
      if (outstanding.length === 0) await s.assertNoUnsolicited(sig);
      // From here the last chunk may reach the server: count the end of data as written.
      if (chunk.last) o.onEndOfData?.();
      s.transcript.emit('C', chunk.command.logText);
      await s.transport.write(chunk.command.bytes, sig);
      if (chunk.data.length > 0) await s.transport.write(chunk.data, sig);
    }, o.signal);
    sent += chunk.data.length;
    if (chunk.data.length > 0) s.transcript.emit('C', `<chunk ${chunk.data.length} bytes>`);
    o.onProgress?.(bytesIn);
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
