import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { parseEhlo } from '../src/capabilities.js';
import { isSmtpError } from '../src/errors.js';
import { planTransaction } from '../src/pipelining.js';
import type { Envelope, PlanOptions, TransactionPlan } from '../src/pipelining.js';
import { parseReply } from '../src/reply-parser.js';
import { OFFICE365_TLS, POSTFIX } from './fixtures/ehlo-replies.js';

const full = parseEhlo(parseReply(`${POSTFIX.slice(0, -'250 CHUNKING\r\n'.length)}250-BINARYMIME\r\n250-REQUIRETLS\r\n250 CHUNKING\r\n`));
const plain = parseEhlo(parseReply('250 mx.example.com\r\n'));
const env: Envelope = { from: 'a@example.com', to: ['b@example.net', 'c@example.org'] };
const dataPlan: PlanOptions = { useBdat: false, smtputf8: false };

function text(plan: TransactionPlan): string[][] {
  return plan.groups.map((g) => g.map((c) => Buffer.from(c.bytes).toString().trimEnd()));
}

function inputCode(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (isSmtpError(e) && e.kind === 'input') return e.code;
    throw e;
  }
  throw new Error('expected an input error');
}

describe('planTransaction (RFC 2920)', () => {
  it('with PIPELINING: one group MAIL, RCPT..., DATA (DATA ends the group, §3.1)', () => {
    const plan = planTransaction(full, env, dataPlan);
    expect(text(plan)).toEqual([['MAIL FROM:<a@example.com>', 'RCPT TO:<b@example.net>', 'RCPT TO:<c@example.org>', 'DATA']]);
    expect(plan.commands.map((c) => c.verb)).toEqual(['MAIL', 'RCPT', 'RCPT', 'DATA']);
  });

  it('with PIPELINING and BDAT: one group MAIL, RCPT... and no DATA', () => {
    const plan = planTransaction(full, env, { useBdat: true, smtputf8: false });
    expect(text(plan)).toEqual([['MAIL FROM:<a@example.com>', 'RCPT TO:<b@example.net>', 'RCPT TO:<c@example.org>']]);
    expect(plan.commands).toHaveLength(3);
  });

  it('without PIPELINING: one command per group', () => {
    const plan = planTransaction(plain, env, dataPlan);
    expect(text(plan)).toEqual([['MAIL FROM:<a@example.com>'], ['RCPT TO:<b@example.net>'], ['RCPT TO:<c@example.org>'], ['DATA']]);
    expect(plan.commands.map((c) => c.logText)).toEqual(text(plan).flat());
  });

  it('keeps the flat command list and the groups in the same order', () => {
    const plan = planTransaction(full, env, dataPlan);
    expect(plan.groups.flat()).toEqual(plan.commands);
    expect(plan.groups[0]).not.toBe(plan.commands);
  });

  it('passes MAIL and RCPT parameters through', () => {
    const plan = planTransaction(
      full,
      { ...env, to: ['b@example.net'], mailParams: { size: 100, body: '8BITMIME', ret: 'HDRS', envid: 'x1', requireTls: true }, rcptParams: { notify: ['FAILURE'], orcpt: 'b@example.net' } },
      dataPlan,
    );
    expect(text(plan)[0]).toEqual([
      'MAIL FROM:<a@example.com> SIZE=100 BODY=8BITMIME RET=HDRS ENVID=x1 REQUIRETLS',
      'RCPT TO:<b@example.net> NOTIFY=FAILURE ORCPT=rfc822;b@example.net',
      'DATA',
    ]);
  });

  it('adds SMTPUTF8 to MAIL and keeps UTF-8 addresses when smtputf8 is on', () => {
    const plan = planTransaction(full, { from: 'ü@bücher.example', to: ['ö@example.net'] }, { useBdat: false, smtputf8: true });
    expect(text(plan)[0]).toEqual(['MAIL FROM:<ü@bücher.example> SMTPUTF8', 'RCPT TO:<ö@example.net>', 'DATA']);
  });

  it('BINARYMIME with BDAT against Office 365 capabilities', () => {
    const o365 = parseEhlo(parseReply(OFFICE365_TLS));
    const plan = planTransaction(o365, { ...env, mailParams: { body: 'BINARYMIME' } }, { useBdat: true, smtputf8: false });
    expect(text(plan)[0]?.[0]).toBe('MAIL FROM:<a@example.com> BODY=BINARYMIME');
  });

  it.each<[string, Envelope, PlanOptions, string]>([
    ['no recipients', { from: 'a@example.com', to: [] }, dataPlan, 'ERR_SMTP_INPUT'],
    ['BDAT without CHUNKING', env, { useBdat: true, smtputf8: false }, 'ERR_SMTP_EXTENSION_NOT_OFFERED'],
    ['SMTPUTF8 not offered', env, { useBdat: false, smtputf8: true }, 'ERR_SMTP_EXTENSION_NOT_OFFERED'],
    ['SMTPUTF8 param not offered', { ...env, mailParams: { smtputf8: true } }, dataPlan, 'ERR_SMTP_EXTENSION_NOT_OFFERED'],
    ['SIZE not offered', { ...env, mailParams: { size: 1 } }, dataPlan, 'ERR_SMTP_EXTENSION_NOT_OFFERED'],
    ['8BITMIME not offered', { ...env, mailParams: { body: '8BITMIME' } }, dataPlan, 'ERR_SMTP_EXTENSION_NOT_OFFERED'],
    ['BINARYMIME not offered', { ...env, mailParams: { body: 'BINARYMIME' } }, dataPlan, 'ERR_SMTP_EXTENSION_NOT_OFFERED'],
    ['DSN RET not offered', { ...env, mailParams: { ret: 'FULL' } }, dataPlan, 'ERR_SMTP_EXTENSION_NOT_OFFERED'],
    ['DSN NOTIFY not offered', { ...env, rcptParams: { notify: 'NEVER' } }, dataPlan, 'ERR_SMTP_EXTENSION_NOT_OFFERED'],
    ['REQUIRETLS not offered', { ...env, mailParams: { requireTls: true } }, dataPlan, 'ERR_SMTP_EXTENSION_NOT_OFFERED'],
    ['bad recipient', { from: 'a@example.com', to: ['b@'] }, dataPlan, 'ERR_SMTP_INPUT'],
  ])('%s → %s (against a server offering nothing)', (_name, envelope, options, code) => {
    expect(inputCode(() => planTransaction(plain, envelope, options))).toBe(code);
  });

  it('BINARYMIME needs BDAT (RFC 3030 §3)', () => {
    expect(inputCode(() => planTransaction(full, { ...env, mailParams: { body: 'BINARYMIME' } }, dataPlan))).toBe('ERR_SMTP_INPUT');
  });
});
