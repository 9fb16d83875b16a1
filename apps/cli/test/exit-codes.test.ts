import { describe, expect, it } from 'vitest';
import { SmtpError } from '@smtpkit/client';
import { MimeError } from '@smtpkit/mime';
import { DkimError } from '@smtpkit/dkim';
import { DataError, EXIT, exitCodeFor, InputFileError, UsageError } from '../src/exit-codes.js';
import { hintFor } from '../src/hints.js';

const reply = (code: number, text = 'x') => ({ code, lines: [text], text });
const smtp = (kind: ConstructorParameters<typeof SmtpError>[1]['kind'], extra: Partial<ConstructorParameters<typeof SmtpError>[1]> = {}) =>
  new SmtpError(`${kind} failure`, { kind, code: extra.code ?? 'ERR_SMTP_TEST', ...extra });

describe('exitCodeFor: one row per failure class', () => {
  const table: Array<[string, unknown, number]> = [
    ['usage error', new UsageError('missing --from'), EXIT.USAGE],
    ['input file missing', new InputFileError('x.pdf', Object.assign(new Error('nope'), { code: 'ENOENT' })), EXIT.NOINPUT],
    ['CR/LF in a --header flag', new DataError('injection'), EXIT.DATAERR],
    ['MimeError (bad header value)', new MimeError('bad header', { code: 'ERR_MIME_HEADER_INJECTION' } as never), EXIT.DATAERR],
    ['DkimError (a key that cannot sign)', new DkimError('weak key', { code: 'ERR_DKIM_KEY_TOO_SMALL' }), EXIT.DATAERR],
    ['SmtpError input (invalid address)', smtp('input', { code: 'ERR_SMTP_INPUT' }), EXIT.DATAERR],
    ['SmtpError input (line too long)', smtp('input', { code: 'ERR_SMTP_LINE_TOO_LONG' }), EXIT.DATAERR],
    ['550 to MAIL FROM', smtp('reply', { replyCode: 550, command: 'MAIL FROM:<a@b>', reply: reply(550) }), EXIT.UNAVAILABLE],
    ['554 greeting', smtp('reply', { replyCode: 554, command: 'greeting', reply: reply(554) }), EXIT.UNAVAILABLE],
    ['all recipients rejected, 550', smtp('reply', { code: 'ERR_SMTP_RECIPIENTS_REJECTED', replyCode: 550, command: 'RCPT TO:<b@c>' }), EXIT.UNAVAILABLE],
    ['451 to MAIL FROM', smtp('reply', { replyCode: 451, command: 'MAIL FROM:<a@b>' }), EXIT.TEMPFAIL],
    ['421 service closing', smtp('reply', { code: 'ERR_SMTP_SERVICE_UNAVAILABLE', replyCode: 421 }), EXIT.TEMPFAIL],
    ['timeout', smtp('timeout'), EXIT.TEMPFAIL],
    ['connection lost', smtp('connection'), EXIT.TEMPFAIL],
    ['aborted', smtp('aborted'), EXIT.TEMPFAIL],
    ['protocol error', smtp('protocol', { code: 'ERR_SMTP_PROTOCOL' }), EXIT.PROTOCOL],
    ['reply that is no SMTP class', smtp('reply', { replyCode: 199 }), EXIT.PROTOCOL],
    ['AUTH 535', smtp('auth', { code: 'ERR_SMTP_AUTH_CREDENTIALS', replyCode: 535 }), EXIT.NOPERM],
    ['AUTH 454 temporary', smtp('auth', { code: 'ERR_SMTP_AUTH_TEMPORARY', replyCode: 454 }), EXIT.NOPERM],
    ['AUTH mechanism unsupported', smtp('auth', { code: 'ERR_SMTP_AUTH_UNSUPPORTED' }), EXIT.NOPERM],
    ['a reply refusing AUTH', smtp('reply', { replyCode: 504, command: 'AUTH CRAM-MD5' }), EXIT.NOPERM],
    ['AUTH 538 encryption required', smtp('auth', { code: 'ERR_SMTP_AUTH_ENCRYPTION_REQUIRED', replyCode: 538 }), EXIT.CONFIG],
    ['password without TLS', smtp('tls', { code: 'ERR_SMTP_INSECURE_AUTH' }), EXIT.CONFIG],
    ['STARTTLS not offered', smtp('tls', { code: 'ERR_SMTP_STARTTLS_UNAVAILABLE' }), EXIT.CONFIG],
    ['certificate invalid', smtp('tls', { code: 'ERR_SMTP_TLS_CERT' }), EXIT.CONFIG],
    ['STARTTLS refused by a reply', smtp('reply', { replyCode: 454, command: 'STARTTLS' }), EXIT.CONFIG],
    ['anything else', new Error('boom'), EXIT.TEMPFAIL],
  ];
  it.each(table)('%s', (_name, error, exit) => {
    expect(exitCodeFor(error)).toBe(exit);
  });
});

describe('hintFor', () => {
  const authFail = (text: string) => smtp('auth', { replyCode: 535, command: 'AUTH LOGIN', reply: reply(535, text) });
  it('tells Gmail users about app passwords and OAuth', () => {
    expect(hintFor(authFail('5.7.8 Username and Password not accepted'), { host: 'smtp.gmail.com', port: 587, tls: 'auto' })).toMatch(/app password/);
  });
  it('tells Office 365 users that basic auth is disabled', () => {
    const e = authFail('5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.');
    expect(hintFor(e, { host: 'smtp.office365.com', port: 587, tls: 'auto' })).toMatch(/OAuth/);
  });
  it('says From must be the mailbox when the server refuses to send as another address', () => {
    const e = smtp('reply', { replyCode: 554, command: 'DATA', reply: reply(554, '5.2.252 SendAsDenied; alice@x.edu not allowed to send as bob@x.edu') });
    expect(hintFor(e, { host: 'smtp.office365.com', port: 587, tls: 'auto' })).toMatch(/From address must be the mailbox/);
  });
  it('spots a TLS/port mismatch', () => {
    expect(hintFor(smtp('timeout'), { host: 'h', port: 465, tls: 'starttls' })).toMatch(/--tls implicit/);
    expect(hintFor(smtp('tls'), { host: 'h', port: 587, tls: 'implicit' })).toMatch(/--tls starttls/);
  });
  it.each([
    ['ERR_SMTP_STARTTLS_UNAVAILABLE', "use tls: 'implicit' on port 465 if the server has it; tls: 'opportunistic' accepts plaintext", /--tls implicit/],
    ['ERR_SMTP_TLS_EXPECTED', "this port expects TLS from the first byte: use tls: 'implicit' (usually port 465)", /--tls implicit/],
    ['ERR_SMTP_TLS_WRONG_VERSION', "use tls: 'starttls' (e.g. port 587) or tls: 'none'", /--tls starttls/],
    ['ERR_SMTP_TLS_CERT', 'pass the private CA as `ca`, or its certificate fingerprint as `pin`', /--ca PATH.*--pin/],
    ['ERR_SMTP_INSECURE_AUTH', "use tls: 'starttls' or 'implicit'; allowInsecureAuth: true only for a trusted local server", /--tls starttls/],
    ['ERR_SMTP_AUTH_CREDENTIALS', 'Office 365: basic authentication is not supported; use OAuth 2.0 (auth.accessToken, XOAUTH2)', /--auth xoauth2/],
    ['ERR_SMTP_SOMETHING_NEW', "the server wants TLS first: use tls: 'starttls'", /--tls starttls/],
  ])('speaks the CLI, not the library: %s', (code, clientHint, cli) => {
    const hint = hintFor(smtp('tls', { code, hint: clientHint }), { host: 'h', port: 25, tls: 'auto' });
    expect(hint).toMatch(cli);
    expect(hint).not.toMatch(/tls: '|allowInsecureAuth|accessToken|`/);
  });

  it('passes the client hint on otherwise, and says nothing when nothing is known', () => {
    expect(hintFor(smtp('connection', { hint: 'from the client' }), { host: 'h', port: 25, tls: 'auto' })).toBe('from the client');
    expect(hintFor(smtp('reply', { replyCode: 550 }), { host: 'h', port: 25, tls: 'auto' })).toBeUndefined();
  });
});
