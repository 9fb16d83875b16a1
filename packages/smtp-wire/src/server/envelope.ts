import { isUtf8Path } from './command-parser.js';
import type { EsmtpParams, ServerCommand } from './command-parser.js';
import { mailParamProblem, rcptParamProblem } from './esmtp-params.js';
import { newTransaction } from './transaction.js';
import type { Transaction, TransactionContext } from './transaction.js';

/** Which greeting the client sent last: none yet (or none since STARTTLS), HELO or EHLO. */
export type Greeted = 'none' | 'HELO' | 'EHLO';

type MailCommand = Extract<ServerCommand, { verb: 'MAIL' }>;
type RcptCommand = Extract<ServerCommand, { verb: 'RCPT' }>;

/**
 * MAIL FROM (RFC 5321 §4.1.1.2): opens the transaction, or refuses with the rule it breaks.
 * `tx` is the transaction already open, if any.
 */
export function mail(ctx: TransactionContext, c: MailCommand, tx: Transaction | undefined, greeted: Greeted, authenticated: boolean): void {
  if (greeted === 'none') {
    ctx.find('command-before-ehlo', 'MAIL');
    return ctx.fail(503, '5.5.1', 'Send EHLO or HELO first (RFC 5321 §4.1.4)');
  }
  if (ctx.options.auth?.required && !authenticated) {
    ctx.find('auth-required');
    return ctx.fail(530, '5.7.0', 'Authentication required (RFC 4954 §6)');
  }
  if (tx) {
    ctx.find('nested-mail');
    return ctx.fail(503, '5.5.1', 'Nested MAIL command (RFC 5321 §4.1.1.2)');
  }
  const { from, params } = c;
  if (paramsRefused(ctx, 'MAIL', params, greeted)) return;
  const size = params.SIZE === undefined ? undefined : Number(params.SIZE);
  if (size !== undefined && size > ctx.maxSize) {
    ctx.find('size-exceeded', `SIZE=${size} > ${ctx.maxSize}`);
    return ctx.fail(552, '5.3.4', `Message size exceeds fixed maximum message size (${ctx.maxSize})`);
  }
  const opened = newTransaction(from, params, ctx.used);
  ctx.open(opened);
  useParams(opened, params);
  if (c.spaceAfterColon) ctx.find('space-after-colon', 'MAIL FROM');
  if (isUtf8Path(from) && params.SMTPUTF8 === undefined) ctx.find('utf8-envelope-without-smtputf8', from);
  ctx.reply(250, '2.1.0', 'Ok');
}

/** RCPT TO (RFC 5321 §4.1.1.3): adds a recipient to the open transaction `tx`, or refuses. */
export function rcpt(ctx: TransactionContext, c: RcptCommand, tx: Transaction | undefined, greeted: Greeted): void {
  if (!tx) {
    ctx.find(greeted === 'none' ? 'command-before-ehlo' : 'rcpt-before-mail', 'RCPT');
    return ctx.fail(503, '5.5.1', 'Need MAIL before RCPT (RFC 5321 §4.1.4)');
  }
  const { to, params } = c;
  if (paramsRefused(ctx, 'RCPT', params, greeted)) return;
  if (tx.to.length >= ctx.maxRecipients) {
    ctx.find('too-many-recipients', `more than ${ctx.maxRecipients}`);
    return ctx.reply(452, '4.5.3', 'Too many recipients (RFC 5321 §4.5.3.1.10)');
  }
  tx.to.push(to);
  tx.rcptParams.push(params);
  useParams(tx, params);
  if (c.spaceAfterColon) ctx.find('space-after-colon', 'RCPT TO');
  if (isUtf8Path(to) && tx.mailParams.SMTPUTF8 === undefined) ctx.find('utf8-envelope-without-smtputf8', to);
  ctx.reply(250, '2.1.5', 'Ok');
}

/** Checks the parameters against what was offered; refuses and returns true on a problem. */
function paramsRefused(ctx: TransactionContext, verb: 'MAIL' | 'RCPT', params: EsmtpParams, greeted: Greeted): boolean {
  const keys = Object.keys(params);
  if (keys.length === 0) return false;
  if (greeted !== 'EHLO') {
    ctx.find('esmtp-param-after-helo', keys.join(' '));
    ctx.fail(555, '5.5.4', 'ESMTP parameters need EHLO (RFC 5321 §4.1.1.11)');
    return true;
  }
  const o = ctx.options;
  for (const key of keys) {
    const value = params[key] as string;
    const bad = verb === 'MAIL' ? mailParamProblem(key, value, o) : rcptParamProblem(key, value, o.dsn !== false);
    if (bad !== undefined) {
      ctx.find(bad.unknown ? 'unknown-parameter' : 'syntax-error', `${key}${value === '' ? '' : `=${value}`}`);
      ctx.fail(bad.unknown ? 555 : 501, bad.unknown ? '5.5.4' : '5.5.2', bad.reason);
      return true;
    }
  }
  return false;
}

/** Records the extensions the parameters use: SIZE, BODY=8BITMIME or BINARYMIME, SMTPUTF8, DSN. */
function useParams(tx: Transaction, params: EsmtpParams): void {
  for (const key of Object.keys(params)) {
    const value = (params[key] as string).toUpperCase();
    if (key === 'SIZE') tx.extensions.add('SIZE');
    else if (key === 'BODY' && value !== '7BIT') tx.extensions.add(value);
    else if (key === 'SMTPUTF8') tx.extensions.add('SMTPUTF8');
    else if (key === 'RET' || key === 'ENVID' || key === 'NOTIFY' || key === 'ORCPT') tx.extensions.add('DSN');
  }
}
