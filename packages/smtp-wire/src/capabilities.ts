import type { Reply } from './reply.js';

/** What a server offered in its EHLO reply (RFC 5321 §4.1.1.1); keywords are upper-cased. */
export interface Capabilities {
  /** First word of the reply's first line: the name the server gave itself. */
  domain: string;
  /** Upper-case keyword → its parameters, every keyword advertised (unknown ones included). */
  keywords: ReadonlyMap<string, readonly string[]>;
  /** PIPELINING, RFC 2920. */
  pipelining: boolean;
  /** CHUNKING (BDAT), RFC 3030. */
  chunking: boolean;
  /** BINARYMIME, RFC 3030. */
  binaryMime: boolean;
  /** 8BITMIME, RFC 6152. */
  eightBitMime: boolean;
  /** SMTPUTF8, RFC 6531. */
  smtputf8: boolean;
  /** STARTTLS, RFC 3207. */
  starttls: boolean;
  /** DSN, RFC 3461. */
  dsn: boolean;
  /** ENHANCEDSTATUSCODES, RFC 2034. */
  enhancedStatusCodes: boolean;
  /** REQUIRETLS, RFC 8689. */
  requireTls: boolean;
  /** SIZE, RFC 1870: undefined when not advertised; 0 when advertised without a limit (or with 0). */
  size: number | undefined;
  /** Upper-case SASL mechanisms, the union of `AUTH x y` and the legacy `AUTH=x y` form. */
  auth: readonly string[];
  /** True when `keyword` (any case) was advertised. */
  has(keyword: string): boolean;
}

function build(domain: string, keywords: Map<string, string[]>, auth: string[]): Capabilities {
  const sizeParams = keywords.get('SIZE');
  let size: number | undefined;
  if (sizeParams !== undefined) {
    const raw = sizeParams[0];
    // RFC 1870 §4: "SIZE" with no parameter, or 0, means no fixed limit.
    size = raw !== undefined && /^\d{1,15}$/.test(raw) ? Number(raw) : 0;
  }
  return Object.freeze({
    domain,
    keywords,
    pipelining: keywords.has('PIPELINING'),
    chunking: keywords.has('CHUNKING'),
    binaryMime: keywords.has('BINARYMIME'),
    eightBitMime: keywords.has('8BITMIME'),
    smtputf8: keywords.has('SMTPUTF8'),
    starttls: keywords.has('STARTTLS'),
    dsn: keywords.has('DSN'),
    enhancedStatusCodes: keywords.has('ENHANCEDSTATUSCODES'),
    requireTls: keywords.has('REQUIRETLS'),
    size,
    auth: Object.freeze(auth),
    has: (keyword: string) => keywords.has(keyword.toUpperCase()),
  });
}

function words(line: string): string[] {
  return line.split(/[ \t]+/).filter((w) => w !== '');
}

/**
 * Reads the capabilities out of a successful EHLO reply (RFC 5321 §4.1.1.1: one keyword and its
 * parameters per line after the first).
 *
 * @example
 * ```ts
 * const caps = parseEhlo(parseReply('250-mx.example.com\r\n250-SIZE 1000\r\n250 AUTH PLAIN LOGIN\r\n'));
 * caps.size; // 1000
 * caps.auth; // ['PLAIN', 'LOGIN']
 * ```
 */
export function parseEhlo(reply: Reply): Capabilities {
  const keywords = new Map<string, string[]>();
  const auth: string[] = [];
  const addAuth = (mechs: string[]): void => {
    for (const m of mechs) {
      const upper = m.toUpperCase();
      if (!auth.includes(upper)) auth.push(upper);
    }
  };
  for (let i = 1; i < reply.lines.length; i++) {
    const parts = words(reply.lines[i] as string);
    const first = parts[0];
    if (first === undefined) continue;
    const keyword = first.toUpperCase();
    const params = parts.slice(1);
    const known = keywords.get(keyword);
    if (known) {
      for (const p of params) if (!known.includes(p)) known.push(p);
    } else {
      keywords.set(keyword, params);
    }
    if (keyword === 'AUTH') {
      addAuth(params);
    } else if (keyword.startsWith('AUTH=')) {
      // Legacy form some servers still send for old Outlook clients: "AUTH=LOGIN PLAIN".
      addAuth([first.slice(5), ...params].filter((m) => m !== ''));
    }
  }
  return build(domainOf(reply), keywords, auth);
}

/** Capabilities after a HELO (RFC 5321 §4.1.1.1): only the domain; no extension is offered. */
export function heloCapabilities(reply: Reply): Capabilities {
  return build(domainOf(reply), new Map(), []);
}

function domainOf(reply: Reply): string {
  return words(reply.lines[0] ?? '')[0] ?? '';
}
