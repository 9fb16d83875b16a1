import type { MxResolver } from '@smtpkit/client';

/**
 * Big providers whose domains share one MX set (and one set of limits): an MX host ending in one of these names
 * makes the destination the provider, so every domain hosted there counts against the same limits.
 */
export const PROVIDER_MX: Readonly<Record<string, readonly string[]>> = {
  gmail: ['.google.com', '.googlemail.com'],
  outlook: ['.outlook.com', '.protection.outlook.com', '.hotmail.com'],
  yahoo: ['.yahoodns.net', '.yahoo.com', '.aol.com'],
};

/** Domains known to be hosted by a big provider, so their jobs can be queued per provider without a DNS lookup. */
const PROVIDER_DOMAINS: Readonly<Record<string, string>> = {
  'gmail.com': 'gmail', 'googlemail.com': 'gmail',
  'outlook.com': 'outlook', 'hotmail.com': 'outlook', 'live.com': 'outlook', 'msn.com': 'outlook',
  'yahoo.com': 'yahoo', 'ymail.com': 'yahoo', 'aol.com': 'yahoo',
};

/** The provider of a well-known domain, or undefined. */
export function providerOfDomain(domain: string): 'gmail' | 'outlook' | 'yahoo' | undefined {
  return PROVIDER_DOMAINS[domain.toLowerCase()] as 'gmail' | 'outlook' | 'yahoo' | undefined;
}

const CACHE_TTL = 10 * 60_000;

/** The domain of an address, lower-cased (RFC 5321 §2.4: domains are case-insensitive). */
export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

/**
 * MX mode: the destination of a domain is its provider (see {@link PROVIDER_MX}) or its MX host set, sorted and
 * joined; a domain without MX records (or whose lookup failed) is its own destination.
 */
export class MxDestinations {
  #cache = new Map<string, { key: string; until: number }>();

  constructor(
    private readonly resolver: Pick<MxResolver, 'resolveMx'>,
    private readonly now: () => number,
  ) {}

  async of(domain: string): Promise<string> {
    const hit = this.#cache.get(domain);
    if (hit !== undefined && hit.until > this.now()) return hit.key;
    let key = domain;
    try {
      const hosts = (await this.resolver.resolveMx(domain)).map((r) => r.exchange.toLowerCase().replace(/\.$/, ''));
      const provider = Object.entries(PROVIDER_MX).find(([, suffixes]) => hosts.some((h) => suffixes.some((s) => h.endsWith(s))));
      if (provider !== undefined) key = provider[0];
      else if (hosts.length > 0) key = [...new Set(hosts)].sort().join(',');
    } catch {
      key = domain;
    }
    this.#cache.set(domain, { key, until: this.now() + CACHE_TTL });
    return key;
  }
}
