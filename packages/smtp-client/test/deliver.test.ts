import { createServer, type AddressInfo } from 'node:net';
import { generateCertificates } from '@smtpkit/testkit';
import { isSmtpError, type SmtpError } from '@smtpkit/wire';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../src/connect.js';
import { deliver, type DeliverOptions } from '../src/deliver.js';
import type { MxRecord } from '../src/mx.js';
import type { ConnectOptions } from '../src/types.js';
import { tableResolver } from './mx-resolver.js';
import { startLineServer, startRecordingServer, type RecordingServer } from './pool-server.js';

const servers: RecordingServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function server(hooks?: Parameters<typeof startRecordingServer>[0]): Promise<RecordingServer> {
  const s = await startRecordingServer(hooks);
  servers.push(s);
  return s;
}

/** A port on 127.0.0.1 where nothing listens (bound, then released). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

const BODY = 'Subject: direct\r\n\r\nhello MX\r\n';

/**
 * A world of test domains: every MX name resolves to 127.0.0.1 through the injected resolver, and
 * the connect hook routes each MX name (the TLS servername deliver() passes) to its server's port.
 */
function world(mx: Record<string, MxRecord[]>, ports: Record<string, number>, a: Record<string, string[]> = {}) {
  const names = Object.keys(ports);
  const resolver = tableResolver({
    mx,
    a: { ...Object.fromEntries(names.map((n) => [n, ['127.0.0.1']])), ...a },
  });
  const connects: ConnectOptions[] = [];
  const connectFn = (o: ConnectOptions) => {
    connects.push(o);
    const port = ports[o.servername ?? ''];
    if (port === undefined) throw new Error(`test routing: no server for ${String(o.servername)}`);
    return connect({ ...o, port });
  };
  return { resolver, connectFn, connects };
}

function options(w: ReturnType<typeof world>, to: string[], extra: Partial<DeliverOptions> = {}): DeliverOptions {
  return {
    from: 'sender@origin.test',
    to,
    data: BODY,
    resolver: w.resolver,
    connectFn: w.connectFn,
    clientName: 'origin.test',
    ...extra,
  };
}

const refuse = (code: number, text = 'refused') => Object.assign(new Error(text), { responseCode: code });

describe('deliver: MX preference and fallback', () => {
  it('uses the lowest preference first', async () => {
    const best = await server();
    const backup = await server();
    const w = world(
      { 'dest.test': [{ exchange: 'mx20.dest.test', priority: 20 }, { exchange: 'mx10.dest.test', priority: 10 }] },
      { 'mx10.dest.test': best.port, 'mx20.dest.test': backup.port },
    );
    const r = await deliver(options(w, ['bob@dest.test']));
    expect(r.accepted).toEqual(['bob@dest.test']);
    expect(r.rejected).toEqual([]);
    expect(r.domains).toHaveLength(1);
    expect(r.domains[0]).toMatchObject({ domain: 'dest.test', mx: 'mx10.dest.test', recipients: ['bob@dest.test'] });
    expect(r.domains[0]!.attempts).toEqual([{ host: 'mx10.dest.test', address: '127.0.0.1', tls: null }]);
    expect(best.messages).toEqual([
      expect.objectContaining({ from: 'sender@origin.test', to: ['bob@dest.test'], data: BODY }),
    ]);
    expect(backup.connections).toBe(0);
    // port 25 and opportunistic TLS are the defaults handed to connect (the test routes the port)
    expect(w.connects[0]).toMatchObject({ host: '127.0.0.1', port: 25, tls: 'opportunistic', servername: 'mx10.dest.test' });
  });

  it('moves to the next MX when the connection is refused', async () => {
    const backup = await server();
    const w = world(
      { 'dest.test': [{ exchange: 'mx10.dest.test', priority: 10 }, { exchange: 'mx20.dest.test', priority: 20 }] },
      { 'mx10.dest.test': await closedPort(), 'mx20.dest.test': backup.port },
    );
    const r = await deliver(options(w, ['bob@dest.test']));
    expect(r.domains[0]!.mx).toBe('mx20.dest.test');
    const [first, second] = r.domains[0]!.attempts;
    expect(first).toMatchObject({ host: 'mx10.dest.test', error: { kind: 'connection' } });
    expect(second).toMatchObject({ host: 'mx20.dest.test' });
    expect(second!.error).toBeUndefined();
    expect(backup.messages.map((m) => m.to)).toEqual([['bob@dest.test']]);
  });

  it('moves to the next MX on a 421 greeting and on a 4xx reply', async () => {
    const busy = await server({ onConnect: (_s, cb) => cb(refuse(421, 'too busy')) });
    const deferring = await server({ onMailFrom: (_a, _s, cb) => cb(refuse(451, 'greylisted')) });
    const good = await server();
    const w = world(
      {
        'dest.test': [
          { exchange: 'mx1.dest.test', priority: 1 },
          { exchange: 'mx2.dest.test', priority: 2 },
          { exchange: 'mx3.dest.test', priority: 3 },
        ],
      },
      { 'mx1.dest.test': busy.port, 'mx2.dest.test': deferring.port, 'mx3.dest.test': good.port },
    );
    const r = await deliver(options(w, ['bob@dest.test']));
    const d = r.domains[0]!;
    expect(d.mx).toBe('mx3.dest.test');
    expect(d.attempts.map((a) => [a.host, a.error?.replyCode])).toEqual([
      ['mx1.dest.test', 421],
      ['mx2.dest.test', 451],
      ['mx3.dest.test', undefined],
    ]);
    expect(busy.messages).toHaveLength(0);
    expect(deferring.messages).toHaveLength(0);
    expect(good.messages).toHaveLength(1);
    expect(r.accepted).toEqual(['bob@dest.test']);
  });

  it('stops at a 5xx reply without trying the next MX', async () => {
    const strict = await server({ onMailFrom: (_a, _s, cb) => cb(refuse(550, 'sender rejected')) });
    const backup = await server();
    const w = world(
      { 'dest.test': [{ exchange: 'mx1.dest.test', priority: 1 }, { exchange: 'mx2.dest.test', priority: 2 }] },
      { 'mx1.dest.test': strict.port, 'mx2.dest.test': backup.port },
    );
    const r = await deliver(options(w, ['bob@dest.test', 'carol@dest.test']));
    const d = r.domains[0]!;
    expect(d.mx).toBeUndefined();
    expect(d.error).toMatchObject({ kind: 'reply', replyCode: 550, retryable: false });
    expect(d.attempts).toHaveLength(1);
    expect(backup.connections).toBe(0);
    expect(r.accepted).toEqual([]);
    expect(r.rejected.map((x) => [x.address, x.error.replyCode])).toEqual([
      ['bob@dest.test', 550],
      ['carol@dest.test', 550],
    ]);
  });

  it('reports every MX failing as the last error, keeping every attempt', async () => {
    const w = world(
      { 'dest.test': [{ exchange: 'mx1.dest.test', priority: 1 }, { exchange: 'mx2.dest.test', priority: 2 }] },
      { 'mx1.dest.test': await closedPort(), 'mx2.dest.test': await closedPort() },
    );
    const r = await deliver(options(w, ['bob@dest.test']));
    expect(r.domains[0]!.attempts.map((a) => a.host)).toEqual(['mx1.dest.test', 'mx2.dest.test']);
    expect(r.domains[0]!.error).toMatchObject({ kind: 'connection', retryable: true });
    expect(r.rejected.map((x) => x.address)).toEqual(['bob@dest.test']);
  });

  it('moves on when the connection drops before the body, but not after an unanswered end of data', async () => {
    const dropsEarly = await startLineServer(['hang-up-after-mail']);
    const dropsLate = await startLineServer(['hang-up-after-dot']);
    const backup = await server();
    try {
      const mx = { 'dest.test': [{ exchange: 'mx1.dest.test', priority: 1 }, { exchange: 'mx2.dest.test', priority: 2 }] };
      const early = await deliver(options(world(mx, { 'mx1.dest.test': dropsEarly.port, 'mx2.dest.test': backup.port }), ['a@dest.test']));
      expect(early.domains[0]!.mx).toBe('mx2.dest.test');
      expect(backup.messages.map((m) => m.to)).toEqual([['a@dest.test']]);

      const late = await deliver(options(world(mx, { 'mx1.dest.test': dropsLate.port, 'mx2.dest.test': backup.port }), ['b@dest.test']));
      expect(late.domains[0]!.error).toMatchObject({ code: 'ERR_SMTP_OUTCOME_UNKNOWN', retryable: false });
      expect(late.domains[0]!.attempts.map((a) => a.host)).toEqual(['mx1.dest.test']);
      expect(dropsLate.messages).toHaveLength(1);
      expect(backup.messages).toHaveLength(1);
      expect(late.rejected.map((x) => x.error.code)).toEqual(['ERR_SMTP_OUTCOME_UNKNOWN']);
    } finally {
      await Promise.all([dropsEarly.close(), dropsLate.close()]);
    }
  });

  it('orders MX hosts of equal preference with the injected random', async () => {
    const left = await server();
    const right = await server();
    const mx = { 'tie.test': [{ exchange: 'left.tie.test', priority: 5 }, { exchange: 'right.tie.test', priority: 5 }] };
    const ports = { 'left.tie.test': left.port, 'right.tie.test': right.port };
    const high = await deliver(options(world(mx, ports), ['a@tie.test'], { random: () => 0.99 }));
    const low = await deliver(options(world(mx, ports), ['b@tie.test'], { random: () => 0 }));
    expect([high.domains[0]!.mx, low.domains[0]!.mx]).toEqual(['left.tie.test', 'right.tie.test']);
    expect(left.messages.map((m) => m.to)).toEqual([['a@tie.test']]);
    expect(right.messages.map((m) => m.to)).toEqual([['b@tie.test']]);
  });
});

describe('deliver: TLS', () => {
  it('uses STARTTLS opportunistically without requiring a verifiable certificate (RFC 7435)', async () => {
    const certs = await generateCertificates();
    const tlsMx = await server({ tls: { key: certs.key, cert: certs.cert } });
    const w = world({ 'dest.test': [{ exchange: 'mx.dest.test', priority: 1 }] }, { 'mx.dest.test': tlsMx.port });
    const r = await deliver(options(w, ['bob@dest.test']));
    expect(r.accepted).toEqual(['bob@dest.test']);
    expect(r.domains[0]!.attempts[0]!.tls).toMatchObject({ verified: 'none', authorized: false });
    expect(tlsMx.messages).toEqual([expect.objectContaining({ secure: true, data: BODY })]);
  });

  it('verifies the certificate against the MX name when asked', async () => {
    const certs = await generateCertificates();
    const tlsMx = await server({ tls: { key: certs.key, cert: certs.cert } });
    // the certificate names localhost, so the MX name "localhost" verifies against the test CA
    const w = world({ 'dest.test': [{ exchange: 'localhost', priority: 1 }] }, { localhost: tlsMx.port });
    const ok = await deliver(options(w, ['bob@dest.test'], { tls: 'starttls', rejectUnauthorized: true, ca: certs.caCert }));
    expect(ok.domains[0]!.attempts[0]!.tls).toMatchObject({ verified: 'ca', authorized: true });
    const bad = await deliver(options(w, ['carol@dest.test'], { tls: 'starttls', rejectUnauthorized: true }));
    expect(bad.domains[0]!.error).toMatchObject({ kind: 'tls' });
    expect(tlsMx.messages.map((m) => m.to)).toEqual([['bob@dest.test']]);
  });
});

describe('deliver: DNS cases', () => {
  it('uses the A record of a domain without MX (implicit MX)', async () => {
    const plain = await server();
    const w = world({}, { 'plain.test': plain.port });
    const r = await deliver(options(w, ['dora@plain.test']));
    expect(r.domains[0]).toMatchObject({ domain: 'plain.test', mx: 'plain.test' });
    expect(plain.messages.map((m) => m.to)).toEqual([['dora@plain.test']]);
    expect(w.resolver.queries.slice(0, 2)).toEqual(['MX plain.test', 'A plain.test']);
  });

  it('fails a null-MX domain permanently without connecting (RFC 7505)', async () => {
    const w = world({ 'nomail.test': [{ exchange: '', priority: 0 }] }, {}, { 'nomail.test': ['127.0.0.1'] });
    const r = await deliver(options(w, ['x@nomail.test']));
    const d = r.domains[0]!;
    expect(d.error).toMatchObject({ kind: 'connection', code: 'ERR_SMTP_NULL_MX', retryable: false });
    expect(d.error!.replyCode).toBeUndefined();
    expect(d.attempts).toEqual([]);
    expect(w.connects).toHaveLength(0);
    expect(r.rejected).toEqual([expect.objectContaining({ address: 'x@nomail.test', domain: 'nomail.test' })]);
  });

  it('fails a domain that does not exist', async () => {
    const w = world({}, {});
    const r = await deliver(
      options({ ...w, resolver: tableResolver({ mx: { 'gone.test': 'ENOTFOUND' } }) }, ['x@gone.test']),
    );
    expect(r.domains[0]!.error).toMatchObject({ code: 'ERR_SMTP_DOMAIN_NOT_FOUND', retryable: false });
    expect(w.connects).toHaveLength(0);
  });
});

describe('deliver: several domains', () => {
  it('sends one transaction per domain, each to its own server', async () => {
    const alpha = await server();
    const beta = await server();
    const w = world(
      {
        'alpha.test': [{ exchange: 'mx.alpha.test', priority: 10 }],
        'beta.test': [{ exchange: 'mx.beta.test', priority: 10 }],
      },
      { 'mx.alpha.test': alpha.port, 'mx.beta.test': beta.port },
    );
    const r = await deliver(options(w, ['a1@alpha.test', 'b1@Beta.TEST', 'a2@ALPHA.test']));
    expect(r.domains.map((d) => [d.domain, d.mx, d.recipients])).toEqual([
      ['alpha.test', 'mx.alpha.test', ['a1@alpha.test', 'a2@ALPHA.test']],
      ['beta.test', 'mx.beta.test', ['b1@Beta.TEST']],
    ]);
    expect(alpha.messages).toEqual([expect.objectContaining({ to: ['a1@alpha.test', 'a2@ALPHA.test'], data: BODY })]);
    expect(beta.messages).toEqual([expect.objectContaining({ to: ['b1@Beta.TEST'], data: BODY })]);
    expect(alpha.connections).toBe(1);
    expect(beta.connections).toBe(1);
    expect(r.accepted.sort()).toEqual(['a1@alpha.test', 'a2@ALPHA.test', 'b1@Beta.TEST'].sort());
  });

  it('reports recipients refused one by one, and a failed domain beside a delivered one', async () => {
    const alpha = await server({
      onRcptTo: (addr, _s, cb) => (addr.address.startsWith('nobody') ? cb(refuse(550, 'no such user')) : cb()),
    });
    const w = world(
      { 'alpha.test': [{ exchange: 'mx.alpha.test', priority: 10 }], 'void.test': [{ exchange: '.', priority: 0 }] },
      { 'mx.alpha.test': alpha.port },
    );
    const r = await deliver(options(w, ['ok@alpha.test', 'nobody@alpha.test', 'v@void.test']));
    expect(r.accepted).toEqual(['ok@alpha.test']);
    expect(r.rejected.map((x) => [x.address, x.error.replyCode ?? x.error.code])).toEqual([
      ['nobody@alpha.test', 550],
      ['v@void.test', 'ERR_SMTP_NULL_MX'],
    ]);
    expect(alpha.messages.map((m) => m.to)).toEqual([['ok@alpha.test']]);
  });

  it('reads a data function once per transaction', async () => {
    const alpha = await server();
    const beta = await server();
    const w = world(
      { 'alpha.test': [{ exchange: 'mx.alpha.test', priority: 1 }], 'beta.test': [{ exchange: 'mx.beta.test', priority: 1 }] },
      { 'mx.alpha.test': alpha.port, 'mx.beta.test': beta.port },
    );
    let calls = 0;
    const data = () => {
      calls++;
      return (async function* () {
        yield new TextEncoder().encode(BODY);
      })();
    };
    const r = await deliver(options(w, ['a@alpha.test', 'b@beta.test'], { data }));
    expect(r.accepted).toHaveLength(2);
    expect(calls).toBe(2);
    expect([alpha.messages[0]!.data, beta.messages[0]!.data]).toEqual([BODY, BODY]);
  });
});

describe('deliver: input errors before any connection', () => {
  async function thrown(p: Promise<unknown>): Promise<SmtpError> {
    const e = await p.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(isSmtpError(e)).toBe(true);
    return e as SmtpError;
  }

  it('refuses a one-shot stream for recipients in several domains', async () => {
    const w = world({}, {});
    const stream = (async function* () {
      yield new TextEncoder().encode(BODY);
    })();
    const e = await thrown(deliver(options(w, ['a@alpha.test', 'b@beta.test'], { data: stream })));
    expect(e).toMatchObject({ kind: 'input', code: 'ERR_SMTP_DATA_NOT_REREADABLE' });
    expect(w.resolver.queries).toEqual([]);
  });

  it('refuses invalid recipients and an empty list', async () => {
    const w = world({}, {});
    expect((await thrown(deliver(options(w, ['no-at-sign'])))).kind).toBe('input');
    expect((await thrown(deliver(options(w, ['ok@a.test', 'bad\r\nRCPT@b.test'])))).kind).toBe('input');
    expect((await thrown(deliver(options(w, [])))).kind).toBe('input');
    expect(w.resolver.queries).toEqual([]);
  });

  it('falls back to the next MX after a 4xx to the end of data, but never re-reads a one-shot stream', async () => {
    const deferring = await server({ refuseData: () => refuse(451, 'try again later') });
    const good = await server();
    const mx = { 'dest.test': [{ exchange: 'mx1.dest.test', priority: 1 }, { exchange: 'mx2.dest.test', priority: 2 }] };
    const ports = { 'mx1.dest.test': deferring.port, 'mx2.dest.test': good.port };

    const again = await deliver(options(world(mx, ports), ['bob@dest.test']));
    expect(again.domains[0]!.attempts.map((a) => [a.host, a.error?.replyCode])).toEqual([
      ['mx1.dest.test', 451],
      ['mx2.dest.test', undefined],
    ]);
    expect(good.messages.map((m) => m.data)).toEqual([BODY]);

    const stream = (async function* () {
      yield new TextEncoder().encode(BODY);
    })();
    const once = await deliver(options(world(mx, ports), ['carol@dest.test'], { data: stream }));
    expect(once.domains[0]!.attempts.map((a) => a.host)).toEqual(['mx1.dest.test']);
    expect(once.domains[0]!.error).toMatchObject({ replyCode: 451 });
    expect(once.rejected.map((x) => x.address)).toEqual(['carol@dest.test']);
    expect(good.messages).toHaveLength(1);
  });
});
