import { afterEach, describe, expect, it } from 'vitest';
import { connect, sendMail } from '../src/index.js';
import { RecipientsRejectedError } from '../src/send.js';
import type { TranscriptEvent } from '../src/transcript.js';
import { smtpReject, startTestServer, type TestServer } from './helpers/smtp-server.js';
import { rejection } from './helpers/rejection.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const MESSAGE = 'From: a@example.com\r\nTo: b@example.net\r\nSubject: plain\r\n\r\nHello.\r\n.leading dot\r\n';


describe('plain SMTP against smtp-server', () => {
  it('sends one message; the server receives the exact bytes and envelope', async () => {
    server = await startTestServer({ hideSTARTTLS: true, record: true, size: 1_000_000 });
    const events: TranscriptEvent[] = [];
    const result = await sendMail({
      host: '127.0.0.1',
      port: server.port,
      from: 'a@example.com',
      to: ['b@example.net'],
      data: MESSAGE,
      onTranscript: (e) => events.push(e),
    });
    expect(result.accepted).toEqual(['b@example.net']);
    expect(result.rejected).toEqual([]);
    expect(result.bytes).toBe(Buffer.byteLength(MESSAGE));
    expect(server.messages).toHaveLength(1);
    expect(server.messages[0]?.data.toString('latin1')).toBe(MESSAGE);
    expect(server.messages[0]?.from).toBe('a@example.com');
    expect(server.messages[0]?.to).toEqual(['b@example.net']);
    // On the wire: dot-stuffed body and the terminator; SIZE announced.
    const raw = server.clientBytes();
    expect(raw).toContain(`MAIL FROM:<a@example.com> SIZE=${Buffer.byteLength(MESSAGE)}\r\n`);
    expect(raw).toContain('\r\n..leading dot\r\n.\r\n');
    expect(raw.endsWith('QUIT\r\n')).toBe(true);
    const lines = events.map((e) => `${e.dir}: ${e.text}`);
    expect(lines[0]).toBe(`*: connecting to 127.0.0.1:${server.port}`);
    expect(lines).toContain(`*: connected to 127.0.0.1:${server.port}`);
    expect(lines).toContain(`C: <message ${Buffer.byteLength(MESSAGE)} bytes>`);
    expect(lines).toContain('*: STARTTLS not offered: continuing WITHOUT TLS (opportunistic)');
  });

  it('PIPELINING on: MAIL, every RCPT and DATA in one write; off: lock-step', async () => {
    server = await startTestServer({ hideSTARTTLS: true, record: true });
    await sendMail({ host: '127.0.0.1', port: server.port, from: 'a@example.com', to: ['b@example.net', 'c@example.net'], data: MESSAGE });
    expect(server.clientChunks()).toContain(
      `MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.net>\r\nRCPT TO:<c@example.net>\r\nDATA\r\n`,
    );
    await server.close();
    server = await startTestServer({ hideSTARTTLS: true, hidePIPELINING: true, record: true });
    await sendMail({ host: '127.0.0.1', port: server.port, from: 'a@example.com', to: ['b@example.net', 'c@example.net'], data: MESSAGE });
    const chunks = server.clientChunks();
    expect(chunks).toContain('MAIL FROM:<a@example.com>\r\n');
    expect(chunks).toContain('RCPT TO:<b@example.net>\r\n');
    expect(chunks).toContain('RCPT TO:<c@example.net>\r\n');
    expect(chunks).toContain('DATA\r\n');
    expect(server.messages[0]?.data.toString('latin1')).toBe(MESSAGE);
  });

  it('pipelining: "never" keeps lock-step even when offered', async () => {
    server = await startTestServer({ hideSTARTTLS: true, record: true });
    await sendMail({ host: '127.0.0.1', port: server.port, pipelining: 'never', from: 'a@example.com', to: ['b@example.net'], data: MESSAGE });
    expect(server.clientChunks()).toContain('RCPT TO:<b@example.net>\r\n');
  });

  it('SIZE: a message over the limit fails before MAIL FROM; nothing of it is sent', async () => {
    server = await startTestServer({ hideSTARTTLS: true, size: 100, record: true });
    const session = await connect({ host: '127.0.0.1', port: server.port });
    expect(session.capabilities.size).toBe(100);
    const e = await rejection(session.send({ from: 'a@example.com', to: ['b@example.net'], data: 'x'.repeat(200) }));
    expect(e.kind).toBe('input');
    expect(e.code).toBe('ERR_SMTP_SIZE_EXCEEDED');
    expect(e.replyCode).toBeUndefined();
    expect(session.usable).toBe(true);
    await session.quit();
    expect(server.clientBytes()).not.toContain('MAIL FROM');
  });

  it.each([
    ['MAIL 4xx', { rejectMail: () => smtpReject(451, 'try later') }, 451, true],
    ['MAIL 5xx', { rejectMail: () => smtpReject(553, 'sender refused') }, 553, false],
    ['DATA 5xx', { rejectData: () => smtpReject(554, 'content refused') }, 554, false],
    ['DATA 4xx', { rejectData: () => smtpReject(452, 'no space') }, 452, true],
  ])('%s: a typed reply error; the session stays usable for the next message', async (_n, opts, code, retryable) => {
    server = await startTestServer({ hideSTARTTLS: true, ...opts });
    const session = await connect({ host: '127.0.0.1', port: server.port });
    const e = await rejection(session.send({ from: 'a@example.com', to: ['b@example.net'], data: MESSAGE }));
    expect(e.kind).toBe('reply');
    expect(e.replyCode).toBe(code);
    expect(e.retryable).toBe(retryable);
    expect(session.usable).toBe(true);
    await session.noop();
    await session.quit();
  });

  it('RCPT in lock-step (no PIPELINING): every reply is matched to its recipient across the round trips', async () => {
    server = await startTestServer({
      hideSTARTTLS: true,
      hidePIPELINING: true,
      record: true,
      rejectRcpt: (a) => (a.startsWith('bad') ? smtpReject(550, '5.1.1 no such user') : undefined),
    });
    const session = await connect({ host: '127.0.0.1', port: server.port });
    const to = ['good1@example.net', 'bad1@example.net', 'good2@example.net', 'bad2@example.net'];
    const ok = await session.send({ from: 'a@example.com', to, data: MESSAGE });
    expect(ok.accepted).toEqual(['good1@example.net', 'good2@example.net']);
    expect(ok.rejected.map((r) => [r.address, r.reply.code])).toEqual([
      ['bad1@example.net', 550],
      ['bad2@example.net', 550],
    ]);
    const all = await session.send({ from: 'a@example.com', to: ['good1@example.net', 'good2@example.net'], data: MESSAGE });
    expect(all.accepted).toEqual(['good1@example.net', 'good2@example.net']);
    expect(all.rejected).toEqual([]);
    expect(server.messages.map((m) => m.to)).toEqual([
      ['good1@example.net', 'good2@example.net'],
      ['good1@example.net', 'good2@example.net'],
    ]);
    await session.quit();
  });

  it('RCPT: partial rejections are data; zero accepted is a typed error carrying them (RSET sent)', async () => {
    server = await startTestServer({
      hideSTARTTLS: true,
      record: true,
      rejectRcpt: (a) => (a.startsWith('bad') ? smtpReject(550, '5.1.1 no such user') : undefined),
    });
    const session = await connect({ host: '127.0.0.1', port: server.port });
    const ok = await session.send({ from: 'a@example.com', to: ['good@example.net', 'bad@example.net'], data: MESSAGE });
    expect(ok.accepted).toEqual(['good@example.net']);
    expect(ok.rejected.map((r) => [r.address, r.reply.code])).toEqual([['bad@example.net', 550]]);
    expect(server.messages.at(-1)?.to).toEqual(['good@example.net']);

    const none = await rejection(session.send({ from: 'a@example.com', to: ['bad1@example.net', 'bad2@example.net'], data: MESSAGE }));
    expect(none).toBeInstanceOf(RecipientsRejectedError);
    expect((none as RecipientsRejectedError).rejected.map((r) => r.address)).toEqual(['bad1@example.net', 'bad2@example.net']);
    expect(none.replyCode).toBe(550);

    const strict = await rejection(
      session.send({ from: 'a@example.com', to: ['good@example.net', 'bad@example.net'], data: MESSAGE, partial: 'all-or-nothing' }),
    );
    expect(strict.code).toBe('ERR_SMTP_RECIPIENTS_REJECTED');
    expect(server.messages).toHaveLength(1);
    expect(session.usable).toBe(true);
    await session.quit();
    expect(server.clientBytes().match(/RSET\r\n/g)).toHaveLength(2);
  });

  it('many messages on one connection, queued sends serialised', async () => {
    server = await startTestServer({ hideSTARTTLS: true });
    const session = await connect({ host: '127.0.0.1', port: server.port });
    const sends = Array.from({ length: 20 }, (_, i) =>
      session.send({ from: 'a@example.com', to: [`r${i}@example.net`], data: `Subject: ${i}\r\n\r\nbody ${i}\r\n` }),
    );
    const results = await Promise.all(sends);
    expect(results.map((r) => r.accepted[0])).toEqual(Array.from({ length: 20 }, (_, i) => `r${i}@example.net`));
    await session.quit();
    expect(server.messages.map((m) => m.data.toString())).toEqual(Array.from({ length: 20 }, (_, i) => `Subject: ${i}\r\n\r\nbody ${i}\r\n`));
    expect(server.connections()).toBe(1);
  });

  it('8BITMIME and SMTPUTF8 only when needed; a clear error when needed and not offered', async () => {
    server = await startTestServer({ hideSTARTTLS: true, record: true });
    const utf8Body = 'Subject: caf\u00e9\r\n\r\nna\u00efve\r\n';
    await sendMail({ host: '127.0.0.1', port: server.port, from: 'a@example.com', to: ['b@example.net'], data: MESSAGE });
    await sendMail({ host: '127.0.0.1', port: server.port, from: 'a@example.com', to: ['b@example.net'], data: utf8Body });
    await sendMail({ host: '127.0.0.1', port: server.port, from: 'j\u00f6rg@example.com', to: ['b@example.net'], data: utf8Body });
    const raw = server.clientBytes();
    expect(raw).toContain('MAIL FROM:<a@example.com>\r\n');
    // UTF-8 in the header: SMTPUTF8 too, as the server offers it (RFC 6532 §3).
    expect(raw).toMatch(/MAIL FROM:<a@example\.com> BODY=8BITMIME SMTPUTF8\r\n/);
    expect(Buffer.from(raw, 'latin1').toString('utf8')).toMatch(/MAIL FROM:<j\u00f6rg@example\.com> .*SMTPUTF8/);
    expect(server.messages[1]?.data.toString('utf8')).toBe(utf8Body);
    expect(server.messages[2]?.from).toBe('j\u00f6rg@example.com');
    await server.close();

    server = await startTestServer({ hideSTARTTLS: true, hide8BITMIME: true, hideSMTPUTF8: true, record: true });
    const session = await connect({ host: '127.0.0.1', port: server.port });
    // Without 8BITMIME an 8-bit message is converted (RFC 6152 §3), but UTF-8 in a header cannot be.
    const e8 = await rejection(session.send({ from: 'a@example.com', to: ['b@example.net'], data: utf8Body }));
    expect(e8.code).toBe('ERR_SMTP_8BIT_HEADERS');
    const eu = await rejection(session.send({ from: 'j\u00f6rg@example.com', to: ['b@example.net'], data: MESSAGE }));
    expect(eu.code).toBe('ERR_SMTP_SMTPUTF8_UNSUPPORTED');
    await session.quit();
    expect(server.clientBytes()).not.toContain('MAIL FROM');
  });
});
