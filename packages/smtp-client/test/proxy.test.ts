import { describe, expect, it } from 'vitest';
import { httpConnect, httpFailure, parseProxy, socks4Connect, socks5Connect, socks5Credentials, socks5Failure, socks5Greeting } from '../src/proxy.js';

describe('parseProxy', () => {
  it.each([
    ['socks5://127.0.0.1', { protocol: 'socks5', host: '127.0.0.1', port: 1080, display: 'socks5://127.0.0.1:1080' }],
    ['socks5h://u%40x:p%3Aw@proxy.example:9050', { protocol: 'socks5h', host: 'proxy.example', port: 9050, user: 'u@x', pass: 'p:w' }],
    ['socks4a://me@[::1]:1081', { protocol: 'socks4a', host: '::1', port: 1081, user: 'me', display: 'socks4a://[::1]:1081' }],
    ['http://proxy.example', { protocol: 'http', port: 80 }],
    ['http://proxy.example:3128/', { protocol: 'http', port: 3128 }],
  ])('%s', (url, expected) => {
    expect(parseProxy(url)).toMatchObject(expected);
  });

  it.each([
    ['not a url', /not a URL/],
    ['https://proxy.example', /unsupported proxy scheme "https:"/],
    ['ftp://proxy.example', /unsupported proxy scheme/],
    ['http://proxy.example/path', /no path or query/],
    ['socks4://u:p@proxy.example', /no password/],
    [`socks5://${'u'.repeat(256)}:p@h`, /255 octets/],
  ])('%s is refused: %s', (url, message) => {
    expect(() => parseProxy(url)).toThrow(expect.objectContaining({ kind: 'input', message: expect.stringMatching(message) }));
  });

  it('never shows the password in an error', () => {
    expect(() => parseProxy('http//user:secret@x')).toThrow(expect.not.objectContaining({ message: expect.stringContaining('secret') }));
  });
});

describe('handshake bytes', () => {
  const proxy = parseProxy('socks5://user:pass@127.0.0.1');
  it('SOCKS5 greeting, RFC 1929 credentials and CONNECT (RFC 1928 §3, §4)', () => {
    expect([...socks5Greeting(proxy)]).toEqual([5, 2, 0, 2]);
    expect([...socks5Greeting(parseProxy('socks5://h'))]).toEqual([5, 1, 0]);
    expect([...socks5Credentials(proxy)]).toEqual([1, 4, ...Buffer.from('user'), 4, ...Buffer.from('pass')]);
    expect([...socks5Connect('10.1.2.3', 587)]).toEqual([5, 1, 0, 1, 10, 1, 2, 3, 2, 75]);
    expect([...socks5Connect('mx.example', 25)]).toEqual([5, 1, 0, 3, 10, ...Buffer.from('mx.example'), 0, 25]);
    expect([...socks5Connect('2001:db8::1', 25)]).toEqual([5, 1, 0, 4, 0x20, 1, 0x0d, 0xb8, ...Array(11).fill(0), 1, 0, 25]);
    expect([...socks5Connect('::ffff:1.2.3.4', 25)].slice(4, 20)).toEqual([...Array(10).fill(0), 0xff, 0xff, 1, 2, 3, 4]);
  });

  it('SOCKS4 CONNECT to an address, SOCKS4A to a name (0.0.0.1 then the name)', () => {
    expect([...socks4Connect('10.1.2.3', 25, 'me')]).toEqual([4, 1, 0, 25, 10, 1, 2, 3, ...Buffer.from('me'), 0]);
    expect([...socks4Connect('mx.example', 25, undefined)]).toEqual([4, 1, 0, 25, 0, 0, 0, 1, 0, ...Buffer.from('mx.example'), 0]);
  });

  it('HTTP CONNECT with Basic credentials (RFC 9110 §9.3.6, RFC 7617)', () => {
    expect(httpConnect(parseProxy('http://al:pw@h:3128'), 'smtp.example', 587).toString()).toBe(
      'CONNECT smtp.example:587 HTTP/1.1\r\nHost: smtp.example:587\r\nProxy-Authorization: Basic YWw6cHc=\r\n\r\n',
    );
    expect(httpConnect(parseProxy('http://h'), '::1', 25).toString()).toMatch(/^CONNECT \[::1\]:25 HTTP\/1\.1\r\n/);
  });

  it.each([
    [1, 'ERR_SMTP_PROXY_PROTOCOL', false],
    [2, 'ERR_SMTP_PROXY_REFUSED', false],
    [3, 'ERR_SMTP_PROXY_TARGET', true],
    [4, 'ERR_SMTP_PROXY_TARGET', true],
    [5, 'ERR_SMTP_PROXY_TARGET', true],
    [6, 'ERR_SMTP_PROXY_TARGET', true],
    [7, 'ERR_SMTP_PROXY_PROTOCOL', false],
  ])('SOCKS5 reply %i → %s', (code, expected, retryable) => {
    expect(socks5Failure(proxy, code)).toMatchObject({ kind: 'connection', code: expected, retryable });
  });

  it.each([
    [407, 'ERR_SMTP_PROXY_AUTH'],
    [403, 'ERR_SMTP_PROXY_REFUSED'],
    [502, 'ERR_SMTP_PROXY_TARGET'],
    [500, 'ERR_SMTP_PROXY_PROTOCOL'],
  ])('HTTP %i → %s', (status, expected) => {
    expect(httpFailure(proxy, status, `HTTP/1.1 ${status} x`)).toMatchObject({ code: expected });
  });
});
