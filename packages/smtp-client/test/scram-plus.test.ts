import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual, X509Certificate } from 'node:crypto';
import { createInterface } from 'node:readline';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import { generateCertificates, type TestCertificates } from '@smtpkit/testkit';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../src/index.js';

// No server installed here offers SCRAM-…-PLUS (Dovecot 2.3 has SCRAM without channel binding), so the
// -PLUS forms run against this small SMTP server over node:tls, which checks the client's proof and its
// channel binding against the binding it computes from its own end of the TLS connection
// (RFC 9266 tls-exporter on TLS 1.3, RFC 5929 tls-server-end-point on TLS 1.2).

const USER = 'user';
const PASSWORD = 'pencil';
const SALT = randomBytes(16);
const ITERATIONS = 4096;
const salted = pbkdf2Sync(PASSWORD, SALT, ITERATIONS, 32, 'sha256');
const hmac = (key: Buffer, text: string) => createHmac('sha256', key).update(text).digest();
const storedKey = createHash('sha256').update(hmac(salted, 'Client Key')).digest();
const serverKey = hmac(salted, 'Server Key');

interface ServerOptions {
  maxVersion: 'TLSv1.2' | 'TLSv1.3';
  mechanisms: string;
  /** Corrupt the server signature, as an impostor without the verifier would. */
  badSignature?: boolean;
  /** Where the server-final message goes: a last 334 (default) or the 235 text. */
  finalIn?: '334' | '235';
}

let server: Server | undefined;
let certs: TestCertificates;
const seen: string[] = [];

beforeAll(async () => {
  certs = await generateCertificates();
});
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
  seen.length = 0;
});

function bindingOf(socket: TLSSocket): { type: string; data: Buffer } {
  if (socket.getProtocol() === 'TLSv1.3') return { type: 'tls-exporter', data: socket.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0)) };
  return { type: 'tls-server-end-point', data: createHash('sha256').update(new X509Certificate(certs.cert).raw).digest() };
}

async function startScramServer(o: ServerOptions): Promise<number> {
  server = createServer({ key: certs.key, cert: certs.cert, maxVersion: o.maxVersion }, (socket) => {
    const write = (line: string) => socket.write(`${line}\r\n`);
    const lines = createInterface({ input: socket, crlfDelay: Infinity });
    let state: { gs2: string; bare: string; nonce: string; serverFirst: string; plus: boolean } | undefined;
    let expectEmpty = false;
    write('220 scram-plus.test ESMTP');
    lines.on('line', (line) => {
      if (/^EHLO /i.test(line)) return write(`250-scram-plus.test\r\n250 AUTH ${o.mechanisms}`);
      if (/^QUIT/i.test(line)) {
        write('221 bye');
        return socket.end();
      }
      const auth = /^AUTH (SCRAM-SHA-256(?:-PLUS)?) (\S+)$/.exec(line);
      if (auth) {
        const first = Buffer.from(auth[2] as string, 'base64').toString();
        const m = /^((?:p=[a-z-]+|y|n),,)(n=[^,]+,r=(.+))$/.exec(first);
        if (!m) return write('501 bad client-first');
        seen.push(`${auth[1]} ${m[1]}`);
        const nonce = `${m[3]}${randomBytes(12).toString('base64')}`;
        const serverFirst = `r=${nonce},s=${SALT.toString('base64')},i=${ITERATIONS}`;
        state = { gs2: m[1] as string, bare: m[2] as string, nonce, serverFirst, plus: auth[1]!.endsWith('-PLUS') };
        return write(`334 ${Buffer.from(serverFirst).toString('base64')}`);
      }
      if (expectEmpty) return write(line === '' ? '235 2.7.0 ok' : '535 5.7.8 cancelled');
      if (!state) return write('503 bad sequence');
      const final = Buffer.from(line, 'base64').toString();
      const m = /^c=([^,]+),r=([^,]+),p=(.+)$/.exec(final);
      if (!m || m[2] !== state.nonce) return write('535 5.7.8 bad client-final');
      const expectedC = Buffer.concat([Buffer.from(state.gs2), state.plus ? bindingOf(socket).data : Buffer.alloc(0)]);
      if (!Buffer.from(m[1] as string, 'base64').equals(expectedC)) return write('535 5.7.8 channel bindings do not match');
      const authMessage = `${state.bare},${state.serverFirst},c=${m[1]},r=${m[2]}`;
      const signature = hmac(storedKey, authMessage);
      const proof = Buffer.from(m[3] as string, 'base64');
      const clientKey = Buffer.from(proof.map((b, i) => b ^ (signature[i] as number)));
      if (!timingSafeEqual(createHash('sha256').update(clientKey).digest(), storedKey)) return write('535 5.7.8 bad proof');
      const v = hmac(serverKey, authMessage);
      if (o.badSignature) v[0] = (v[0] as number) ^ 0xff;
      const serverFinal = Buffer.from(`v=${v.toString('base64')}`).toString('base64');
      if (o.finalIn === '235') return write(`235 ${serverFinal}`);
      expectEmpty = true;
      return write(`334 ${serverFinal}`);
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

const options = (port: number) => ({
  host: '127.0.0.1', port, tls: 'implicit' as const, servername: 'localhost', ca: certs.caCert,
  auth: { user: USER, pass: PASSWORD }, stopAfter: 'auth' as const,
});

describe('SCRAM-SHA-256-PLUS with channel binding', () => {
  it('TLS 1.3: chosen by itself when offered, bound with tls-exporter (RFC 9266)', async () => {
    const port = await startScramServer({ maxVersion: 'TLSv1.3', mechanisms: 'SCRAM-SHA-256 SCRAM-SHA-256-PLUS PLAIN' });
    const session = await connect(options(port));
    expect(session.authenticated).toBe('SCRAM-SHA-256-PLUS');
    expect(seen).toEqual(['SCRAM-SHA-256-PLUS p=tls-exporter,,']);
  });

  it('TLS 1.2: bound with tls-server-end-point (RFC 5929 §4.1)', async () => {
    const port = await startScramServer({ maxVersion: 'TLSv1.2', mechanisms: 'SCRAM-SHA-256-PLUS' });
    const session = await connect({ ...options(port), auth: { user: USER, pass: PASSWORD, method: 'SCRAM-SHA-256' } });
    expect(session.authenticated).toBe('SCRAM-SHA-256-PLUS');
    expect(seen).toEqual(['SCRAM-SHA-256-PLUS p=tls-server-end-point,,']);
  });

  it('without -PLUS on offer, over TLS: flag "y" (we could bind; a downgrade would show)', async () => {
    const port = await startScramServer({ maxVersion: 'TLSv1.3', mechanisms: 'SCRAM-SHA-256' });
    const session = await connect(options(port));
    expect(session.authenticated).toBe('SCRAM-SHA-256');
    expect(seen).toEqual(['SCRAM-SHA-256 y,,']);
  });

  it('the server-final message in the 235 text is verified too', async () => {
    const port = await startScramServer({ maxVersion: 'TLSv1.3', mechanisms: 'SCRAM-SHA-256-PLUS', finalIn: '235' });
    expect((await connect(options(port))).authenticated).toBe('SCRAM-SHA-256-PLUS');
  });

  it.each(['334', '235'] as const)('a server that cannot prove it knows the password fails (final in %s)', async (finalIn) => {
    const port = await startScramServer({ maxVersion: 'TLSv1.3', mechanisms: 'SCRAM-SHA-256-PLUS', badSignature: true, finalIn });
    await expect(connect(options(port))).rejects.toMatchObject({ kind: 'auth', code: 'ERR_SMTP_AUTH_SERVER_SIGNATURE' });
  });
});
