import { isSmtpError, sendMail, type ConnectOptions, type SmtpError } from '@smtpkit/client';
import type { E2eContext } from '../context.js';
import { check, checkEqual, defineCase, rejection } from '../harness.js';
import type { ServerName } from '../servers.js';

const TIMEOUTS = { connect: 10_000, greeting: 10_000 };

/** A one-line message to `to`, with the token in the subject. */
export function note(to: string, token: string) {
  return { from: 'sender@example.com', to: [to], data: `Subject: ${token}\r\nFrom: sender@example.com\r\n\r\n${token}\r\n` };
}

async function sendTo(ctx: E2eContext, server: ServerName, options: Partial<ConnectOptions>, token: string) {
  return sendMail({ host: 'localhost', port: ctx.port(server), timeouts: TIMEOUTS, ...options, ...note(`${token}@example.com`, token) });
}

/** A TLS refusal: kind 'tls', the expected code, and nothing delivered. */
async function refused(ctx: E2eContext, server: ServerName, mode: 'starttls' | 'implicit', code: string, ca: string | undefined) {
  const token = ctx.token(`refused-${server}`);
  const error = (await rejection(() => sendTo(ctx, server, { tls: mode, ...(ca ? { ca } : {}) }, token), server)) as SmtpError;
  check(isSmtpError(error), `expected an SmtpError, got ${String(error)}`);
  checkEqual(error.kind, 'tls', 'error kind');
  checkEqual(error.code, code, `error code (${error.message})`);
  checkEqual((await ctx.messages(token, 1, 300)).length, 0, 'messages delivered despite the refusal');
}

export const tlsCases = [
  defineCase<E2eContext>('plain SMTP (tls: none): delivered', async (ctx) => {
    const token = ctx.token('plain');
    const result = await sendTo(ctx, 'plain', { tls: 'none' }, token);
    checkEqual(result.accepted, [`${token}@example.com`], 'accepted');
    const [got] = await ctx.messages(token);
    check(got?.raw?.includes(`Subject: ${token}`), 'the message did not arrive');
    checkEqual(got?.secure, false, 'secure');
  }),
  defineCase<E2eContext>('STARTTLS: certificate verified by the test CA, delivered over TLS', async (ctx) => {
    const token = ctx.token('starttls');
    const lines: string[] = [];
    await sendTo(ctx, 'starttls', { tls: 'starttls', ca: ctx.ca, onTranscript: (e) => lines.push(`${e.dir} ${e.text}`) }, token);
    check(lines.some((l) => /^\* TLS up: TLSv1\.[23] .*verified by ca/.test(l)), `no "TLS up … verified by ca" in:\n${lines.join('\n')}`);
    const [got] = await ctx.messages(token);
    checkEqual(got?.secure, true, 'secure on the server');
  }),
  defineCase<E2eContext>('implicit TLS: certificate verified by the test CA, delivered over TLS', async (ctx) => {
    const token = ctx.token('implicit');
    await sendTo(ctx, 'implicit', { tls: 'implicit', ca: ctx.ca }, token);
    const [got] = await ctx.messages(token);
    checkEqual(got?.secure, true, 'secure on the server');
  }),
  defineCase<E2eContext>('refuses a certificate from an unknown CA (STARTTLS)', (ctx) => refused(ctx, 'unknownCa', 'starttls', 'ERR_SMTP_TLS_CERT', ctx.ca)),
  defineCase<E2eContext>('refuses a certificate from an unknown CA (implicit TLS, no ca given)', (ctx) =>
    refused(ctx, 'implicit', 'implicit', 'ERR_SMTP_TLS_CERT', undefined),
  ),
  defineCase<E2eContext>('refuses a certificate for another host', (ctx) => refused(ctx, 'wrongHost', 'starttls', 'ERR_SMTP_TLS_CERT', ctx.ca)),
  defineCase<E2eContext>('refuses an expired certificate', (ctx) => refused(ctx, 'expired', 'starttls', 'ERR_SMTP_TLS_CERT', ctx.ca)),
  defineCase<E2eContext>('STARTTLS response injection: refused, nothing sent inside TLS', async (ctx) => {
    const error = (await rejection(
      () => sendMail({ host: 'localhost', port: ctx.port('injection'), tls: 'starttls', ca: ctx.ca, timeouts: TIMEOUTS, ...note('x@example.com', 'inj') }),
      'injection',
    )) as SmtpError;
    checkEqual(error.code, 'ERR_SMTP_STARTTLS_INJECTION', `error code (${error.message})`);
    const connections = (await (await fetch(`http://127.0.0.1:${ctx.servers.http}/connections?server=injection`)).json()) as Array<{
      chunks: Array<{ tls: boolean }>;
    }>;
    check(connections.length > 0, 'the injection server saw no connection');
    check(connections.every((c) => c.chunks.every((k) => !k.tls)), 'the client wrote inside TLS after an injected reply');
  }),
];
