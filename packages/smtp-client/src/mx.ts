import { promises as dns } from 'node:dns';
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import { SmtpError } from '@smtpkit/wire';

/** One MX resource record, as `node:dns` returns it (`exchange` is '' or '.' for the root). */
export interface MxRecord {
  exchange: string;
  priority: number;
}

/**
 * The DNS lookups direct delivery needs. The default uses `node:dns/promises`; tests and
 * applications with their own resolver (DoH, a cache, a fixed routing table) pass another.
 * Rejections are expected to carry Node's DNS error codes (`ENODATA` for NODATA, `ENOTFOUND`
 * for NXDOMAIN); anything else is treated as a transient DNS failure.
 */
export interface MxResolver {
  resolveMx(domain: string): Promise<MxRecord[]>;
  resolve4(domain: string): Promise<string[]>;
  resolve6(domain: string): Promise<string[]>;
}

/** A host to try for a domain, in the order RFC 5321 §5.1 asks for. */
export interface MailHost {
  /** The MX exchange name (or the domain itself for an implicit MX, or an IP for an address literal). */
  host: string;
  priority: number;
  /** True when there was no MX record and the domain's own A/AAAA records are used (RFC 5321 §5.1). */
  implicit: boolean;
  /** Addresses already known (implicit MX, address literal); otherwise resolved just before connecting. */
  addresses?: string[];
}

/** `node:dns/promises` as an {@link MxResolver}. */
export const systemResolver: MxResolver = {
  resolveMx: (domain) => dns.resolveMx(domain),
  resolve4: (domain) => dns.resolve4(domain),
  resolve6: (domain) => dns.resolve6(domain),
};

/** DNS codes meaning "the name exists but has no record of this type" (RFC 2308 NODATA). */
const NODATA_CODES = new Set(['ENODATA']);
/** DNS codes meaning "the name does not exist" (NXDOMAIN, RFC 8020). */
const NXDOMAIN_CODES = new Set(['ENOTFOUND']);

function dnsCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function dnsError(domain: string, what: string, cause: unknown): SmtpError {
  const code = dnsCode(cause) ?? 'unknown error';
  return new SmtpError(`DNS ${what} lookup for ${domain} failed (${code})`, {
    kind: 'connection',
    code: 'ERR_SMTP_DNS',
    retryable: true,
    cause,
  });
}

/**
 * Orders MX records: lowest preference first; records of equal preference shuffled with
 * `random` (RFC 5321 §5.1: "the sender-SMTP MUST randomize them"). Pass a seeded `random`
 * for a deterministic order.
 */
export function orderMx(records: readonly MxRecord[], random: () => number = Math.random): MxRecord[] {
  const sorted = [...records].sort((a, b) => a.priority - b.priority);
  let start = 0;
  while (start < sorted.length) {
    let end = start + 1;
    while (end < sorted.length && sorted[end]!.priority === sorted[start]!.priority) end++;
    // Fisher–Yates within [start, end)
    for (let i = end - 1; i > start; i--) {
      const j = start + Math.floor(random() * (i - start + 1));
      const tmp = sorted[i]!;
      sorted[i] = sorted[j]!;
      sorted[j] = tmp;
    }
    start = end;
  }
  return sorted;
}

function isRoot(exchange: string): boolean {
  return exchange === '' || exchange === '.';
}

/** Lower-cases and converts an IDN domain to its A-label form for DNS (RFC 5890). */
export function normalizeDomain(domain: string): string {
  const trimmed = domain.endsWith('.') ? domain.slice(0, -1) : domain;
  const ascii = domainToASCII(trimmed.toLowerCase());
  if (ascii === '') {
    throw new SmtpError(`invalid recipient domain "${domain}"`, {
      kind: 'input',
      code: 'ERR_SMTP_INPUT',
      retryable: false,
    });
  }
  return ascii;
}

/**
 * Parses an RFC 5321 §4.1.3 address literal (`[192.0.2.1]`, `[IPv6:2001:db8::1]`); returns the
 * IP, or undefined when `domain` is not a literal.
 */
export function parseAddressLiteral(domain: string): string | undefined {
  if (!domain.startsWith('[') || !domain.endsWith(']')) return undefined;
  const inner = domain.slice(1, -1);
  const ip = /^ipv6:/i.test(inner) ? inner.slice(5) : inner;
  const family = isIP(ip);
  if (family === 0 || (family === 6 && !/^ipv6:/i.test(inner))) {
    throw new SmtpError(`invalid address literal "${domain}"`, {
      kind: 'input',
      code: 'ERR_SMTP_INPUT',
      retryable: false,
    });
  }
  return ip;
}

/**
 * Resolves the A and/or AAAA records of `host` (A first). NODATA/NXDOMAIN give an empty list;
 * other failures throw a retryable `ERR_SMTP_DNS` error only when no family produced an address.
 */
export async function resolveAddresses(host: string, resolver: MxResolver, family: 0 | 4 | 6 = 0): Promise<string[]> {
  if (isIP(host) !== 0) return [host];
  const lookups: Array<Promise<string[]>> = [];
  if (family !== 6) lookups.push(resolver.resolve4(host));
  if (family !== 4) lookups.push(resolver.resolve6(host));
  const settled = await Promise.allSettled(lookups);
  const addresses: string[] = [];
  let failure: unknown;
  for (const s of settled) {
    if (s.status === 'fulfilled') addresses.push(...s.value);
    else {
      const code = dnsCode(s.reason);
      if (!(code && (NODATA_CODES.has(code) || NXDOMAIN_CODES.has(code)))) failure ??= s.reason;
    }
  }
  if (addresses.length === 0 && failure !== undefined) throw dnsError(host, 'A/AAAA', failure);
  return addresses;
}

/** Options of {@link resolveMailHosts}. */
export interface ResolveMailHostsOptions {
  resolver?: MxResolver;
  random?: () => number;
  family?: 0 | 4 | 6;
}

/**
 * The hosts to try for mail to `domain`, best first (RFC 5321 §5.1):
 * - an address literal is its own host;
 * - MX records ordered by preference, ties shuffled;
 * - no MX records (NODATA, or an empty answer): the domain itself when it has A/AAAA records
 *   (the implicit MX);
 * - a null MX (a single MX of "." with preference 0, RFC 7505): throws `ERR_SMTP_NULL_MX`;
 * - NXDOMAIN: throws `ERR_SMTP_DOMAIN_NOT_FOUND`; no MX and no address: `ERR_SMTP_NO_MAIL_HOST`.
 * These three are permanent (`retryable: false`); other DNS failures throw a retryable
 * `ERR_SMTP_DNS`. All are kind 'connection': no server replied, so no reply code is set.
 *
 * @example
 * const hosts = await resolveMailHosts('example.com');
 * // [{ host: 'mx1.example.com', priority: 10, implicit: false }, ...]
 */
export async function resolveMailHosts(domain: string, options: ResolveMailHostsOptions = {}): Promise<MailHost[]> {
  const resolver = options.resolver ?? systemResolver;
  const literal = parseAddressLiteral(domain);
  if (literal !== undefined) return [{ host: literal, priority: 0, implicit: true, addresses: [literal] }];

  const name = normalizeDomain(domain);
  let records: MxRecord[] = [];
  try {
    records = await resolver.resolveMx(name);
  } catch (e) {
    const code = dnsCode(e);
    if (code && NXDOMAIN_CODES.has(code)) {
      throw new SmtpError(`the domain ${name} does not exist (NXDOMAIN)`, {
        kind: 'connection',
        code: 'ERR_SMTP_DOMAIN_NOT_FOUND',
        retryable: false,
        cause: e,
      });
    }
    if (!(code && NODATA_CODES.has(code))) throw dnsError(name, 'MX', e);
  }

  // RFC 7505 §3: a null MX is a single record with preference 0 and exchange ".".
  if (records.length === 1 && isRoot(records[0]!.exchange) && records[0]!.priority === 0) {
    throw new SmtpError(`the domain ${name} does not accept mail (null MX, RFC 7505)`, {
      kind: 'connection',
      code: 'ERR_SMTP_NULL_MX',
      retryable: false,
    });
  }
  // A root exchange beside real ones is a misconfiguration (RFC 7505 §3): skip it.
  const usable = records.filter((r) => !isRoot(r.exchange));
  if (usable.length > 0) {
    return orderMx(usable, options.random).map((r) => ({
      host: r.exchange.endsWith('.') ? r.exchange.slice(0, -1) : r.exchange,
      priority: r.priority,
      implicit: false,
    }));
  }
  if (records.length > 0) {
    throw new SmtpError(`the domain ${name} has no usable MX host`, {
      kind: 'connection',
      code: 'ERR_SMTP_NO_MAIL_HOST',
      retryable: false,
    });
  }

  // RFC 5321 §5.1: no MX records → the domain is its own mail host (implicit MX).
  const addresses = await resolveAddresses(name, resolver, options.family ?? 0);
  if (addresses.length === 0) {
    throw new SmtpError(`the domain ${name} has neither MX nor A/AAAA records`, {
      kind: 'connection',
      code: 'ERR_SMTP_NO_MAIL_HOST',
      retryable: false,
    });
  }
  return [{ host: name, priority: 0, implicit: true, addresses }];
}
