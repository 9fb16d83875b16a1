import { appendFile, readdir, readFile, rename, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import PostalMime from 'postal-mime';
import { afterEach, describe, expect, it } from 'vitest';
import { buildDsn, createQueue, fileStore } from '../src/index.js';
import { decodeLog, encodeRecord } from '../src/file-log.js';
import { tryLock } from '../src/file-lock.js';
import { decodeMessageFile } from '../src/spool-incoming.js';
import type { StoredMessage, WorkerOptions } from '../src/types.js';
import { DestinationGate } from '../src/limits.js';
import { nextAttempt, retryPolicy } from '../src/retry.js';
import { startLedgerSink } from './support/ledger-sink.js';
import { collect, rawMessage, tempDir } from './support/helpers.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('the state log', () => {
  it('stops at a torn or corrupt record', () => {
    const good = encodeRecord({ t: 'd', id: 'a', at: 1 }) + encodeRecord({ t: 'd', id: 'b', at: 2 });
    expect(decodeLog(Buffer.from(good)).records).toHaveLength(2);
    const torn = Buffer.from(good + encodeRecord({ t: 'd', id: 'c', at: 3 }).slice(0, 20));
    expect(decodeLog(torn)).toEqual({ records: [{ t: 'd', id: 'a', at: 1 }, { t: 'd', id: 'b', at: 2 }], goodLength: good.length });
    const flipped = Buffer.from(good.replace('"b"', '"x"'));
    expect(decodeLog(flipped).records).toEqual([{ t: 'd', id: 'a', at: 1 }]);
  });

  it('a spool whose log ends in a torn record restarts with every message intact', async () => {
    const { dir, remove } = await tempDir();
    cleanups.push(remove);
    const sink = await startLedgerSink();
    cleanups.push(() => sink.close());
    const first = await createQueue({ store: fileStore({ dir }) });
    const { id } = await first.enqueue({ from: 'a@example.org', to: ['ok@t.test'], raw: rawMessage('torn') });
    const w = first.worker({ deliver: { host: '127.0.0.1', port: 1, tls: 'none' }, timeouts: { connect: 200 } });
    await w.ready; // takes the message in (logs it), then fails to connect
    await w.close();
    await first.close();
    await appendFile(join(dir, 'state.log'), '0badc0de {"t":"u","id":'); // a crash mid-append
    const second = await createQueue({ store: fileStore({ dir }), retry: { schedule: [10], giveUpAfter: 60_000 } });
    cleanups.push(() => second.close());
    const seen = collect(second, 1);
    const w2 = second.worker({ deliver: { host: '127.0.0.1', port: sink.port, tls: 'none' } });
    await second.retryNow(id);
    await seen.done;
    await w2.close();
    expect((await second.status(id))?.recipients[0]).toMatchObject({ state: 'delivered' });
    expect((await readFile(join(dir, 'state.log'), 'utf8')).includes('0badc0de')).toBe(false);
  });
});

/** Queues messages with no worker running: each lands in `incoming/`, unlogged. */
async function spoolOf(count: number): Promise<{ dir: string; messages: StoredMessage[] }> {
  const { dir, remove } = await tempDir();
  cleanups.push(remove);
  const q = await createQueue({ store: fileStore({ dir }) });
  for (let i = 0; i < count; i++) await q.enqueue({ from: 'a@example.org', to: [`ok${i}@t.test`], raw: rawMessage(`crash-${i}`) });
  await q.close();
  const names = (await readdir(join(dir, 'incoming'))).sort();
  const messages = await Promise.all(names.map(async (n) => decodeMessageFile(await readFile(join(dir, 'incoming', n)), n).message));
  return { dir, messages };
}

/** Starts a worker on a spool and waits until `count` messages finished; returns what the sink got. */
async function deliverAll(dir: string, count: number, onStep?: WorkerOptions['onStep']) {
  const sink = await startLedgerSink();
  cleanups.push(() => sink.close());
  const q = await createQueue({ store: fileStore({ dir }) });
  cleanups.push(() => q.close());
  const seen = collect(q, count);
  const w = q.worker({ deliver: { host: '127.0.0.1', port: sink.port, tls: 'none' }, ...(onStep !== undefined ? { onStep } : {}) });
  await seen.done;
  await w.close();
  return { sink, q, seen };
}

describe('crash windows of the file spool', () => {
  it('finishes a batch logged and half moved from incoming/: each message delivered once', async () => {
    const { dir, messages } = await spoolOf(3);
    // The batch's records are durable; one file was renamed into msg/, two were not (a crash mid-batch).
    await writeFile(join(dir, 'state.log'), messages.map((m) => encodeRecord({ t: 'm', m })).join(''));
    await rename(join(dir, 'incoming', messages[0]!.id), join(dir, 'msg', messages[0]!.id));
    const { sink, q } = await deliverAll(dir, 3);
    expect(sink.entries.map((e) => e.rcpt).sort()).toEqual(['ok0@t.test', 'ok1@t.test', 'ok2@t.test']);
    expect(await readdir(join(dir, 'incoming'))).toEqual([]);
    expect(await readdir(join(dir, 'msg'))).toEqual([]);
    for (const m of messages) expect((await q.status(m.id))?.recipients[0]?.state).toBe('delivered');
  });

  it('adopts a msg/ file no record names, and removes the body of a message already finished', async () => {
    const { dir, messages } = await spoolOf(2);
    const [orphan, finished] = messages as [StoredMessage, StoredMessage];
    // orphan: placed in msg/, then a crash before its record; finished: done, then a crash before the unlink.
    await rename(join(dir, 'incoming', orphan.id), join(dir, 'msg', orphan.id));
    await rename(join(dir, 'incoming', finished.id), join(dir, 'msg', finished.id));
    const delivered = { ...finished, recipients: [{ ...finished.recipients[0]!, state: 'delivered' as const, attempts: 1 }] };
    await writeFile(join(dir, 'state.log'), encodeRecord({ t: 'm', m: delivered }) + encodeRecord({ t: 'd', id: finished.id, at: Date.now() }));
    const { sink, q } = await deliverAll(dir, 1);
    expect(sink.entries.map((e) => e.rcpt)).toEqual([orphan.recipients[0]!.recipient]);
    expect(await readdir(join(dir, 'msg'))).toEqual([]);
    expect((await q.status(orphan.id))?.recipients[0]?.state).toBe('delivered');
    const log = decodeLog(await readFile(join(dir, 'state.log'))).records as Array<{ t: string; m?: StoredMessage }>;
    expect(log.filter((r) => r.t === 'm' && r.m?.id === orphan.id)).toHaveLength(1);
  });

  it('writes the last outcome and the finish in one append; a log holding only the outcome finishes on start', async () => {
    const { dir, messages } = await spoolOf(2);
    const [live, torn] = messages as [StoredMessage, StoredMessage];
    // torn: its final outcome is durable, the finish was not (a crash before it; the body is still in msg/).
    await rename(join(dir, 'incoming', torn.id), join(dir, 'msg', torn.id));
    const outcome = { ...torn.recipients[0]!, state: 'delivered' as const, attempts: 1 };
    await writeFile(join(dir, 'state.log'), encodeRecord({ t: 'm', m: torn }) + encodeRecord({ t: 'u', id: torn.id, u: [outcome] }));
    const finishedWhenPersisted: boolean[] = [];
    const { sink, seen } = await deliverAll(dir, 2, async (step, info) => {
      if (step !== 'persisted') return;
      const records = decodeLog(await readFile(join(dir, 'state.log'))).records as Array<{ t: string; id?: string }>;
      finishedWhenPersisted.push(records.some((r) => r.t === 'd' && r.id === info.id));
    });
    expect(finishedWhenPersisted).toEqual([true]);
    expect(sink.entries.map((e) => e.rcpt)).toEqual([live.recipients[0]!.recipient]); // the torn one is never sent again
    expect(seen.messages.map((e) => e.id).sort()).toEqual([live.id, torn.id].sort());
    expect(await readdir(join(dir, 'msg'))).toEqual([]);
    const log = decodeLog(await readFile(join(dir, 'state.log'))).records as Array<{ t: string; id?: string; u?: Array<{ state: string }> }>;
    const lastTwo = log.filter((r) => r.id === live.id).slice(-2);
    expect(lastTwo.map((r) => r.t)).toEqual(['u', 'd']);
    expect(lastTwo[0]?.u?.[0]?.state).toBe('delivered');
  });
});

describe('log compaction', () => {
  it('drops messages finished longer ago than keepFinishedFor, keeps the live ones, sends nothing again', async () => {
    const { dir, remove } = await tempDir();
    cleanups.push(remove);
    const sink = await startLedgerSink();
    cleanups.push(() => sink.close());
    const options = { dir, compactAfterBytes: 1500, keepFinishedFor: 0 };
    const first = await createQueue({ store: fileStore(options) });
    const seen = collect(first, 6);
    const w = first.worker({ deliver: { host: '127.0.0.1', port: sink.port, tls: 'none' } });
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await first.enqueue({ from: 'a@example.org', to: [`ok${i}@t.test`], raw: rawMessage(`compact-${i}`) })).id);
    await seen.done;
    await w.close();
    const held = await first.enqueue({ from: 'a@example.org', to: ['later@t.test'], raw: rawMessage('compact-held') });
    await first.close();
    const second = await createQueue({ store: fileStore(options) });
    cleanups.push(() => second.close());
    const more = collect(second, 1);
    const w2 = second.worker({ deliver: { host: '127.0.0.1', port: sink.port, tls: 'none' } });
    await more.done;
    await w2.close();
    expect(sink.entries.map((e) => e.rcpt).sort()).toEqual(['later@t.test', ...ids.map((_, i) => `ok${i}@t.test`)].sort());
    const records = decodeLog(await readFile(join(dir, 'state.log'))).records as Array<{ t: string; m?: StoredMessage }>;
    expect(records.filter((r) => r.t === 'm').map((r) => r.m?.id)).toEqual([held.id]);
    expect(await second.status(ids[0]!)).toBeUndefined();
    expect((await second.status(held.id))?.recipients[0]?.state).toBe('delivered');
    expect(await readdir(join(dir, 'msg'))).toEqual([]);
  });
});

describe('the delivery lock', () => {
  it('is exclusive, and taken over from a dead or silent owner', async () => {
    const { dir, remove } = await tempDir();
    cleanups.push(remove);
    const lockDir = join(dir, 'lock');
    const a = await tryLock(lockDir);
    expect(a).toBeDefined();
    expect(await tryLock(lockDir)).toBeUndefined();
    // A silent owner (no heartbeat for longer than the stale time) loses it.
    const [gen] = await readdir(lockDir);
    await utimes(join(lockDir, gen!), new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    const b = await tryLock(lockDir);
    expect(b?.generation).toBe(2);
    await expect(a!.assertHeld()).rejects.toMatchObject({ code: 'ERR_QUEUE_LOCK_LOST' });
    // A dead owner (its PID is gone) loses it at once.
    await writeFile(join(lockDir, 'gen-000000000003'), JSON.stringify({ pid: 2 ** 22 + 12345, host: (await import('node:os')).hostname(), token: 'x' }));
    const c = await tryLock(lockDir);
    expect(c?.generation).toBe(4);
    await c!.release();
    expect((await tryLock(lockDir))?.generation).toBe(5); // released: free at once
  });
});

describe('retry schedule and limits', () => {
  it('follows the schedule with jitter, repeats the last step, and gives up at the deadline', () => {
    const policy = retryPolicy({ schedule: [1000, 5000], giveUpAfter: 20_000, jitter: 0.1 });
    expect(nextAttempt(policy, 1, 0, 0, () => 0.5)).toBe(1000);
    expect(nextAttempt(policy, 1, 0, 0, () => 0)).toBe(900);
    expect(nextAttempt(policy, 1, 0, 0, () => 1)).toBe(1100);
    expect(nextAttempt(policy, 7, 0, 10_000, () => 0.5)).toBe(15_000);
    expect(nextAttempt(policy, 7, 0, 18_000, () => 0.5)).toBe(20_000); // clamped: one last try at the deadline
    expect(nextAttempt(policy, 7, 0, 20_000, () => 0.5)).toBeUndefined();
    expect(() => retryPolicy({ schedule: [] })).toThrow(/retry.schedule/);
    expect(() => retryPolicy({ jitter: 2 })).toThrow(/retry.jitter/);
  });

  it('gates sessions, new sessions per minute and messages per second', () => {
    const gate = new DestinationGate({ sessions: 2, newSessionsPerMinute: 3, messagesPerSecond: 2 });
    gate.opened(0);
    gate.opened(0);
    expect(gate.waitToOpen(0)).toBe(Infinity);
    gate.closed();
    gate.opened(10);
    gate.closed();
    expect(gate.waitToOpen(20)).toBe(59_980); // three opened in the last minute
    gate.started(0);
    gate.started(100);
    expect(gate.waitToSend(500)).toBe(500);
    expect(gate.waitToSend(1000)).toBe(0);
    gate.signal('throttled', 2000);
    expect(gate.waitToSend(2000)).toBe(1000);
  });

  it('rejects bad limits', async () => {
    const { dir, remove } = await tempDir();
    cleanups.push(remove);
    await expect(createQueue({ store: fileStore({ dir }), limits: { default: { sessions: 0 } } })).rejects.toThrow(/limits.default.sessions must be a positive integer/);
    await expect(createQueue({ store: fileStore({ dir }), limits: { x: { speed: 1 } as never } })).rejects.toThrow(/unknown limit "speed"/);
  });
});

describe('DSN', () => {
  it('is an RFC 3464 multipart/report an independent parser reads', async () => {
    const original = rawMessage('orig', 'bob@example.com');
    const dsn = buildDsn(
      { id: 'q1', from: 'alice@example.org', enqueuedAt: Date.UTC(2026, 0, 2), recipients: [] },
      [
        { recipient: 'bob@example.com', state: 'bounced', attempts: 1, reply: { code: 550, enhanced: '5.1.1', text: 'no such user', host: 'mx.example.com' } },
        { recipient: 'carol@example.com', state: 'expired', attempts: 9, reply: { code: 451, text: 'try later', host: 'mx.example.com' } },
      ],
      Buffer.from(original),
      { reportingMta: 'queue.example.org', from: 'MAILER-DAEMON@example.org' },
    );
    const text = await dsn.toString();
    expect(text).toMatch(/^Content-Type: multipart\/report; report-type=delivery-status;\s+boundary="smtpkit-report-/m);
    const parsed = await PostalMime.parse(text);
    expect(parsed.to?.[0]?.address).toBe('alice@example.org');
    expect(parsed.text).toMatch(/<bob@example.com>: 550 no such user/);
    const status = parsed.attachments.find((a) => a.mimeType === 'message/delivery-status');
    const fields = Buffer.from(status!.content as ArrayBuffer).toString('utf8').replace(/\r\n/g, '\n');
    expect(fields).toContain('Reporting-MTA: dns; queue.example.org\n');
    expect(fields).toContain('Final-Recipient: rfc822; bob@example.com\nAction: failed\nStatus: 5.1.1\nRemote-MTA: dns; mx.example.com\nDiagnostic-Code: smtp; 550 no such user\n');
    // Expired without an enhanced code: 4.4.7, delivery time expired (RFC 3463 §3.5).
    expect(fields).toContain('Final-Recipient: rfc822; carol@example.com\nAction: failed\nStatus: 4.4.7\n');
    const headers = parsed.attachments.find((a) => a.mimeType === 'text/rfc822-headers');
    expect(Buffer.from(headers!.content as ArrayBuffer).toString('utf8')).toContain('Message-ID: <orig@example.org>');
  });
});
