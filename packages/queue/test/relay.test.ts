import { afterEach, describe, expect, it } from 'vitest';
import { createQueue, fileStore, type Queue } from '../src/index.js';
import { startLedgerSink, type LedgerSink } from './support/ledger-sink.js';
import { collect, rawMessage, tempDir } from './support/helpers.js';

const fast = { schedule: [50, 100], giveUpAfter: 10_000, jitter: 0.1 };

describe('fileStore + relay worker against the ledger sink', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(options: Partial<Parameters<typeof createQueue>[0]> = {}, sinkFaults = {}) {
    const { dir, remove } = await tempDir();
    cleanups.push(remove);
    const sink: LedgerSink = await startLedgerSink({ faults: sinkFaults });
    cleanups.push(() => sink.close());
    const queue: Queue = await createQueue({ store: fileStore({ dir }), retry: fast, dsn: { reportingMta: 'queue.example.org', from: 'MAILER-DAEMON@example.org' }, ...options });
    cleanups.push(() => queue.close());
    return { dir, sink, queue };
  }

  it('delivers, retries only the 4xx recipient, bounces the 5xx one and sends one DSN', async () => {
    const { sink, queue } = await setup();
    const seen = collect(queue, 2);
    const { id } = await queue.enqueue({
      from: 'sender@example.org',
      to: ['ok@example.test', 'defer2-a@example.test', 'bounce-b@example.test'],
      raw: rawMessage('m1'),
    });
    const w = queue.worker({ deliver: { host: '127.0.0.1', port: sink.port, tls: 'none' } });
    await seen.done; // the message and its DSN
    await w.close();
    const status = await queue.status(id);
    expect(status?.final).toBe(true);
    const byRcpt = Object.fromEntries(status!.recipients.map((r) => [r.recipient, r]));
    expect(byRcpt['ok@example.test']).toMatchObject({ state: 'delivered', attempts: 1, reply: { code: 250 } });
    expect(byRcpt['defer2-a@example.test']).toMatchObject({ state: 'delivered', attempts: 3 });
    expect(byRcpt['bounce-b@example.test']).toMatchObject({ state: 'bounced', attempts: 1, reply: { code: 550, enhanced: '5.1.1' } });
    // ok@ got exactly one copy although its message was tried three times.
    const copies = sink.entries.filter((e) => e.key === '<m1@example.org>');
    expect(copies.map((e) => e.rcpt).sort()).toEqual(['defer2-a@example.test', 'ok@example.test']);
    expect(sink.dsns).toHaveLength(1);
    expect(sink.dsns[0]!.to).toBe('sender@example.org');
    expect(sink.dsns[0]!.body).toMatch(/Content-Type: multipart\/report; report-type=delivery-status/);
    expect(sink.dsns[0]!.body).toMatch(/Final-Recipient: rfc822; bounce-b@example.test\r\nAction: failed\r\nStatus: 5.1.1/);
    const deferred = seen.recipients.filter((e) => e.recipient === 'defer2-a@example.test').map((e) => e.state);
    expect(deferred).toEqual(['in-flight', 'deferred', 'in-flight', 'deferred', 'in-flight', 'delivered']);
  });

  it('sends no DSN for a null sender, and expires recipients after giveUpAfter', async () => {
    const { sink, queue } = await setup({ retry: { schedule: [40], giveUpAfter: 300, jitter: 0 } });
    const seen = collect(queue, 3); // both messages, then the DSN of the second
    await queue.enqueue({ from: '', to: ['defer99-x@example.test'], raw: rawMessage('n1') });
    const { id } = await queue.enqueue({ from: 'sender@example.org', to: ['defer99-y@example.test'], raw: rawMessage('n2') });
    const w = queue.worker({ deliver: { host: '127.0.0.1', port: sink.port, tls: 'none' } });
    await seen.done;
    await w.close();
    expect((await queue.status(id))?.recipients[0]).toMatchObject({ state: 'expired' });
    expect(sink.dsns).toHaveLength(1);
    expect(sink.dsns[0]!.body).toMatch(/Status: 4\.3\.0/);
  });

  it('returns the first id for a repeated idempotency key and sends once', async () => {
    const { sink, queue } = await setup();
    const first = await queue.enqueue({ from: 'a@example.org', to: ['ok@example.test'], raw: rawMessage('i1'), idempotencyKey: 'order-17' });
    const again = await queue.enqueue({ from: 'a@example.org', to: ['ok@example.test'], raw: rawMessage('i1b'), idempotencyKey: 'order-17' });
    expect(again).toEqual({ id: first.id, duplicate: true });
    const seen = collect(queue, 1);
    const w = queue.worker({ deliver: { host: '127.0.0.1', port: sink.port, tls: 'none' } });
    await seen.done;
    const late = await queue.enqueue({ from: 'a@example.org', to: ['ok@example.test'], raw: rawMessage('i1c'), idempotencyKey: 'order-17' });
    expect(late).toEqual({ id: first.id, duplicate: true });
    await w.close();
    expect(sink.entries.map((e) => e.key)).toEqual(['<i1@example.org>']);
  });

  it('rejects bad input with a clear error and stores nothing', async () => {
    const { queue } = await setup();
    await expect(queue.enqueue({ from: 'a@example.org', to: [], raw: 'x' })).rejects.toThrow(/at least one recipient/);
    await expect(queue.enqueue({ from: 'a@example.org', to: ['b@x.test\r\nRCPT TO:<c@y>'], raw: 'x' })).rejects.toThrow(/control character/);
    await expect(queue.enqueue({ from: 'not an address', to: ['b@x.test'], raw: 'x' })).rejects.toThrow(/from is not an address/);
    await expect(queue.enqueue({ from: 'a@example.org', to: ['b@x.test'], raw: '' })).rejects.toThrow(/empty/);
    expect(await queue.list()).toEqual([]);
  });
});

describe('splits, pauses and MX mode', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('after "452 too many recipients" sends the rest at once in new transactions, each recipient once', async () => {
    const { dir, remove } = await tempDir();
    cleanups.push(remove);
    const sink = await startLedgerSink({ faults: { maxRecipients: 2 } });
    cleanups.push(() => sink.close());
    const queue = await createQueue({ store: fileStore({ dir }), retry: { schedule: [60_000], giveUpAfter: 600_000 } });
    cleanups.push(() => queue.close());
    const seen = collect(queue, 1);
    const to = ['a@s.test', 'b@s.test', 'c@s.test', 'd@s.test', 'e@s.test'];
    const { id } = await queue.enqueue({ from: 'x@example.org', to, raw: rawMessage('split') });
    const w = queue.worker({ deliver: { host: '127.0.0.1', port: sink.port, tls: 'none' } });
    await seen.done; // with a 60 s schedule this only finishes in time because 452 is retried at once
    await w.close();
    expect(sink.entries.map((e) => e.rcpt).sort()).toEqual(to);
    expect((await queue.status(id))?.recipients.map((r) => r.attempts)).toEqual([1, 1, 2, 2, 3]);
  });

  it('pauses a destination that cannot be reached: its jobs wait without connecting', async () => {
    const { dir, remove } = await tempDir();
    cleanups.push(remove);
    const { freePort } = await import('@smtpkit/testkit');
    const closedPort = await freePort(); // nothing listens here
    const queue = await createQueue({ store: fileStore({ dir }), retry: { schedule: [10], giveUpAfter: 600_000, jitter: 0 } });
    cleanups.push(() => queue.close());
    const attempts: number[] = [];
    queue.on('recipient', (e) => {
      if (e.state === 'in-flight') attempts.push(Date.now());
    });
    await queue.enqueue({ from: 'x@example.org', to: ['a@down.test'], raw: rawMessage('down') });
    const w = queue.worker({ deliver: { host: '127.0.0.1', port: closedPort, tls: 'none' } });
    await new Promise((r) => setTimeout(r, 2500));
    await w.close();
    // Retried every 10 ms by the schedule, but the destination is paused 1 s, then 2 s: at most 2 attempts in 2.5 s.
    expect(attempts.length).toBeGreaterThanOrEqual(1);
    expect(attempts.length).toBeLessThanOrEqual(2);
    const [status] = await queue.list();
    expect(status?.recipients[0]).toMatchObject({ state: 'deferred' });
    expect(status?.recipients[0]?.reply?.code).toBeUndefined(); // no reply code invented for a refused connection
  });

  it('MX mode: delivers to the domain\'s MX host (resolver injected, sink on 127.0.0.1)', async () => {
    const { dir, remove } = await tempDir();
    cleanups.push(remove);
    const sink = await startLedgerSink();
    cleanups.push(() => sink.close());
    const queue = await createQueue({ store: fileStore({ dir }) });
    cleanups.push(() => queue.close());
    const seen = collect(queue, 1);
    const resolver = {
      resolveMx: async () => [{ exchange: 'mx1.mxmode.test', priority: 10 }],
      resolve4: async () => ['127.0.0.1'],
      resolve6: async () => [],
    };
    const { id } = await queue.enqueue({ from: 'x@example.org', to: ['ok@mxmode.test'], raw: rawMessage('mx') });
    const w = queue.worker({ deliver: 'mx', resolver, mxPort: sink.port });
    await seen.done;
    await w.close();
    expect((await queue.status(id))?.recipients[0]).toMatchObject({ state: 'delivered', reply: { code: 250, host: 'mx1.mxmode.test' } });
    expect(sink.entries.map((e) => e.rcpt)).toEqual(['ok@mxmode.test']);
  });
});
