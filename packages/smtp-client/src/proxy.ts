import { isIP } from 'node:net';
import { SmtpError } from '@smtpkit/wire';
import { inputError } from './errors.js';

/** A proxy URL, checked and split. */
export interface ProxyConfig {
  protocol: 'socks5' | 'socks5h' | 'socks4' | 'socks4a' | 'http';
  host: string;
  port: number;
  user?: string;
  pass?: string;
  /** `protocol://host:port`, without credentials: what the transcript and errors show. */
  display: string;
}

/** RFC 1928 §3 / §6 and the SOCKS 4 / 4A memos: the proxy's failure codes, in words. */
const SOCKS5_REPLIES: Record<number, string> = {
  1: 'general SOCKS server failure',
  2: 'connection not allowed by the proxy rule set',
  3: 'network unreachable',
  4: 'host unreachable',
  5: 'connection refused by the destination',
  6: 'TTL expired',
  7: 'command not supported by the proxy',
  8: 'address type not supported by the proxy',
};
const SOCKS4_REPLIES: Record<number, string> = {
  0x5b: 'request rejected or failed',
  0x5c: 'request rejected: the proxy cannot reach our identd',
  0x5d: 'request rejected: identd reports a different user',
};

const DEFAULT_PORTS: Record<ProxyConfig['protocol'], number> = { socks5: 1080, socks5h: 1080, socks4: 1080, socks4a: 1080, http: 80 };

/** Parse and check `proxy` (see `ConnectOptions.proxy`); throws kind 'input' naming the problem. */
export function parseProxy(value: string | URL): ProxyConfig {
  let url: URL;
  try {
    url = typeof value === 'string' ? new URL(value) : value;
  } catch {
    throw inputError('ERR_SMTP_INPUT', `proxy is not a URL: ${JSON.stringify(String(value).replace(/\/\/[^@/]*@/, '//***@'))}`);
  }
  const protocol = url.protocol.replace(/:$/, '');
  if (!(protocol in DEFAULT_PORTS)) {
    throw inputError(
      'ERR_SMTP_INPUT',
      `unsupported proxy scheme "${protocol}:" (socks5, socks5h, socks4, socks4a or http)`,
      protocol === 'https' ? 'a TLS connection to the proxy itself is not supported; use http:// (the SMTP session is still protected by its own TLS)' : undefined,
    );
  }
  if (url.hostname === '') throw inputError('ERR_SMTP_INPUT', 'the proxy URL has no host');
  if ((url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '') {
    throw inputError('ERR_SMTP_INPUT', 'the proxy URL must be scheme://[user:pass@]host[:port], with no path or query');
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port === '' ? DEFAULT_PORTS[protocol as ProxyConfig['protocol']] : Number(url.port);
  const user = url.username === '' ? undefined : decodeURIComponent(url.username);
  const pass = url.password === '' ? undefined : decodeURIComponent(url.password);
  if ((protocol === 'socks5' || protocol === 'socks5h') && (Buffer.byteLength(user ?? '') > 255 || Buffer.byteLength(pass ?? '') > 255)) {
    throw inputError('ERR_SMTP_INPUT', 'SOCKS5 user name and password are 255 octets at most (RFC 1929 §2)');
  }
  if (pass !== undefined && protocol.startsWith('socks4')) throw inputError('ERR_SMTP_INPUT', 'SOCKS4 has a user id but no password');
  const display = `${protocol}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return { protocol: protocol as ProxyConfig['protocol'], host, port, ...(user !== undefined ? { user } : {}), ...(pass !== undefined ? { pass } : {}), display };
}

/** A failure at the proxy, as one typed error. `target`: the proxy could not reach the server (retryable). */
export function proxyError(
  proxy: ProxyConfig,
  what: 'auth' | 'refused' | 'target' | 'protocol',
  detail: string,
): SmtpError {
  const codes = { auth: 'ERR_SMTP_PROXY_AUTH', refused: 'ERR_SMTP_PROXY_REFUSED', target: 'ERR_SMTP_PROXY_TARGET', protocol: 'ERR_SMTP_PROXY_PROTOCOL' };
  const hints = {
    auth: 'check the user name and password in the proxy URL',
    refused: "the proxy's rules forbid this destination; ask its administrator to allow the SMTP port",
    target: undefined,
    protocol: 'is this really a proxy of that scheme? (socks5://, socks4a://, http://)',
  };
  const hint = hints[what];
  return new SmtpError(`proxy ${proxy.display}: ${detail}`, {
    kind: 'connection',
    code: codes[what],
    retryable: what === 'target',
    ...(hint ? { hint } : {}),
  });
}

/** RFC 1928 §3: the greeting, offering "no authentication" and, with credentials, user/password (RFC 1929). */
export function socks5Greeting(proxy: ProxyConfig): Buffer {
  return proxy.user !== undefined ? Buffer.from([5, 2, 0, 2]) : Buffer.from([5, 1, 0]);
}

/** RFC 1929 §2: `VER=1 ULEN UNAME PLEN PASSWD`. */
export function socks5Credentials(proxy: ProxyConfig): Buffer {
  const user = Buffer.from(proxy.user ?? '', 'utf8');
  const pass = Buffer.from(proxy.pass ?? '', 'utf8');
  return Buffer.concat([Buffer.from([1, user.length]), user, Buffer.from([pass.length]), pass]);
}

/** RFC 1928 §4: CONNECT to an IPv4/IPv6 address or, for socks5h, a domain name the proxy resolves. */
export function socks5Connect(host: string, port: number): Buffer {
  const family = isIP(host);
  let address: Buffer;
  if (family === 4) address = Buffer.from([1, ...host.split('.').map(Number)]);
  else if (family === 6) address = Buffer.concat([Buffer.from([4]), ipv6Bytes(host)]);
  else {
    const name = Buffer.from(host, 'ascii');
    if (name.length > 255) throw inputError('ERR_SMTP_INPUT', 'host name too long for SOCKS5 (255 octets)');
    address = Buffer.concat([Buffer.from([3, name.length]), name]);
  }
  return Buffer.concat([Buffer.from([5, 1, 0]), address, portBytes(port)]);
}

/** SOCKS 4 CONNECT to an IPv4 address, or SOCKS 4A (address 0.0.0.1, then the host name) for a name. */
export function socks4Connect(host: string, port: number, user: string | undefined): Buffer {
  const userId = Buffer.concat([Buffer.from(user ?? '', 'utf8'), Buffer.from([0])]);
  if (isIP(host) === 4) return Buffer.concat([Buffer.from([4, 1]), portBytes(port), Buffer.from(host.split('.').map(Number)), userId]);
  return Buffer.concat([Buffer.from([4, 1]), portBytes(port), Buffer.from([0, 0, 0, 1]), userId, Buffer.from(`${host}\0`, 'ascii')]);
}

/** The CONNECT request of an HTTP proxy (RFC 9110 §9.3.6), with Basic credentials (RFC 7617) when given. */
export function httpConnect(proxy: ProxyConfig, host: string, port: number): Buffer {
  const authority = `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
  const auth =
    proxy.user !== undefined
      ? `Proxy-Authorization: Basic ${Buffer.from(`${proxy.user}:${proxy.pass ?? ''}`, 'utf8').toString('base64')}\r\n`
      : '';
  return Buffer.from(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${auth}\r\n`, 'utf8');
}

/** The error for a SOCKS5 reply code other than 0 (RFC 1928 §6). */
export function socks5Failure(proxy: ProxyConfig, code: number): SmtpError {
  const text = SOCKS5_REPLIES[code] ?? `unknown SOCKS5 reply ${code}`;
  return proxyError(proxy, code === 2 ? 'refused' : code === 1 || code >= 7 ? 'protocol' : 'target', `${text} (SOCKS5 reply ${code})`);
}

/** The error for a SOCKS4 reply other than 0x5A granted. */
export function socks4Failure(proxy: ProxyConfig, code: number): SmtpError {
  const text = SOCKS4_REPLIES[code] ?? `unknown SOCKS4 reply 0x${code.toString(16)}`;
  return proxyError(proxy, code === 0x5b ? 'refused' : 'auth', `${text} (SOCKS4 reply 0x${code.toString(16)})`);
}

/** The error for an HTTP CONNECT status other than 2xx. */
export function httpFailure(proxy: ProxyConfig, status: number, line: string): SmtpError {
  // Tinyproxy answers 401 to wrong credentials, RFC 9110 §15.5.8 says 407.
  if (status === 407 || status === 401) return proxyError(proxy, 'auth', `authentication ${proxy.user === undefined ? 'required' : 'failed'} (${line})`);
  if (status === 403 || status === 405) return proxyError(proxy, 'refused', `CONNECT not allowed (${line})`);
  if (status === 502 || status === 503 || status === 504) return proxyError(proxy, 'target', `cannot reach the server (${line})`);
  return proxyError(proxy, 'protocol', `CONNECT failed (${line})`);
}

function portBytes(port: number): Buffer {
  return Buffer.from([port >> 8, port & 0xff]);
}

function ipv6Bytes(host: string): Buffer {
  const [head = '', tail = ''] = host.split('::');
  const parse = (s: string) => (s === '' ? [] : s.split(':'));
  let groups = [...parse(head)];
  const right = parse(tail);
  // An embedded IPv4 tail (::ffff:1.2.3.4) is two groups.
  const last = right.at(-1) ?? groups.at(-1);
  if (last?.includes('.')) {
    const list = right.length ? right : groups;
    const v4 = (list.pop() as string).split('.').map(Number);
    list.push(((v4[0]! << 8) | v4[1]!).toString(16), ((v4[2]! << 8) | v4[3]!).toString(16));
  }
  const fill = host.includes('::') ? 8 - groups.length - right.length : 0;
  groups = [...groups, ...Array<string>(fill).fill('0'), ...right];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}
