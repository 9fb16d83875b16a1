import { CrlfCanonicalizer, DataEncoder, frameBdat, MAX_DATA_LINE, toChunks, type EncodedCommand, type TransactionAction } from '@smtpkit/wire';
import type { Conversation } from './conversation.js';
import { bodyError } from './errors.js';
import type { SendRun } from './plan.js';
import type { WriteAhead } from './write-ahead.js';
import { bodyEnded, bodyProgress } from './progress.js';

/** BDAT chunks written ahead of their 250 when PIPELINING is on (bounded, RFC 3030 §4.2 + RFC 2920). */
const BDAT_WINDOW = 4;

/** Held-back body bytes up to this size go out in the same write as the end of data. */
const COALESCE_LIMIT = 64 * 1024;

/**
 * Iterate the body, turning its failures into a typed error that ends the session. Reads happen outside any
 * deadline (the caller's source sets its own pace); writes are under `dataBlock`.
 */
async function* bodyChunks(conv: Conversation, run: SendRun): AsyncGenerator<Uint8Array> {
  const it = toChunks(run.o.data)[Symbol.asyncIterator]();
  for (;;) {
    let r: IteratorResult<Uint8Array>;
    try {
      r = await it.next();
    } catch (err) {
      throw conv.fail(bodyError(err));
    }
    if (r.done) return;
    yield r.value;
  }
}

/** One write of message data under the data block deadline (RFC 5321 §4.5.3.2.5). */
async function writeBlock(conv: Conversation, bytes: Uint8Array): Promise<void> {
  const pending = conv.write(bytes, 0, 'dataBlock');
  if (pending) await pending;
}

/**
 * The body after 354 (RFC 5321 §4.1.1.4) through wire's {@link DataEncoder}: CRLF line ends, dot-stuffing
 * (§4.5.2) and the terminator. Every encoded piece but the last is written as it comes; the last one, the
 * terminator and, with PIPELINING, the next queued send's envelope (`ahead`, see write-ahead.ts) share one write: one wake-up of
 * the server per message. Returns the octets of the message as given.
 */
export async function writeDataBody(conv: Conversation, run: SendRun, ahead: WriteAhead | undefined): Promise<number> {
  const encoder = new DataEncoder();
  const { o, progress } = run;
  let held: Uint8Array | undefined;
  try {
    const whole = run.info.bytes;
    if (whole) {
      if (whole.length > 0) held = encoder.push(whole);
      bodyProgress(o, progress, encoder.bytesIn);
    } else {
      for await (const chunk of bodyChunks(conv, run)) {
        const out = encoder.push(chunk);
        if (held && held.length > 0) await writeBlock(conv, held);
        held = out;
        bodyProgress(o, progress, encoder.bytesIn);
      }
    }
  } catch (err) {
    // A line too long, mid-DATA: there is no way back but to end the session.
    throw conv.fail(bodyError(err));
  }
  if (held && held.length > COALESCE_LIMIT) {
    await writeBlock(conv, held);
    held = undefined;
  }
  const next = ahead?.nextEnvelope(run);
  const pending = conv.write(endOfData(encoder, held, next), 1 + (next ? next.length : 0), 'dataBlock');
  if (pending) await pending;
  bodyEnded(o, progress);
  if (conv.transcript.enabled) conv.transcript.emit('C', `<message ${encoder.bytesIn} bytes>`);
  if (next) conv.log(next);
  return encoder.bytesIn;
}

/** The held-back last piece, the terminator and the commands of `next`, in one buffer. */
function endOfData(encoder: DataEncoder, held: Uint8Array | undefined, next: readonly EncodedCommand[] | undefined): Uint8Array {
  if (!next && !(held && held.length > 0)) return encoder.end();
  let total = encoder.endLength + (held ? held.length : 0);
  const commands = next ?? [];
  for (let i = 0; i < commands.length; i++) total += (commands[i] as EncodedCommand).bytes.length;
  const bytes = Buffer.allocUnsafe(total);
  let at = 0;
  if (held) {
    bytes.set(held, 0);
    at = held.length;
  }
  at = encoder.endInto(bytes, at);
  for (let i = 0; i < commands.length; i++) {
    const c = (commands[i] as EncodedCommand).bytes;
    bytes.set(c, at);
    at += c.length;
  }
  return bytes;
}

/**
 * RFC 3030 BDAT: the body (CRLF-canonicalised unless BINARYMIME) in chunks made by the transaction
 * (`tx.bdatChunk`). With PIPELINING up to {@link BDAT_WINDOW} chunks go out before their replies; without,
 * lock-step. Replies go to the transaction as they come; its first action that is not the body's (the end,
 * or the reset after a refused chunk, RFC 3030 §2) is returned, with the octets of the message as given.
 */
export async function writeBdatBody(conv: Conversation, run: SendRun): Promise<{ action: TransactionAction; bytes: number }> {
  const { o, progress, tx } = run;
  const window = run.pipelined ? BDAT_WINDOW : 1;
  let bytesIn = 0;
  async function* canonical(): AsyncGenerator<Uint8Array> {
    const canon = run.prepared.binary ? null : new CrlfCanonicalizer({ maxLineLength: MAX_DATA_LINE });
    for await (const chunk of bodyChunks(conv, run)) {
      bytesIn += chunk.length;
      let out: Uint8Array;
      try {
        out = canon ? canon.push(chunk) : chunk;
      } catch (err) {
        // Chunks already accepted cannot be recalled: end the session so the server drops them.
        throw conv.fail(bodyError(err));
      }
      if (out.length > 0) yield out;
    }
    const tail = canon?.end();
    if (tail && tail.length > 0) yield tail;
  }
  let sent = 0;
  let action: TransactionAction = { type: 'body', via: 'BDAT' };
  for await (const chunk of frameBdat(canonical())) {
    const command = tx.bdatChunk(chunk.data, chunk.last);
    // From here the last chunk may reach the server: count the end of data as written.
    if (chunk.last) bodyEnded(o, progress);
    const pending = conv.send([command], 'dataBlock');
    if (pending) await pending;
    sent += chunk.data.length;
    bodyProgress(o, progress, bytesIn);
    // Read while the window is full, or until the end once the last chunk is out.
    while (action.type === 'read' || tx.outstanding >= window || (chunk.last && tx.outstanding > 0)) {
      const reply = conv.read(tx.awaiting === 'END' ? 'dataDone' : 'dataBlock', command.logText);
      action = tx.receive(reply instanceof Promise ? await reply : reply);
      if (action.type !== 'body' && action.type !== 'read') {
        if (action.type === 'done' && action.outcome.end === 'sent') conv.transcript.emit('*', `message sent in BDAT chunks: ${sent} bytes`);
        return { action, bytes: bytesIn };
      }
    }
  }
  return { action, bytes: bytesIn };
}
