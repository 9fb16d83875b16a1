import { UsageError } from './exit-codes.js';

/** One `--dkim DOMAIN:SELECTOR:KEYFILE` (or `--key DOMAIN:SELECTOR:PUBLIC_KEY_FILE`). */
export interface DkimKeySpec {
  domain: string;
  selector: string;
  keyFile: string;
}

/** Split `DOMAIN:SELECTOR:FILE` (the file may itself hold colons); each part must be there. */
export function parseDkimSpec(value: string, flag: string): DkimKeySpec {
  const first = value.indexOf(':');
  const second = first < 0 ? -1 : value.indexOf(':', first + 1);
  if (second < 0) throw new UsageError(`${flag} "${value}" must look like DOMAIN:SELECTOR:KEYFILE`);
  const spec = { domain: value.slice(0, first), selector: value.slice(first + 1, second), keyFile: value.slice(second + 1) };
  if (!spec.domain || !spec.selector || !spec.keyFile) throw new UsageError(`${flag} "${value}" must look like DOMAIN:SELECTOR:KEYFILE`);
  return spec;
}
