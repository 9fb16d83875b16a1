import { isSmtpError, sendMail, type AuthOptions, type SmtpError } from '@smtpkit/client';
import type { E2eContext } from '../context.js';
import { PASSWORD, TOKEN, USER } from '../credentials.js';
import { check, checkEqual, defineCase, rejection } from '../harness.js';
import { note } from './tls.js';

function authCase(method: 'PLAIN' | 'LOGIN' | 'XOAUTH2') {
  return defineCase<E2eContext>(`AUTH ${method} over STARTTLS: authenticated, delivered`, async (ctx) => {
    const token = ctx.token(`auth-${method}`);
    const auth: AuthOptions = method === 'XOAUTH2' ? { user: USER, method, accessToken: TOKEN } : { user: USER, method, pass: PASSWORD };
    const lines: string[] = [];
    await sendMail({
      host: 'localhost',
      port: ctx.port('starttls'),
      tls: 'starttls',
      ca: ctx.ca,
      auth,
      onTranscript: (e) => lines.push(e.text),
      ...note(`${token}@example.com`, token),
    });
    const [got] = await ctx.messages(token);
    checkEqual(got?.user, USER, 'the user the server saw');
    const secret = method === 'XOAUTH2' ? TOKEN : PASSWORD;
    check(!lines.join('\n').includes(secret), 'the secret appears in the transcript');
  });
}

export const authCases = [
  authCase('PLAIN'),
  authCase('LOGIN'),
  authCase('XOAUTH2'),
  defineCase<E2eContext>('AUTH with a wrong password: kind auth, 535, nothing delivered', async (ctx) => {
    const token = ctx.token('auth-wrong');
    const error = (await rejection(
      () =>
        sendMail({
          host: 'localhost',
          port: ctx.port('starttls'),
          tls: 'starttls',
          ca: ctx.ca,
          auth: { user: USER, pass: 'wrong' },
          ...note(`${token}@example.com`, token),
        }),
      'wrong password',
    )) as SmtpError;
    check(isSmtpError(error), `expected an SmtpError, got ${String(error)}`);
    checkEqual([error.kind, error.replyCode], ['auth', 535], 'kind and reply code');
    checkEqual((await ctx.messages(token, 1, 300)).length, 0, 'messages delivered');
  }),
];
