import { DEFAULT_SIGNED_HEADERS, NEVER_SIGNED } from './constants.js';
import { DkimError } from './errors.js';
import type { HeaderField } from './header-section.js';

/** Which header fields a signature covers. */
export interface HeaderSelection {
  /** Field names to sign (default: RFC 6376 §5.4.1 plus List-Unsubscribe-Post, Message-ID, Sender and the MIME fields). */
  headers?: readonly string[];
  /**
   * List each signed name once more than it occurs (RFC 6376 §8.15), so nobody can add a second From or a
   * List-Unsubscribe-Post later: `true` (default) for every name, or only the names given.
   */
  oversign?: boolean | readonly string[];
  /** Names to leave out of the default (or given) set. */
  skip?: readonly string[];
}

const NAME = /^[\x21-\x39\x3b-\x7e]+$/; // RFC 5322 §3.6.8 ftext

/** The names to sign, checked: From is required (§5.4), fields relays change are refused. */
export function resolveHeaderNames(selection: HeaderSelection, field: string): { names: string[]; oversign: Set<string> | 'all' } {
  const skip = new Set((selection.skip ?? []).map((n) => n.toLowerCase()));
  const seen = new Set<string>();
  const names: string[] = [];
  for (const name of selection.headers ?? DEFAULT_SIGNED_HEADERS) {
    if (typeof name !== 'string' || !NAME.test(name)) {
      throw new DkimError(`${field}.headers: ${JSON.stringify(name)} is not a header field name`, { code: 'ERR_DKIM_INVALID_OPTION', field: `${field}.headers` });
    }
    const lower = name.toLowerCase();
    if (NEVER_SIGNED.includes(lower)) {
      throw new DkimError(`${field}.headers: ${name} is changed by relays on the way and is never signed (RFC 6376 §5.4)`, {
        code: 'ERR_DKIM_FORBIDDEN_HEADER',
        field: `${field}.headers`,
      });
    }
    if (skip.has(lower) || seen.has(lower)) continue;
    seen.add(lower);
    names.push(name);
  }
  if (!seen.has('from')) {
    throw new DkimError(`${field}: From must be signed (RFC 6376 §5.4)`, { code: 'ERR_DKIM_NO_FROM', field: `${field}.headers` });
  }
  const o = selection.oversign ?? true;
  return { names, oversign: o === true ? 'all' : new Set(o === false ? [] : o.map((n) => n.toLowerCase())) };
}

/** Fields a message submission agent may add when they are missing (RFC 6409 §8). */
const SUBMISSION_ADDS = new Set(['date', 'message-id']);

/**
 * The `h=` list for a message: each name as often as it occurs (RFC 6376 §5.4.2 takes instances from
 * the bottom up), plus once more when over-signed; an absent name that is over-signed is listed once,
 * so adding it later breaks the signature (except a missing Date or Message-ID under the default, which a
 * submission server adds). Names neither present nor over-signed are left out.
 */
export function headerList(names: readonly string[], oversign: Set<string> | 'all', fields: readonly HeaderField[]): string[] {
  const counts = new Map<string, number>();
  for (const f of fields) counts.set(f.name, (counts.get(f.name) ?? 0) + 1);
  const out: string[] = [];
  for (const name of names) {
    const lower = name.toLowerCase();
    const count = counts.get(lower) ?? 0;
    // RFC 6409 §8.2, §8.3: a submission server adds a missing Date or Message-ID; only an explicit list guards them.
    const guard = oversign === 'all' ? !(count === 0 && SUBMISSION_ADDS.has(lower)) : oversign.has(lower);
    const n = count + (guard ? 1 : 0);
    for (let i = 0; i < n; i++) out.push(name);
  }
  return out;
}

/**
 * RFC 6376 §5.4.2: the field instances `h=` names, in order; the k-th mention of a name takes its k-th
 * instance from the bottom; a mention with no instance left contributes nothing (the null string).
 */
export function selectFields(list: readonly string[], fields: readonly HeaderField[]): HeaderField[] {
  const used = new Map<string, number>();
  const out: HeaderField[] = [];
  for (const name of list) {
    const lower = name.trim().toLowerCase();
    let skipped = used.get(lower) ?? 0;
    used.set(lower, skipped + 1);
    for (let i = fields.length - 1; i >= 0; i--) {
      const f = fields[i] as HeaderField;
      if (f.name !== lower) continue;
      if (skipped === 0) {
        out.push(f);
        break;
      }
      skipped--;
    }
  }
  return out;
}
