import { isSmtpError, type SmtpError } from '@smtpkit/wire';
import { describe, expect, it } from 'vitest';
import { orderMx, parseAddressLiteral, resolveAddresses, resolveMailHosts, type MxRecord } from '../src/mx.js';
import { tableResolver } from './mx-resolver.js';

/** A deterministic `random` for tie shuffles. */
function seeded(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

async function failure(p: Promise<unknown>): Promise<SmtpError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(isSmtpError(e)).toBe(true);
  return e as SmtpError;
}

describe('orderMx', () => {
  const records: MxRecord[] = [
    { exchange: 'c', priority: 20 },
    { exchange: 'a1', priority: 10 },
    { exchange: 'b', priority: 15 },
    { exchange: 'a2', priority: 10 },
    { exchange: 'a3', priority: 10 },
  ];

  it('puts the lowest preference first and keeps groups in preference order', () => {
    const order = orderMx(records, seeded(1)).map((r) => r.priority);
    expect(order).toEqual([10, 10, 10, 15, 20]);
  });

  it('shuffles ties (RFC 5321 §5.1), deterministically for a given random', () => {
    const a = orderMx(records, seeded(7)).map((r) => r.exchange);
    const b = orderMx(records, seeded(7)).map((r) => r.exchange);
    expect(a).toEqual(b);
    const seen = new Set<string>();
    for (let seed = 1; seed <= 40; seed++) seen.add(orderMx(records, seeded(seed))[0]!.exchange);
    expect([...seen].sort()).toEqual(['a1', 'a2', 'a3']);
  });

  it('does not modify its input', () => {
    const copy = structuredClone(records);
    orderMx(records, seeded(3));
    expect(records).toEqual(copy);
  });
});

describe('resolveMailHosts', () => {
  it('returns MX hosts best first, trailing dots removed', async () => {
    const resolver = tableResolver({
      mx: { 'example.test': [{ exchange: 'mx2.example.test.', priority: 20 }, { exchange: 'mx1.example.test', priority: 10 }] },
    });
    const hosts = await resolveMailHosts('Example.TEST', { resolver });
    expect(hosts.map((h) => [h.host, h.priority, h.implicit])).toEqual([
      ['mx1.example.test', 10, false],
      ['mx2.example.test', 20, false],
    ]);
    expect(resolver.queries).toEqual(['MX example.test']);
  });

  it('falls back to the A/AAAA records of the domain when it has no MX (implicit MX)', async () => {
    const resolver = tableResolver({ a: { 'plain.test': ['127.0.0.1'] }, aaaa: { 'plain.test': ['::1'] } });
    const hosts = await resolveMailHosts('plain.test', { resolver });
    expect(hosts).toEqual([{ host: 'plain.test', priority: 0, implicit: true, addresses: ['127.0.0.1', '::1'] }]);
  });

  it('treats an empty MX answer like NODATA', async () => {
    const resolver = tableResolver({ mx: { 'e.test': [] }, a: { 'e.test': ['127.0.0.1'] } });
    expect((await resolveMailHosts('e.test', { resolver }))[0]).toMatchObject({ implicit: true, addresses: ['127.0.0.1'] });
  });

  it('honours family when resolving an implicit MX', async () => {
    const resolver = tableResolver({ a: { 'p.test': ['127.0.0.1'] }, aaaa: { 'p.test': ['::1'] } });
    expect((await resolveMailHosts('p.test', { resolver, family: 6 }))[0]!.addresses).toEqual(['::1']);
  });

  it('fails permanently on a null MX (RFC 7505), without looking up addresses', async () => {
    const resolver = tableResolver({ mx: { 'null.test': [{ exchange: '', priority: 0 }] }, a: { 'null.test': ['127.0.0.1'] } });
    const e = await failure(resolveMailHosts('null.test', { resolver }));
    expect(e).toMatchObject({ kind: 'connection', code: 'ERR_SMTP_NULL_MX', retryable: false });
    expect(e.replyCode).toBeUndefined();
    expect(resolver.queries).toEqual(['MX null.test']);
    const dotted = tableResolver({ mx: { 'null.test': [{ exchange: '.', priority: 0 }] } });
    expect((await failure(resolveMailHosts('null.test', { resolver: dotted }))).code).toBe('ERR_SMTP_NULL_MX');
  });

  it('skips a root exchange listed beside real ones', async () => {
    const resolver = tableResolver({
      mx: { 'mixed.test': [{ exchange: '.', priority: 0 }, { exchange: 'mx.mixed.test', priority: 5 }] },
    });
    expect((await resolveMailHosts('mixed.test', { resolver })).map((h) => h.host)).toEqual(['mx.mixed.test']);
  });

  it('fails permanently for a domain that does not exist (NXDOMAIN)', async () => {
    const resolver = tableResolver({ mx: { 'gone.test': 'ENOTFOUND' } });
    const e = await failure(resolveMailHosts('gone.test', { resolver }));
    expect(e).toMatchObject({ code: 'ERR_SMTP_DOMAIN_NOT_FOUND', retryable: false });
  });

  it('fails permanently when there is neither MX nor address', async () => {
    const e = await failure(resolveMailHosts('empty.test', { resolver: tableResolver({}) }));
    expect(e).toMatchObject({ code: 'ERR_SMTP_NO_MAIL_HOST', retryable: false });
  });

  it('reports other DNS failures as retryable ERR_SMTP_DNS', async () => {
    const e = await failure(resolveMailHosts('flaky.test', { resolver: tableResolver({ mx: { 'flaky.test': 'ESERVFAIL' } }) }));
    expect(e).toMatchObject({ kind: 'connection', code: 'ERR_SMTP_DNS', retryable: true });
    const a = await failure(resolveMailHosts('flaky.test', { resolver: tableResolver({ a: { 'flaky.test': 'ETIMEOUT' } }) }));
    expect(a.code).toBe('ERR_SMTP_DNS');
  });

  it('uses an address literal as its own host without DNS', async () => {
    const resolver = tableResolver({});
    expect(await resolveMailHosts('[127.0.0.1]', { resolver })).toEqual([
      { host: '127.0.0.1', priority: 0, implicit: true, addresses: ['127.0.0.1'] },
    ]);
    expect((await resolveMailHosts('[IPv6:::1]', { resolver }))[0]!.host).toBe('::1');
    expect(resolver.queries).toEqual([]);
  });

  it('looks up IDN domains by their A-label', async () => {
    const resolver = tableResolver({ mx: { 'xn--bcher-kva.test': [{ exchange: 'mx.test', priority: 1 }] } });
    expect((await resolveMailHosts('bücher.test', { resolver }))[0]!.host).toBe('mx.test');
  });
});

describe('helpers', () => {
  it('parseAddressLiteral accepts RFC 5321 §4.1.3 literals only', () => {
    expect(parseAddressLiteral('example.com')).toBeUndefined();
    expect(parseAddressLiteral('[192.0.2.1]')).toBe('192.0.2.1');
    expect(parseAddressLiteral('[IPv6:2001:db8::1]')).toBe('2001:db8::1');
    expect(() => parseAddressLiteral('[2001:db8::1]')).toThrow(/address literal/);
    expect(() => parseAddressLiteral('[300.1.1.1]')).toThrow(/address literal/);
  });

  it('resolveAddresses keeps IPs, merges A then AAAA, and tolerates one family missing', async () => {
    const resolver = tableResolver({ a: { h: ['127.0.0.1'] }, aaaa: { h: 'ENODATA' } });
    expect(await resolveAddresses('127.0.0.2', resolver)).toEqual(['127.0.0.2']);
    expect(await resolveAddresses('h', resolver)).toEqual(['127.0.0.1']);
    expect(await resolveAddresses('none', resolver)).toEqual([]);
  });
});
