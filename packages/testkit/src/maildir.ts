import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** One message file of a Maildir. */
export interface MaildirFile {
  /** The file's name (it orders deliveries: {@link compareMaildirNames}). */
  name: string;
  /** The stored file, byte for byte. */
  raw: Buffer;
  /** Its path. */
  file: string;
}

/** The messages in one Maildir (`new/` and `cur/`), unordered; a missing folder or a file gone meanwhile is skipped. */
export async function readMaildir(dir: string): Promise<MaildirFile[]> {
  const found: MaildirFile[] = [];
  for (const sub of ['new', 'cur']) {
    const folder = join(dir, sub);
    for (const name of await readdir(folder).catch(() => [] as string[])) {
      const file = join(folder, name);
      const raw = await readFile(file).catch(() => undefined);
      if (raw !== undefined) found.push({ name, raw, file });
    }
  }
  return found;
}

/**
 * Orders Maildir file names by delivery. Both Postfix (`SECONDS.VdevIinodeMmicroseconds.host`) and Dovecot
 * (`SECONDS.MmicrosecondsPpid.host,S=…`) start a name with the delivery time in seconds and carry the microseconds
 * after `M`; the whole name breaks a tie.
 */
export function compareMaildirNames(a: string, b: string): number {
  const [sa, ua] = deliveryTime(a);
  const [sb, ub] = deliveryTime(b);
  return sa - sb || ua - ub || (a < b ? -1 : a > b ? 1 : 0);
}

function deliveryTime(name: string): [number, number] {
  const seconds = Number.parseInt(name, 10) || 0;
  const micro = /M(\d+)/.exec(name);
  return [seconds, micro ? Number.parseInt(micro[1]!, 10) : 0];
}
