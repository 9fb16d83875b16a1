import { describe, expect, it } from 'vitest';
import { handshake, resolveConnectOptions } from '../src/connect.js';
import { MemoryTransport } from '../src/memory-transport.js';
import type { ConnectOptions, Session } from '../src/types.js';
import { rejection } from './helpers/rejection.js';

/** An in-memory server answering each command line through `answer` (BDAT payloads skipped by size). */
function fakeServer(ehlo: string[], answer: (command: string, n: number) => string | undefined) {
  const t = new MemoryTransport();
  let buf = Buffer.alloc(0);
  let skip = 0;
  let inData = false;
  const commands: string[] = [];
  t.onWrite = (bytes) => {
    buf = Buffer.concat([buf, bytes]);
    for (;;) {
      if (skip > 0) {
        const n = Math.min(skip, buf.length);
        skip -= n;
        buf = buf.subarray(n);
        if (skip > 0) return;
      }
      const eol = buf.indexOf('\r\n');
      if (eol === -1) return;
      const line = buf.subarray(0, eol).toString('latin1');
      buf = buf.subarray(eol + 2);
      if (inData) {
        // Message lines get no reply; the lone "." ends the data (dot-stuffed, so unambiguous).
        if (line !== '.') continue;
        inData = false;
        const reply = answer('.', commands.length);
        if (reply) queueMicrotask(() => t.push(reply));
        continue;
      }
      commands.push(line);
      const bdat = /^BDAT (\d+)/.exec(line);
      if (bdat) skip = Number(bdat[1]);
      const reply = line.startsWith('EHLO')
        ? ehlo.map((k, i) => `250${i === ehlo.length - 1 ? ' ' : '-'}${k}\r\n`).join('')
        : answer(line, commands.length);
      if (line === 'DATA' && reply?.startsWith('354')) inData = true;
      if (reply) queueMicrotask(() => t.push(reply));
    }
  };
  t.push('220 fake ESMTP\r\n');
  return { t, commands };
}

async function open(t: MemoryTransport, extra: Partial<ConnectOptions> = {}): Promise<Session> {
  const o: ConnectOptions = { host: 'fake', tls: 'none', timeouts: { greeting: 2000, mail: 2000, rcpt: 2000, dataInit: 2000, dataBlock: 2000, dataDone: 2000, command: 2000 }, ...extra };
  return handshake(t, o, resolveConnectOptions(o), null);
}


const ok = (line: string) => (line === 'QUIT' ? '221 bye\r\n' : line === 'DATA' ? '354 go\r\n' : '250 ok\r\n');
const mib = (n: number) => `${'x'.repeat(510)}\r\n`.repeat(2048 * n);

describe('BDAT (RFC 3030)', () => {
  it('pipelined chunks; a refused chunk stops the transfer, outstanding replies are drained, then RSET', async () => {
    let bdats = 0;
    let afterReset = false;
    const { t, commands } = fakeServer(['fake', 'PIPELINING', 'CHUNKING'], (line) => {
      if (line === 'RSET') afterReset = true;
      if (line.startsWith('BDAT') && !afterReset) {
        bdats++;
        return bdats === 2 ? '554 5.6.0 content refused\r\n' : bdats > 2 ? '503 5.5.1 no transaction\r\n' : '250 ok\r\n';
      }
      return ok(line);
    });
    const s = await open(t);
    const e = await rejection(s.send({ from: 'a@example.com', to: ['b@example.net'], data: mib(8) }));
    expect(e.replyCode).toBe(554);
    expect(s.usable).toBe(true);
    const sent = commands.filter((c) => c.startsWith('BDAT')).length;
    expect(sent).toBeLessThanOrEqual(2 + 4); // never more than the window past the refusal
    expect(commands.at(-1)).toBe('RSET');
    const r = await s.send({ from: 'a@example.com', to: ['b@example.net'], data: 'Subject: ok\r\n\r\nfine\r\n' });
    expect(commands.at(-1)).toBe('BDAT 21 LAST');
    expect(r.reply.code).toBe(250);
    await s.quit();
  });

  it('without PIPELINING each chunk waits for its 250', async () => {
    const { t, commands } = fakeServer(['fake', 'CHUNKING'], ok);
    const s = await open(t);
    const data = mib(2);
    const r = await s.send({ from: 'a@example.com', to: ['b@example.net'], data });
    expect(r.bytes).toBe(data.length);
    expect(commands.filter((c) => c.startsWith('BDAT'))).toEqual(['BDAT 1048576', 'BDAT 1048576', 'BDAT 0 LAST']);
    await s.quit();
  });

  it("chunking: 'never' uses DATA even when CHUNKING is offered", async () => {
    const { t, commands } = fakeServer(['fake', 'CHUNKING'], ok);
    const s = await open(t, { chunking: 'never' });
    await s.send({ from: 'a@example.com', to: ['b@example.net'], data: 'Subject: x\r\n\r\ny\r\n' });
    expect(commands).toContain('DATA');
    await s.quit();
  });
});

describe('transaction edge cases', () => {
  it('354 although every recipient was refused: protocol error, connection dropped', async () => {
    const { t } = fakeServer(['fake', 'PIPELINING'], (line) => (line.startsWith('RCPT') ? '550 no\r\n' : ok(line)));
    const s = await open(t);
    const e = await rejection(s.send({ from: 'a@example.com', to: ['b@example.net'], data: 'x\r\n' }));
    expect(e.kind).toBe('protocol');
    expect(s.usable).toBe(false);
    expect(t.destroyed).toBe(true);
  });

  it('a body source that throws mid-DATA ends the session with a typed input error', async () => {
    const { t } = fakeServer(['fake'], ok);
    const s = await open(t);
    async function* broken() {
      yield Buffer.from('Subject: x\r\n\r\n');
      throw new Error('disk on fire');
    }
    const e = await rejection(s.send({ from: 'a@example.com', to: ['b@example.net'], data: broken() }));
    expect(e.code).toBe('ERR_SMTP_BODY');
    expect(s.usable).toBe(false);
  });

  it('all-or-nothing with PIPELINING keeps DATA out of the group, so a refusal costs only RSET', async () => {
    const { t, commands } = fakeServer(['fake', 'PIPELINING'], (line) => (line.includes('bad@') ? '550 no\r\n' : ok(line)));
    const s = await open(t);
    const e = await rejection(s.send({ from: 'a@example.com', to: ['ok@example.net', 'bad@example.net'], data: 'x\r\n', partial: 'all-or-nothing' }));
    expect(e.code).toBe('ERR_SMTP_RECIPIENTS_REJECTED');
    expect(commands).not.toContain('DATA');
    expect(commands.at(-1)).toBe('RSET');
    const r = await s.send({ from: 'a@example.com', to: ['ok@example.net'], data: 'x\r\n', partial: 'all-or-nothing' });
    expect(r.accepted).toEqual(['ok@example.net']);
    await s.quit();
  });

  it('a failed RSET makes the session unusable', async () => {
    const { t } = fakeServer(['fake'], (line) => (line === 'RSET' ? '500 what\r\n' : ok(line)));
    const s = await open(t);
    await rejection(s.reset());
    expect(s.usable).toBe(false);
  });

  it('DSN: RET/ENVID on MAIL, NOTIFY and per-recipient ORCPT on RCPT', async () => {
    const { t, commands } = fakeServer(['fake', 'DSN'], ok);
    const s = await open(t);
    await s.send({
      from: 'a@example.com',
      to: ['b@example.net', 'c@example.net'],
      data: 'x\r\n',
      dsn: { ret: 'HDRS', envid: 'id+1', notify: ['FAILURE', 'DELAY'], orcpt: true },
    });
    expect(commands[1]).toBe('MAIL FROM:<a@example.com> RET=HDRS ENVID=id+2B1');
    expect(commands[2]).toBe('RCPT TO:<b@example.net> NOTIFY=FAILURE,DELAY ORCPT=rfc822;b@example.net');
    expect(commands[3]).toBe('RCPT TO:<c@example.net> NOTIFY=FAILURE,DELAY ORCPT=rfc822;c@example.net');
    await s.quit();
  });
});

describe('queued sends with PIPELINING (RFC 2920 §3.1)', () => {
  it("the next envelope goes out in the same write as the previous message's end of data", async () => {
    const { t, commands } = fakeServer(['fake', 'PIPELINING'], (line) => (line === '.' ? '250 queued\r\n' : ok(line)));
    const s = await open(t);
    const sends = [1, 2, 3].map((i) => s.send({ from: 'a@example.com', to: [`r${i}@example.net`], data: `Subject: ${i}\r\n\r\nbody\r\n` }));
    const results = await Promise.all(sends);
    expect(results.map((r) => r.accepted[0])).toEqual(['r1@example.net', 'r2@example.net', 'r3@example.net']);
    const writes = t.writes.map((w) => (w === 'TLS' ? w : Buffer.from(w).toString('latin1')));
    // A small body, its end of data and the next envelope: one write.
    expect(writes).toContain('Subject: 1\r\n\r\nbody\r\n.\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<r2@example.net>\r\nDATA\r\n');
    expect(writes).toContain('Subject: 2\r\n\r\nbody\r\n.\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<r3@example.net>\r\nDATA\r\n');
    expect(writes).toContain('Subject: 3\r\n\r\nbody\r\n.\r\n');
    expect(commands.filter((c) => c.startsWith('MAIL'))).toHaveLength(3);
    await s.quit();
  });

  it('a queued send aborted before its turn rejects alone; the session carries on', async () => {
    const { t, commands } = fakeServer(['fake', 'PIPELINING'], (line) => (line === '.' ? '250 queued\r\n' : ok(line)));
    const s = await open(t);
    const controller = new AbortController();
    const first = s.send({ from: 'a@example.com', to: ['r1@example.net'], data: 'one\r\n' });
    const second = s.send({ from: 'a@example.com', to: ['r2@example.net'], data: 'two\r\n', signal: controller.signal });
    const third = s.send({ from: 'a@example.com', to: ['r3@example.net'], data: 'three\r\n' });
    controller.abort();
    await expect(second).rejects.toMatchObject({ kind: 'aborted' });
    expect((await first).accepted).toEqual(['r1@example.net']);
    expect((await third).accepted).toEqual(['r3@example.net']);
    expect(s.usable).toBe(true);
    expect(commands.filter((c) => c.startsWith('RCPT'))).toEqual(['RCPT TO:<r1@example.net>', 'RCPT TO:<r3@example.net>']);
    await s.quit();
  });

  it('a refused message does not disturb the envelope written after it', async () => {
    let dots = 0;
    const { t } = fakeServer(['fake', 'PIPELINING'], (line) =>
      line === '.' ? (++dots === 1 ? '554 5.7.1 spam\r\n' : '250 queued\r\n') : ok(line),
    );
    const s = await open(t);
    const first = s.send({ from: 'a@example.com', to: ['b@example.net'], data: 'Subject: 1\r\n\r\nspam\r\n' });
    const second = s.send({ from: 'a@example.com', to: ['b@example.net'], data: 'Subject: 2\r\n\r\nham\r\n' });
    const e = await rejection(first);
    expect(e.replyCode).toBe(554);
    expect((await second).reply.text).toBe('queued');
    expect(s.usable).toBe(true);
    await s.quit();
  });
});

describe('BINARYMIME and long AUTH payloads', () => {
  it('a binary body goes with BODY=BINARYMIME over BDAT, bytes unchanged (no CRLF canonicalisation)', async () => {
    const { t, commands } = fakeServer(['fake', 'PIPELINING', 'CHUNKING', 'BINARYMIME'], ok);
    const s = await open(t);
    const data = Uint8Array.from([0x41, 0x00, 0x0a, 0x0d, 0xff, 0x2e, 0x0a]);
    await s.send({ from: 'a@example.com', to: ['b@example.net'], data });
    expect(commands[1]).toBe('MAIL FROM:<a@example.com> BODY=BINARYMIME');
    expect(commands).toContain('BDAT 7 LAST');
    const raw = t.written;
    const at = raw.indexOf('BDAT 7 LAST\r\n') + 'BDAT 7 LAST\r\n'.length;
    expect([...raw.subarray(at, at + 7)]).toEqual([...data]);
    await s.quit();
  });

  it('an XOAUTH2 payload too long for one command line goes after an empty 334 (RFC 4954 §4)', async () => {
    const token = 'T'.repeat(2000);
    const { t, commands } = fakeServer(['fake', 'AUTH XOAUTH2'], (line) =>
      line === 'AUTH XOAUTH2' ? '334 \r\n' : line.length > 1000 ? '235 2.7.0 ok\r\n' : ok(line),
    );
    const s = await open(t, { auth: { user: 'me@example.com', accessToken: token }, allowInsecureAuth: true });
    expect(s.authenticated).toBe('XOAUTH2');
    expect(commands[1]).toBe('AUTH XOAUTH2');
    expect(Buffer.from(commands[2] as string, 'base64').toString()).toBe(`user=me@example.com\x01auth=Bearer ${token}\x01\x01`);
    await s.quit();
  });
});

describe('destroy()', () => {
  it('ends a running send with the given error and leaves the session unusable', async () => {
    const { t } = fakeServer(['fake'], (line) => (line.startsWith('RCPT') ? undefined : ok(line)));
    const s = await open(t);
    const p = s.send({ from: 'a@example.com', to: ['b@example.net'], data: 'x\r\n' });
    setTimeout(() => s.destroy(new Error('shutting down')), 20);
    const e = await rejection(p);
    expect(e.kind).toBe('aborted');
    expect(e.message).toBe('shutting down');
    expect(s.usable).toBe(false);
    expect(t.destroyed).toBe(true);
  });
});
