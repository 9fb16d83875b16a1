import { inspect } from 'node:util';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SMTPServer } from 'smtp-server';
import { connect, sendMail } from '../src/index.js';
import { startFaultServer, reply, ehloLines, type FaultServer } from '../src/testing.js';
import type { AuthMethod, ConnectOptions, TranscriptEvent } from '../src/index.js';

// Secrets in logs (nodemailer passes a hand-built logStr at each AUTH branch; one forgotten branch
// leaks): passwords and tokens must never appear in the transcript, in a thrown error (message,
// stack, cause chain, util.inspect, JSON) or in a result, whatever the mechanism and whether AUTH
// succeeds or fails. Checked for the secret itself and for every base64 form a client could log:
// alone, and inside the PLAIN (RFC 4616), XOAUTH2 and OAUTHBEARER (RFC 7628) payloads.

const USER = 'alice@example.com';
const PASSWORD = 'pw-Sup3r$ecret-7731';
const WRONG_PASSWORD = 'pw-Wr0ng$ecret-0042';
const TOKEN = 'ya29.tok-Zeta-0451-secret';
const WRONG_TOKEN = 'ya29.tok-Expired-9911-secret';
const REFRESHED_TOKEN = 'ya29.tok-Fresh-3377-secret';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

/**
 * Every string that would betray `secret`: the secret, its base64 at each of the three alignments it
 * can have inside a longer base64 payload (so a leaked PLAIN or XOAUTH2 blob is caught even though its
 * prefix differs), and the whole payloads the mechanisms send.
 */
function forms(secret: string, host: string, port: number): string[] {
  const out = new Set<string>([secret, b64(secret)]);
  for (const pad of ['', 'x', 'xx']) {
    const encoded = b64(pad + secret);
    const skip = Math.ceil((pad.length * 4) / 3);
    out.add(encoded.slice(skip + 1, encoded.length - 4)); // the stable middle, whatever surrounds it
  }
  out.add(b64(`\0${USER}\0${secret}`));
  out.add(b64(`user=${USER}\x01auth=Bearer ${secret}\x01\x01`));
  out.add(b64(`n,a=${USER},\x01host=${host}\x01port=${port}\x01auth=Bearer ${secret}\x01\x01`));
  return [...out].filter((f) => f.length >= 8);
}

/** Everything observable about an error: message, stack, cause chain, inspect and JSON forms. */
function dumpError(err: unknown): string {
  const parts: string[] = [String(err), inspect(err, { depth: 10, showHidden: true }), JSON.stringify(err) ?? ''];
  let e: unknown = err;
  for (let i = 0; e && i < 10; i++) {
    parts.push(String((e as Error).message), String((e as Error).stack));
    e = (e as Error).cause;
  }
  return parts.join('\n');
}

function expectNoSecret(captured: string, secrets: string[], host: string, port: number): void {
  for (const secret of secrets) {
    for (const form of forms(secret, host, port)) {
      expect(captured.includes(form), `captured output contains ${JSON.stringify(form)} (a form of a secret)`).toBe(false);
    }
  }
}

/** Sanity: the grep finds a secret where there is one, so a pass means something. */
describe('secret detector', () => {
  it('finds the password inside a leaked PLAIN payload and the token inside a leaked XOAUTH2 payload', () => {
    const leakedPlain = `C: AUTH PLAIN ${b64(`\0${USER}\0${PASSWORD}`)}`;
    const leakedXoauth = `C: AUTH XOAUTH2 ${b64(`user=${USER}\x01auth=Bearer ${TOKEN}\x01\x01`)}`;
    expect(() => expectNoSecret(leakedPlain, [PASSWORD], '127.0.0.1', 25)).toThrow();
    expect(() => expectNoSecret(leakedXoauth, [TOKEN], '127.0.0.1', 25)).toThrow();
    expect(() => expectNoSecret(`embedded ${b64(`x${PASSWORD}`)} here`, [PASSWORD], '127.0.0.1', 25)).toThrow();
    expect(() => expectNoSecret('C: AUTH PLAIN <redacted>', [PASSWORD], '127.0.0.1', 25)).not.toThrow();
  });
});

describe('secrets never leave the AUTH exchange (smtp-server: PLAIN, LOGIN, CRAM-MD5, XOAUTH2)', () => {
  let server: SMTPServer;
  let port: number;
  beforeAll(async () => {
    server = new SMTPServer({
      logger: false,
      disableReverseLookup: true,
      disabledCommands: ['STARTTLS'],
      allowInsecureAuth: true,
      authMethods: ['PLAIN', 'LOGIN', 'CRAM-MD5', 'XOAUTH2'],
      onAuth(auth, _session, cb) {
        const ok =
          auth.username === USER &&
          (auth.method === 'XOAUTH2'
            ? auth.accessToken === TOKEN || auth.accessToken === REFRESHED_TOKEN
            : auth.method === 'CRAM-MD5'
              ? auth.validatePassword(PASSWORD)
              : auth.password === PASSWORD);
        if (ok) cb(null, { user: USER });
        else if (auth.method === 'XOAUTH2') cb(null, { data: { status: '401', schemes: 'bearer', scope: 'https://mail.google.com/' } });
        else cb(Object.assign(new Error('Authentication credentials invalid'), { responseCode: 535 }));
      },
      onData(stream, _session, cb) {
        stream.on('data', () => undefined);
        stream.on('end', () => cb());
      },
    });
    server.on('error', () => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const options = (method: AuthMethod, secret: string, events: TranscriptEvent[]): ConnectOptions => ({
    host: '127.0.0.1',
    port,
    tls: 'none',
    allowInsecureAuth: true,
    onTranscript: (e) => events.push(e),
    auth: method === 'XOAUTH2' ? { user: USER, method, accessToken: secret } : { user: USER, method, pass: secret },
  });

  for (const method of ['PLAIN', 'LOGIN', 'CRAM-MD5', 'XOAUTH2'] as const) {
    const good = method === 'XOAUTH2' ? TOKEN : PASSWORD;
    const bad = method === 'XOAUTH2' ? WRONG_TOKEN : WRONG_PASSWORD;

    it(`${method} success: no secret in the transcript, the session or the send result`, async () => {
      const events: TranscriptEvent[] = [];
      const session = await connect(options(method, good, events));
      expect(session.authenticated).toBe(method);
      const result = await session.send({ from: USER, to: ['bob@example.net'], data: 'Subject: s\r\n\r\nbody\r\n' });
      await session.quit();
      expect(events.some((e) => e.dir === 'C' && e.text.startsWith(`AUTH ${method}`))).toBe(true);
      const captured = [JSON.stringify(events), inspect(session, { depth: 10, showHidden: true }), inspect(result, { depth: 10 }), JSON.stringify(result)].join('\n');
      expectNoSecret(captured, [good], '127.0.0.1', port);
    });

    it(`${method} failure (535): no secret in the transcript or the error (message, stack, cause, inspect, JSON)`, async () => {
      const events: TranscriptEvent[] = [];
      const err = await connect(options(method, bad, events)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ name: 'SmtpError', kind: 'auth', replyCode: 535 });
      expectNoSecret([JSON.stringify(events), dumpError(err)].join('\n'), [bad], '127.0.0.1', port);
    });

    it(`${method} through sendMail, failing: no secret in the error it throws`, async () => {
      const events: TranscriptEvent[] = [];
      const err = await sendMail({ ...options(method, bad, events), from: USER, to: ['bob@example.net'], data: 'x\r\n' }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ kind: 'auth' });
      expectNoSecret([JSON.stringify(events), dumpError(err)].join('\n'), [bad], '127.0.0.1', port);
    });
  }

  it('XOAUTH2 with a token provider: the refused token and the refreshed one both stay out of every output', async () => {
    const events: TranscriptEvent[] = [];
    const session = await connect({
      ...options('XOAUTH2', WRONG_TOKEN, events),
      auth: { user: USER, method: 'XOAUTH2', accessToken: ({ refresh }) => (refresh ? REFRESHED_TOKEN : WRONG_TOKEN) },
    });
    expect(session.authenticated).toBe('XOAUTH2');
    await session.quit();
    expect(events.filter((e) => /^AUTH XOAUTH2/.test(e.text))).toHaveLength(2);
    expectNoSecret([JSON.stringify(events), inspect(session, { depth: 10, showHidden: true })].join('\n'), [WRONG_TOKEN, REFRESHED_TOKEN], '127.0.0.1', port);
  });

  it('a token provider that throws: its message is kept, a token it closed over is not invented into the error', async () => {
    const events: TranscriptEvent[] = [];
    const err = await connect({
      ...options('XOAUTH2', TOKEN, events),
      auth: {
        user: USER,
        method: 'XOAUTH2',
        accessToken: () => {
          throw new Error('token endpoint unreachable');
        },
      },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ kind: 'auth', code: 'ERR_SMTP_AUTH_TOKEN' });
    expect(dumpError(err)).toContain('token endpoint unreachable');
    expectNoSecret([JSON.stringify(events), dumpError(err)].join('\n'), [TOKEN], '127.0.0.1', port);
  });
});

describe('secrets never leave the AUTH exchange (OAUTHBEARER, RFC 7628, on the fault server)', () => {
  // smtp-server has no OAUTHBEARER: a scripted server answers it, with success or the RFC 7628 §3.2.2
  // error challenge followed by 535.
  let ok: FaultServer;
  let refused: FaultServer;
  const greet = [{ send: reply(220, 'fault.test ESMTP') }, { expect: /^EHLO / }, { send: reply(250, ehloLines({ auth: ['OAUTHBEARER'] })) }];
  beforeAll(async () => {
    ok = await startFaultServer([...greet, { expect: /^AUTH OAUTHBEARER / }, { send: '235 2.7.0 accepted\r\n' }, { expect: /^QUIT/ }, { send: '221 bye\r\n' }, { close: true }]);
    refused = await startFaultServer([
      ...greet,
      { expect: /^AUTH OAUTHBEARER / },
      { send: `334 ${b64('{"status":"invalid_token","scope":"mail"}')}\r\n` },
      { expect: /^AQ==$/ },
      { send: '535 5.7.8 invalid token\r\n' },
      { close: true },
    ]);
  });
  afterAll(async () => {
    await ok.close();
    await refused.close();
  });

  it('OAUTHBEARER success: no token in the transcript or the session', async () => {
    const events: TranscriptEvent[] = [];
    const session = await connect({ host: ok.host, port: ok.port, tls: 'none', allowInsecureAuth: true, onTranscript: (e) => events.push(e), auth: { user: USER, method: 'OAUTHBEARER', accessToken: TOKEN } });
    expect(session.authenticated).toBe('OAUTHBEARER');
    await session.quit();
    // The server did get the token: the check below is about what the client reports, not what it sent.
    expect(ok.received().toString('latin1')).toContain(b64(`n,a=${USER},\x01host=${ok.host}\x01port=${ok.port}\x01auth=Bearer ${TOKEN}\x01\x01`));
    expectNoSecret([JSON.stringify(events), inspect(session, { depth: 10, showHidden: true })].join('\n'), [TOKEN], ok.host, ok.port);
  });

  it('OAUTHBEARER failure (334 error challenge, then 535): no token in the transcript or the error', async () => {
    const events: TranscriptEvent[] = [];
    const err = await connect({ host: refused.host, port: refused.port, tls: 'none', allowInsecureAuth: true, onTranscript: (e) => events.push(e), auth: { user: USER, method: 'OAUTHBEARER', accessToken: WRONG_TOKEN } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ kind: 'auth', replyCode: 535 });
    expectNoSecret([JSON.stringify(events), dumpError(err)].join('\n'), [WRONG_TOKEN], refused.host, refused.port);
  });
});
