import type { MxRecord, MxResolver } from '../src/mx.js';

export function dnsFailure(code: string): Error {
  return Object.assign(new Error(`query failed ${code}`), { code });
}

/** A resolver over fixed tables; a string value is a DNS error code to throw. */
export function tableResolver(tables: {
  mx?: Record<string, MxRecord[] | string>;
  a?: Record<string, string[] | string>;
  aaaa?: Record<string, string[] | string>;
}): MxResolver & { queries: string[] } {
  const queries: string[] = [];
  const look = async <T>(kind: string, table: Record<string, T | string> | undefined, name: string): Promise<T> => {
    queries.push(`${kind} ${name}`);
    const v = table?.[name];
    if (v === undefined) throw dnsFailure('ENODATA');
    if (typeof v === 'string') throw dnsFailure(v);
    return v;
  };
  return {
    queries,
    resolveMx: (d) => look('MX', tables.mx, d),
    resolve4: (d) => look('A', tables.a, d),
    resolve6: (d) => look('AAAA', tables.aaaa, d),
  };
}

