import {
  freePort, generateCertificates, startDante, startPostfix, startSilentServer, startSmtpSink, startTinyproxy, type SmtpSink, type TestProxy,
} from '@smtpkit/testkit';
import { createRequire } from 'node:module';
import type { Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, sendMail } from '../src/index.js';
import type { TranscriptEvent } from '../src/transcript.js';

// Real proxies between the client and a real SMTP server (Postfix's smtp-sink): Dante for SOCKS4/5,
// with and without RFC 1929 credentials, Tinyproxy for HTTP CONNECT, the `socks4` package's server for
// SOCKS 4A (Dante has no 4A); an in-process server that accepts and never answers stands for a stalled proxy.

/** The `socks4` npm package: a SOCKS 4 / 4A server on net.Server (no type declarations). */
const socks4 = createRequire(import.meta.url)('socks4') as { createServer(): Server };

const CREDENTIALS = { user: 'smtpkit-proxy', pass: 'pr0xy-pass' };
const MESSAGE = 'From: a@example.com\r\nTo: b@example.net\r\nSubject: via a proxy\r\n\r\nHello.\r\n';

let sink: SmtpSink;
let closedPort: number;
let dante: TestProxy;
let danteAuth: TestProxy;
let tiny: TestProxy;
let tinyAuth: TestProxy;
let silent: TestProxy;
let socks4a: Server;
let socks4aPort: number;

beforeAll(async () => {
  sink = await startSmtpSink();
  closedPort = await freePort();
  [dante, danteAuth, tiny, tinyAuth, silent] = await Promise.all([
    startDante({ blockPorts: [closedPort + 1] }),
    startDante({ auth: CREDENTIALS }),
    startTinyproxy({ connectPorts: [sink.port, closedPort] }),
    startTinyproxy({ auth: CREDENTIALS }),
    startSilentServer(),
  ]);
  socks4a = socks4.createServer();
  await new Promise<void>((resolve) => socks4a.listen(0, '127.0.0.1', resolve));
  socks4aPort = (socks4a.address() as { port: number }).port;
});

afterAll(async () => {
  await Promise.all([dante, danteAuth, tiny, tinyAuth, silent, sink].map((s) => s?.stop()));
  await new Promise<void>((resolve) => (socks4a ? socks4a.close(() => resolve()) : resolve()));
});

const withCredentials = (url: string, scheme: string, user = CREDENTIALS.user, pass = CREDENTIALS.pass) =>
  url.replace(/^\w+:\/\//, `${scheme}://${encodeURIComponent(user)}:${encodeURIComponent(pass)}@`);

async function sendVia(proxy: string, host = '127.0.0.1', port = sink.port) {
  const events: TranscriptEvent[] = [];
  const result = await sendMail({
    host, port, tls: 'none', proxy, from: 'a@example.com', to: ['b@example.net'], data: MESSAGE,
    timeouts: { connect: 5_000 }, onTranscript: (e) => events.push(e),
  });
  return { result, lines: events.map((e) => `${e.dir}: ${e.text}`) };
}

describe('SOCKS through Dante', () => {
  it('socks5://: the message goes through the proxy to the server', async () => {
    const { result, lines } = await sendVia(dante.url);
    expect(result.accepted).toEqual(['b@example.net']);
    expect(lines).toContain(`*: proxy ${dante.url} connected us to 127.0.0.1:${sink.port}`);
    expect(await dante.log()).toMatch(new RegExp(`pass\\(\\d+\\): tcp/connect .* -> .*127\\.0\\.0\\.1\\.${sink.port}`));
  });

  it('socks5h:// with user and password: the proxy resolves the name and checks the credentials', async () => {
    const { result, lines } = await sendVia(withCredentials(danteAuth.url, 'socks5h'), 'localhost');
    expect(result.accepted).toEqual(['b@example.net']);
    expect(lines.join('\n')).not.toContain(CREDENTIALS.pass);
    expect(lines).toContain(`*: connecting to localhost:${sink.port} through the proxy socks5h://127.0.0.1:${danteAuth.port} (with credentials)`);
  });

  it('socks4:// reaches the server too (Dante speaks SOCKS 4, not the 4A name extension)', async () => {
    const { result } = await sendVia(dante.url.replace('socks5', 'socks4'));
    expect(result.accepted).toEqual(['b@example.net']);
  });

  it('socks4a:// sends the name for the proxy to resolve; Dante, without 4A, refuses it (reply 0x5B)', async () => {
    await expect(sendVia(dante.url.replace('socks5', 'socks4a'), 'localhost')).rejects.toMatchObject({
      code: 'ERR_SMTP_PROXY_REFUSED', message: expect.stringMatching(/request rejected or failed \(SOCKS4 reply 0x5b\)/),
    });
  });

  it('socks4a:// through a SOCKS 4A server: the proxy resolves the name', async () => {
    const { result, lines } = await sendVia(`socks4a://smtpkit@127.0.0.1:${socks4aPort}`, 'localhost');
    expect(result.accepted).toEqual(['b@example.net']);
    expect(lines).toContain(`*: proxy socks4a://127.0.0.1:${socks4aPort} connected us to localhost:${sink.port}`);
  });

  it('a wrong password is ERR_SMTP_PROXY_AUTH, not retryable', async () => {
    await expect(sendVia(withCredentials(danteAuth.url, 'socks5', CREDENTIALS.user, 'wrong'))).rejects.toMatchObject({
      kind: 'connection', code: 'ERR_SMTP_PROXY_AUTH', retryable: false, message: expect.stringMatching(/user name or password refused/),
    });
  });

  it('no credentials for a proxy that demands them is ERR_SMTP_PROXY_AUTH', async () => {
    await expect(sendVia(danteAuth.url)).rejects.toMatchObject({
      code: 'ERR_SMTP_PROXY_AUTH', message: expect.stringMatching(/requires a user name and password/),
    });
  });

  it('a destination the rule set blocks is ERR_SMTP_PROXY_REFUSED (SOCKS5 reply 2)', async () => {
    await expect(sendVia(dante.url, '127.0.0.1', closedPort + 1)).rejects.toMatchObject({
      code: 'ERR_SMTP_PROXY_REFUSED', message: expect.stringMatching(/not allowed by the proxy rule set \(SOCKS5 reply 2\)/),
    });
  });

  it('a server that refuses the proxy is ERR_SMTP_PROXY_TARGET, retryable (SOCKS5 reply 5)', async () => {
    await expect(sendVia(dante.url, '127.0.0.1', closedPort)).rejects.toMatchObject({
      code: 'ERR_SMTP_PROXY_TARGET', retryable: true, message: expect.stringMatching(/refused by the destination \(SOCKS5 reply 5\)/),
    });
  });
});

describe('TLS over the proxied connection', () => {
  it('STARTTLS through SOCKS5 and through HTTP CONNECT to Postfix: the certificate is verified end to end', async () => {
    const certs = await generateCertificates();
    const postfix = await startPostfix({ tls: 'may', certs });
    try {
      for (const proxy of [dante.url, withCredentials(tinyAuth.url, 'http')]) {
        const session = await connect({
          host: '127.0.0.1', port: postfix.port, tls: 'starttls', servername: 'localhost', ca: certs.caCert, proxy, timeouts: { connect: 5_000 },
        });
        expect(session.tls).toMatchObject({ verified: 'ca' });
        const result = await session.send({ from: 'a@example.com', to: ['b@example.net'], data: MESSAGE });
        expect(result.accepted).toEqual(['b@example.net']);
        await session.quit();
      }
      expect(await postfix.waitForMessages(2)).toHaveLength(2);
    } finally {
      await postfix.stop();
    }
  });
});

describe('HTTP CONNECT through Tinyproxy', () => {
  it('http://: the message goes through', async () => {
    const { result } = await sendVia(tiny.url);
    expect(result.accepted).toEqual(['b@example.net']);
    expect(await tiny.log()).toContain(`Established connection to host "127.0.0.1" using file descriptor`);
  });

  it('http:// with Basic credentials', async () => {
    const { result } = await sendVia(withCredentials(tinyAuth.url, 'http'));
    expect(result.accepted).toEqual(['b@example.net']);
  });

  it('407 without credentials is ERR_SMTP_PROXY_AUTH; a wrong password too', async () => {
    await expect(sendVia(tinyAuth.url)).rejects.toMatchObject({ code: 'ERR_SMTP_PROXY_AUTH', message: expect.stringMatching(/407/) });
    await expect(sendVia(withCredentials(tinyAuth.url, 'http', CREDENTIALS.user, 'nope'))).rejects.toMatchObject({ code: 'ERR_SMTP_PROXY_AUTH' });
  });

  it('a port outside ConnectPort is ERR_SMTP_PROXY_REFUSED (403)', async () => {
    await expect(sendVia(tiny.url, '127.0.0.1', closedPort + 2)).rejects.toMatchObject({
      code: 'ERR_SMTP_PROXY_REFUSED', message: expect.stringMatching(/403/),
    });
  });
});

describe('the proxy hop under the connect timeout and the signal', () => {
  it('a proxy that accepts and then stalls times out after timeouts.connect', async () => {
    const started = Date.now();
    await expect(
      connect({ host: '127.0.0.1', port: sink.port, tls: 'none', proxy: silent.url, timeouts: { connect: 300 } }),
    ).rejects.toMatchObject({ kind: 'timeout', retryable: true });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('the caller aborts while an HTTP proxy stalls: kind aborted', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    await expect(
      connect({ host: '127.0.0.1', port: sink.port, tls: 'none', proxy: silent.url.replace('socks5', 'http'), signal: controller.signal }),
    ).rejects.toMatchObject({ kind: 'aborted' });
  });

  it('a proxy nobody listens on is a connection error naming the proxy', async () => {
    await expect(sendVia(`socks5://127.0.0.1:${closedPort}`)).rejects.toMatchObject({
      kind: 'connection', code: 'ERR_SMTP_CONNECTION', message: expect.stringMatching(/cannot connect to the proxy socks5:\/\/127\.0\.0\.1/),
    });
  });
});
