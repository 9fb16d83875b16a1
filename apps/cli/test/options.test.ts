import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { clientTlsMode } from '../src/connection.js';
import { DataError, UsageError } from '../src/exit-codes.js';
import { BUILTIN_PROFILES, configPath, loadProfile } from '../src/profiles.js';
import type { SendFlags } from '../src/program.js';
import { defaultHeloName } from '../src/run-send.js';
import { resolvePassword, runSecretCommand, tokenSource } from '../src/secrets.js';
import { parseHeaderFlag, resolveSend } from '../src/send-options.js';
import { scratch } from './helpers.js';

const NO_CONFIG = { SMTPKIT_CONFIG: '/nonexistent/config.json' };
const base: SendFlags = { from: 'a@example.com', to: ['b@example.com'] };
const resolve = (flags: Partial<SendFlags>, env: NodeJS.ProcessEnv = { ...NO_CONFIG, SMTPKIT_CONFIG: undefined, HOME: '/nonexistent' }) =>
  resolveSend({ ...base, ...flags } as SendFlags, env);

describe('defaults', () => {
  it('server 127.0.0.1, port 1025, tls auto', () => {
    const c = resolve({});
    expect([c.host, c.port, c.tls, c.auth]).toEqual(['127.0.0.1', 1025, 'auto', 'auto']);
  });
  it('port 465 with --tls implicit, 587 with --tls starttls, explicit -p wins', () => {
    expect(resolve({ tls: 'implicit' }).port).toBe(465);
    expect(resolve({ tls: 'starttls' }).port).toBe(587);
    expect(resolve({ tls: 'starttls', port: '2587' }).port).toBe(2587);
  });
  it('--tls auto follows the port and STARTTLS when offered; --require-tls makes STARTTLS mandatory', () => {
    expect(clientTlsMode({ tls: 'auto', port: 465, requireTls: false })).toBe('implicit');
    expect(clientTlsMode({ tls: 'auto', port: 587, requireTls: false })).toBe('starttls');
    expect(clientTlsMode({ tls: 'auto', port: 25, requireTls: false })).toBe('opportunistic');
    expect(clientTlsMode({ tls: 'auto', port: 25, requireTls: true })).toBe('starttls');
    expect(clientTlsMode({ tls: 'none', port: 25, requireTls: false })).toBe('none');
  });
  it('--mx goes to port 25 unless -p says otherwise', () => {
    expect(resolve({ mx: true }).port).toBe(25);
    expect(resolve({ mx: true, port: '2525' }).port).toBe(2525);
  });
  it('the EHLO name is the host name when it is a valid domain, else localhost', () => {
    expect(defaultHeloName('mail.example.org')).toBe('mail.example.org');
    expect(defaultHeloName('my_box')).toBe('localhost');
    expect(defaultHeloName('')).toBe('localhost');
  });
});

describe('usage errors', () => {
  const cases: Array<[string, Partial<SendFlags>]> = [
    ['missing --from', { from: undefined }],
    ['missing --to', { to: [] }],
    ['--read-recipients without --eml', { readRecipients: true }],
    ['--eml with --subject', { eml: 'x.eml', subject: 's' }],
    ['--eml with --attach', { eml: 'x.eml', attach: ['a'] }],
    ['--body and --body-file', { body: 'x', bodyFile: 'y' }],
    ['--inline without --html', { inline: ['i.png'] }],
    ['bad port', { port: '70000' }],
    ['bad --tls', { tls: 'maybe' }],
    ['bad --auth', { auth: 'digest-md5', user: 'u' }],
    ['--auth without --user', { auth: 'plain' }],
    ['bad --quit-after', { quitAfter: 'data' }],
    ['--require-tls with --tls none', { requireTls: true, tls: 'none' }],
    ['--mx with --server', { mx: true, server: 'h' }],
    ['bad --timeout', { timeout: '-1' }],
    ['bad --pin', { pin: 'abc' }],
    ['unknown profile', { profile: 'nope' }],
    ['--header without a colon', { header: ['nocolon'] }],
  ];
  it.each(cases)('%s', (_name, flags) => {
    expect(() => resolve(flags)).toThrow(UsageError);
  });
  it('a CR or LF in --header is a data error (injection attempt), and so is a bad field name', () => {
    expect(() => parseHeaderFlag('X-A: 1\r\nBcc: evil@x')).toThrow(DataError);
    expect(() => parseHeaderFlag('Bad Name: 1')).toThrow(DataError);
    expect(parseHeaderFlag('X-Mailer:  smtpkit ')).toEqual(['X-Mailer', 'smtpkit']);
  });
});

describe('profiles', () => {
  it('built-ins carry host, port and TLS mode', () => {
    expect(BUILTIN_PROFILES.gmail).toMatchObject({ server: 'smtp.gmail.com', port: 587, tls: 'starttls' });
    expect(BUILTIN_PROFILES.office365).toMatchObject({ server: 'smtp.office365.com', port: 587, tls: 'starttls' });
    expect(BUILTIN_PROFILES.aol).toMatchObject({ server: 'smtp.aol.com', port: 465, tls: 'implicit' });
    expect(BUILTIN_PROFILES.outlook).toMatchObject({ port: 587, tls: 'starttls' });
    expect(BUILTIN_PROFILES.local).toMatchObject({ server: '127.0.0.1', port: 1025, tls: 'none' });
    const c = resolve({ profile: 'aol' });
    expect([c.host, c.port, c.tls, c.requireTls]).toEqual(['smtp.aol.com', 465, 'implicit', true]);
  });
  it('flags override the profile', () => {
    const c = resolve({ profile: 'gmail', server: '127.0.0.1', port: '2525' });
    expect([c.host, c.port, c.tls]).toEqual(['127.0.0.1', 2525, 'starttls']);
  });
  it('reads profiles from the config file, which may redefine a built-in', () => {
    const dir = scratch();
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ profiles: { work: { server: 'smtp.work.test', port: 2525, tls: 'starttls', user: 'me@work.test', from: 'me@work.test' }, gmail: { server: 'relay.test' } } }));
    expect(loadProfile('work', { SMTPKIT_CONFIG: file })).toMatchObject({ server: 'smtp.work.test', port: 2525, user: 'me@work.test' });
    expect(loadProfile('gmail', { SMTPKIT_CONFIG: file }).server).toBe('relay.test');
    const c = resolveSend({ to: ['b@x.test'], profile: 'work' } as SendFlags, { SMTPKIT_CONFIG: file });
    expect([c.from, c.user, c.port]).toEqual(['me@work.test', 'me@work.test', 2525]);
  });
  it('refuses passwords in the config file and reports a broken file', () => {
    const dir = scratch();
    const file = join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ profiles: { p: { server: 'x', password: 'no' } } }));
    expect(() => loadProfile('p', { SMTPKIT_CONFIG: file })).toThrow(/passwords do not belong/);
    writeFileSync(file, '{ nope');
    expect(() => loadProfile('p', { SMTPKIT_CONFIG: file })).toThrow(/not valid JSON/);
  });
  it('finds the config file under XDG_CONFIG_HOME', () => {
    expect(configPath({ XDG_CONFIG_HOME: '/cfg' })).toBe('/cfg/smtpkit/config.json');
  });
});

describe('secret sources', () => {
  it('password: SMTPKIT_PASSWORD first, then --password-command, then the prompt', async () => {
    expect(await resolvePassword('u', { env: { SMTPKIT_PASSWORD: 'e' }, command: 'echo c', prompt: async () => 'p' })).toBe('e');
    expect(await resolvePassword('u', { env: {}, command: 'printf "c\\n"', prompt: async () => 'p' })).toBe('c');
    expect(await resolvePassword('u', { env: {}, prompt: async () => 'p' })).toBe('p');
  });
  it('no source at all is a usage error', async () => {
    await expect(resolvePassword('u', { env: {} })).rejects.toThrow(UsageError);
  });
  it('a failing or silent command is a usage error that does not echo its output', async () => {
    await expect(runSecretCommand('echo leaked; exit 3', '--password-command')).rejects.toThrow(/failed \(exit 3\)$/);
    await expect(runSecretCommand('true', '--password-command')).rejects.toThrow(/printed nothing/);
  });
  it('token: --token-command (re-run on refresh) over SMTPKIT_OAUTH_TOKEN', async () => {
    const t = tokenSource({ env: { SMTPKIT_OAUTH_TOKEN: 'env' }, command: 'echo "cmd${SMTPKIT_TOKEN_REFRESH:-}"' });
    expect(await t?.({ user: 'u', refresh: false })).toBe('cmd');
    expect(await t?.({ user: 'u', refresh: true })).toBe('cmd1');
    expect(await tokenSource({ env: { SMTPKIT_OAUTH_TOKEN: 'env' } })?.({ user: 'u', refresh: false })).toBe('env');
    expect(tokenSource({ env: {} })).toBeUndefined();
  });
});
