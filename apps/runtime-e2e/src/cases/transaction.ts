import { connect, createPool, sendMail } from '@smtpkit/client';
import type { E2eContext } from '../context.js';
import { check, checkEqual, defineCase } from '../harness.js';
import { note } from './tls.js';

export const transactionCases = [
  defineCase<E2eContext>('PIPELINING: MAIL, RCPT and DATA go out in one write (fault server answers only then)', async (ctx) => {
    // The server's script reads MAIL, RCPT and DATA before it answers any of them: a client that waited for
    // each reply would stall here (RFC 2920 §3.1).
    await sendMail({ host: '127.0.0.1', port: ctx.port('pipelining'), tls: 'none', timeouts: { mail: 5_000 }, ...note('bob@example.com', 'pipe') });
    const [conn] = (await (await fetch(`http://127.0.0.1:${ctx.servers.http}/connections?server=pipelining`)).json()) as Array<{
      chunks: Array<{ data: string }>;
      scriptError?: string;
    }>;
    check(conn && !conn.scriptError, `server script: ${conn?.scriptError ?? 'no connection'}`);
    check(
      conn.chunks.some((k) => /^MAIL FROM:.*\r\nRCPT TO:.*\r\nDATA\r\n$/.test(k.data)),
      `no single chunk with MAIL, RCPT and DATA: ${JSON.stringify(conn.chunks.map((k) => k.data.slice(0, 60)))}`,
    );
  }),
  defineCase<E2eContext>('BDAT to Postfix smtpd over STARTTLS (CHUNKING, RFC 3030): delivered', async (ctx) => {
    const token = ctx.token('bdat');
    const lines: string[] = [];
    const result = await sendMail({
      host: 'localhost',
      port: ctx.port('postfix'),
      tls: 'starttls',
      ca: ctx.ca,
      onTranscript: (e) => lines.push(`${e.dir}: ${e.text}`),
      from: 'sender@example.com',
      to: [`${token}@example.com`],
      data: `Subject: ${token}\r\n\r\n${'.leading dot and a long body line\r\n'.repeat(2000)}`,
    });
    check(/^250 /.test(`${result.reply.code} `), `final reply ${result.reply.code}`);
    check(lines.some((l) => /^C: BDAT \d+ LAST$/.test(l)), `no BDAT in the transcript:\n${lines.slice(0, 30).join('\n')}`);
    const [got] = await ctx.messages(token);
    check(got?.raw?.includes(`Subject: ${token}`), 'Postfix did not deliver the message');
    check(got?.raw?.includes('\n.leading dot'), 'the body was changed on the way');
    checkEqual(got?.secure, true, 'received over TLS (Postfix Received: … with ESMTPS)');
  }),
  defineCase<E2eContext>('one session, three messages, then QUIT', async (ctx) => {
    const token = ctx.token('session');
    const session = await connect({ host: 'localhost', port: ctx.port('starttls'), tls: 'starttls', ca: ctx.ca });
    try {
      for (let i = 0; i < 3; i++) await session.send(note(`${token}-${i}@example.com`, token));
    } finally {
      await session.quit();
    }
    checkEqual((await ctx.messages(token, 3)).length, 3, 'messages delivered');
  }),
  defineCase<E2eContext>('the pool: 30 messages over at most 3 connections, all delivered', async (ctx) => {
    const token = ctx.token('pool');
    const pool = createPool({ host: 'localhost', port: ctx.port('starttls'), tls: 'starttls', ca: ctx.ca, maxConnections: 3 });
    try {
      const results = await Promise.all(Array.from({ length: 30 }, (_, i) => pool.send(note(`${token}-${i}@example.com`, token))));
      checkEqual(results.filter((r) => r.accepted.length === 1).length, 30, 'sends accepted');
      check(pool.size <= 3, `pool opened ${pool.size} sessions`);
    } finally {
      await pool.close();
    }
    checkEqual((await ctx.messages(token, 30)).length, 30, 'messages delivered');
  }),
];
