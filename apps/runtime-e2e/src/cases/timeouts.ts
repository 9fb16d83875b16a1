import { isSmtpError, sendMail, type SmtpError } from '@smtpkit/client';
import type { E2eContext } from '../context.js';
import { check, checkEqual, defineCase, rejection } from '../harness.js';
import { note } from './tls.js';

export const timeoutCases = [
  defineCase<E2eContext>('a server that never greets: timeout after the greeting deadline', async (ctx) => {
    const started = Date.now();
    const error = (await rejection(
      () => sendMail({ host: '127.0.0.1', port: ctx.port('silent'), tls: 'none', timeouts: { greeting: 500 }, ...note('b@example.com', 'silent') }),
      'silent server',
    )) as SmtpError;
    const took = Date.now() - started;
    check(isSmtpError(error), `expected an SmtpError, got ${String(error)}`);
    checkEqual([error.kind, error.code, error.retryable], ['timeout', 'ERR_SMTP_TIMEOUT', true], 'kind, code, retryable');
    check(took >= 450 && took < 5_000, `gave up after ${took} ms (deadline 500 ms)`);
  }),
  defineCase<E2eContext>('AbortSignal: aborting while the server is silent ends the session at once', async (ctx) => {
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 300);
    const error = (await rejection(
      () => sendMail({ host: '127.0.0.1', port: ctx.port('silent'), tls: 'none', signal: controller.signal, ...note('b@example.com', 'abort') }),
      'aborted send',
    )) as SmtpError;
    check(isSmtpError(error), `expected an SmtpError, got ${String(error)}`);
    checkEqual(error.kind, 'aborted', 'kind');
    check(Date.now() - started < 5_000, 'the abort was not prompt');
  }),
  defineCase<E2eContext>('a signal aborted before the call: nothing is connected', async (ctx) => {
    const error = (await rejection(
      () => sendMail({ host: '127.0.0.1', port: ctx.port('plain'), tls: 'none', signal: AbortSignal.abort(), ...note('b@example.com', 'pre-abort') }),
      'pre-aborted send',
    )) as SmtpError;
    checkEqual(isSmtpError(error) ? error.kind : String(error), 'aborted', 'kind');
  }),
];
