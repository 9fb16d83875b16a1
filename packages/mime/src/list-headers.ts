import { formatDisplayName } from './address.js';
import { MimeError } from './errors.js';
import { assertSafeText } from './validate.js';

/** One or more list URLs: `https:`/`mailto:` URIs, or bare addresses (written as `mailto:`). */
export type ListUrls = string | string[];

/**
 * Mailing-list header fields: `List-Id` (RFC 2919), `List-Unsubscribe`, `List-Help`, `List-Archive`,
 * `List-Post`, `List-Subscribe`, `List-Owner` (RFC 2369) and one-click unsubscription (RFC 8058).
 */
export interface ListOptions {
  /** The list identifier, `news.example.com`, optionally with a description: `Weekly news <news.example.com>`. */
  id?: string;
  /**
   * Where to unsubscribe. `oneClick: true` adds `List-Unsubscribe-Post: List-Unsubscribe=One-Click`
   * (RFC 8058, what Gmail and Yahoo ask of bulk senders): it needs an `https:` URL that takes a POST,
   * and a DKIM signature covering both fields.
   */
  unsubscribe?: ListUrls | { url?: string; mailto?: string; oneClick?: boolean };
  help?: ListUrls;
  archive?: ListUrls;
  subscribe?: ListUrls;
  owner?: ListUrls;
  /** Where to post; `false` writes `List-Post: NO` (a list that takes no posts, RFC 2369 §3.4). */
  post?: ListUrls | false;
}

/** The header names {@link listHeaders} may write, lower case (they cannot also be set in `headers`). */
export const LIST_HEADER_NAMES = [
  'list-id', 'list-unsubscribe', 'list-unsubscribe-post', 'list-help', 'list-archive', 'list-post', 'list-subscribe', 'list-owner',
];

// RFC 2919 §2: list-id = list-label "." list-id-namespace, both dot-atom-text (RFC 5322 §3.2.3).
const ATEXT = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+";
const LIST_ID = new RegExp(`^${ATEXT}(?:\\.${ATEXT})+$`);
// RFC 3986 §3.1 scheme, then printable ASCII without space or angle brackets (RFC 2369 §2).
const URI = /^[A-Za-z][A-Za-z0-9+.-]*:[\x21-\x3b\x3d\x3f-\x7e]+$/;

function invalid(field: string, message: string): MimeError {
  return new MimeError(`${field}: ${message}`, { code: 'ERR_MIME_INVALID_OPTION', field });
}

function uri(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw invalid(field, 'must be a URL or an address');
  assertSafeText(value, field);
  const v = value.trim();
  // A bare address becomes a mailto: URI (RFC 6068); anything else must already be an absolute URI.
  const candidate = /^[^:@\s<>]+@[^@\s<>]+$/.test(v) ? `mailto:${v}` : v;
  if (!URI.test(candidate)) {
    throw invalid(field, `${JSON.stringify(v)} is not an absolute ASCII URI (https://… or mailto:…; percent-encode spaces and non-ASCII)`);
  }
  return candidate;
}

function uris(value: ListUrls, field: string): string[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) throw invalid(field, 'needs at least one URL');
  return list.map((v, i) => uri(v, Array.isArray(value) ? `${field}[${i}]` : field));
}

/** RFC 2369 §2: each URL in angle brackets, comma-separated, in order of preference. */
const bracketed = (list: string[]) => list.map((u) => `<${u}>`).join(', ');

function listId(id: unknown): string {
  if (typeof id !== 'string') throw invalid('list.id', 'must be a string');
  assertSafeText(id, 'list.id');
  const m = /^(.*?)\s*<([^<>]*)>\s*$/.exec(id);
  const description = m ? (m[1] as string).trim() : '';
  const identifier = (m ? (m[2] as string) : id).trim();
  if (!LIST_ID.test(identifier) || identifier.length > 255) {
    throw invalid('list.id', `${JSON.stringify(identifier)} is not a list identifier like list-name.example.com (RFC 2919 §2)`);
  }
  return description === '' ? `<${identifier}>` : `${formatDisplayName(description)} <${identifier}>`;
}

/**
 * The list header fields for `list`, as `[name, value]` pairs in a fixed order, values ready to fold.
 * Throws `ERR_MIME_INVALID_OPTION` naming the bad field.
 *
 * @example
 * ```ts
 * listHeaders({ id: 'News <news.example.com>', unsubscribe: { url: 'https://example.com/u/1', oneClick: true } });
 * // [['List-Id', 'News <news.example.com>'], ['List-Unsubscribe', '<https://example.com/u/1>'],
 * //  ['List-Unsubscribe-Post', 'List-Unsubscribe=One-Click']]
 * ```
 */
export function listHeaders(list: ListOptions): Array<[string, string]> {
  if (typeof list !== 'object' || list === null) throw invalid('list', 'must be an object');
  const out: Array<[string, string]> = [];
  if (list.id !== undefined) out.push(['List-Id', listId(list.id)]);
  const unsubscribe = list.unsubscribe;
  if (unsubscribe !== undefined) {
    if (typeof unsubscribe === 'object' && !Array.isArray(unsubscribe)) {
      const urls = [
        ...(unsubscribe.url !== undefined ? [uri(unsubscribe.url, 'list.unsubscribe.url')] : []),
        ...(unsubscribe.mailto !== undefined ? [uri(unsubscribe.mailto, 'list.unsubscribe.mailto')] : []),
      ];
      if (urls.length === 0) throw invalid('list.unsubscribe', 'needs a url or a mailto');
      if (unsubscribe.mailto !== undefined && !/^mailto:/i.test(urls.at(-1) as string)) throw invalid('list.unsubscribe.mailto', 'must be an address or a mailto: URI');
      out.push(['List-Unsubscribe', bracketed(urls)]);
      if (unsubscribe.oneClick === true) {
        // RFC 8058 §3.1: one-click needs an HTTPS URI in List-Unsubscribe for the POST.
        if (!urls.some((u) => /^https:/i.test(u))) throw invalid('list.unsubscribe.oneClick', 'one-click unsubscription needs an https: url (RFC 8058 §3.1)');
        out.push(['List-Unsubscribe-Post', 'List-Unsubscribe=One-Click']);
      }
    } else {
      out.push(['List-Unsubscribe', bracketed(uris(unsubscribe, 'list.unsubscribe'))]);
    }
  }
  if (list.help !== undefined) out.push(['List-Help', bracketed(uris(list.help, 'list.help'))]);
  if (list.subscribe !== undefined) out.push(['List-Subscribe', bracketed(uris(list.subscribe, 'list.subscribe'))]);
  if (list.post !== undefined) out.push(['List-Post', list.post === false ? 'NO' : bracketed(uris(list.post, 'list.post'))]);
  if (list.owner !== undefined) out.push(['List-Owner', bracketed(uris(list.owner, 'list.owner'))]);
  if (list.archive !== undefined) out.push(['List-Archive', bracketed(uris(list.archive, 'list.archive'))]);
  return out;
}
