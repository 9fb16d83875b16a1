import { describe, expect, it } from 'vitest';
import { connect, deliver, isSmtpError, type ConnectOptions, type DeliverOptions } from '../src/index.js';
import { resolveConnectOptions } from '../src/connect-options.js';

// `protocol` and `path` are checked before any connection: each nonsense combination is an input error naming
// the option, and nothing is opened (the port and path below do not exist).

async function inputError(options: ConnectOptions): Promise<string> {
  const error = await connect({ ...options, timeouts: { connect: 1000 } }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isSmtpError(error) && error.kind).toBe('input');
  expect(isSmtpError(error) && error.retryable).toBe(false);
  return (error as Error).message;
}

describe('protocol and path: input errors', () => {
  it.each<[string, ConnectOptions, RegExp]>([
    ['path with host', { path: '/nonexistent/lmtp', host: '127.0.0.1' }, /`host` cannot be used with `path`/],
    ['path with port', { path: '/nonexistent/lmtp', port: 24 }, /`port` cannot be used with `path`/],
    ['path with a proxy', { path: '/nonexistent/lmtp', proxy: 'socks5://127.0.0.1:1' }, /`proxy` cannot be used with `path`/],
    ['path with family', { path: '/nonexistent/lmtp', family: 4 }, /`family` cannot be used with `path`/],
    ['an empty path', { path: '' }, /`path` must be a non-empty Unix socket path/],
    ['a path with NUL', { path: '/tmp/a\0b' }, /without NUL/],
    ['neither host nor path', {} as ConnectOptions, /`host` \(or a Unix socket `path`\) is required/],
    ['an unknown protocol', { host: '127.0.0.1', port: 24, protocol: 'esmtp' as never }, /invalid protocol "esmtp": 'smtp' or 'lmtp'/],
    ['LMTP with HELO', { host: '127.0.0.1', port: 24, protocol: 'lmtp', helo: true }, /LMTP has LHLO and no HELO \(RFC 2033 §4\.1\)/],
    ['LMTP to port 25', { host: '127.0.0.1', port: 25, protocol: 'lmtp' }, /cannot be used on port 25/],
    ['LMTP over TCP without a port', { host: '127.0.0.1', protocol: 'lmtp' }, /needs a `port`.*LMTP has no default port/],
    ['an LHLO name with CRLF', { path: '/nonexistent/lmtp', protocol: 'lmtp', clientName: 'a\r\nMAIL FROM:<x>' }, /./],
  ])('%s', async (_name, options, message) => {
    expect(await inputError(options)).toMatch(message);
  });

  it('defaults: a Unix socket gets no TLS and port 0; LMTP over TCP keeps the port rules', () => {
    const unix = resolveConnectOptions({ path: '/run/dovecot/lmtp', protocol: 'lmtp' });
    expect(unix).toMatchObject({ path: '/run/dovecot/lmtp', port: 0, protocol: 'lmtp', mode: 'none', host: 'localhost' });
    expect(resolveConnectOptions({ path: '/run/x', tls: 'starttls', servername: 'mail.test' }).mode).toBe('starttls');
    expect(resolveConnectOptions({ host: '127.0.0.1', port: 24, protocol: 'lmtp' })).toMatchObject({ protocol: 'lmtp', mode: 'opportunistic', port: 24 });
    expect(resolveConnectOptions({ host: '127.0.0.1' }).protocol).toBe('smtp');
  });

  it('a missing socket is a connection error naming the path', async () => {
    const error = await connect({ path: '/nonexistent/smtpkit/lmtp', protocol: 'lmtp' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isSmtpError(error) && error.kind).toBe('connection');
    expect((error as Error).message).toMatch(/^cannot connect to unix:\/nonexistent\/smtpkit\/lmtp: .*ENOENT/);
  });

  it.each<[string, Partial<DeliverOptions> & Record<string, unknown>, RegExp]>([
    ['LMTP', { protocol: 'lmtp' }, /deliver speaks SMTP to MX hosts: protocol "lmtp"/],
    ['a Unix socket', { path: '/run/dovecot/lmtp' }, /`path` \(a Unix socket\) is for connect or createPool/],
  ])('deliver refuses %s before any DNS lookup', async (_name, extra, message) => {
    const resolver = { resolveMx: () => Promise.reject(new Error('no DNS in this test')), lookup: () => Promise.reject(new Error('no DNS in this test')) };
    const error = await deliver({ from: 'a@example.org', to: ['b@example.com'], data: 'x\r\n', resolver: resolver as never, ...extra } as DeliverOptions).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isSmtpError(error) && error.kind).toBe('input');
    expect((error as Error).message).toMatch(message);
  });
});
