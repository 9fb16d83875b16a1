import { readFileSync } from 'node:fs';
import { MemoryTransport } from '../../src/memory-transport.js';

/**
 * One step of a golden transcript: S (server sends), C (client must send), T (TLS upgrade), X (server closes),
 * W (the client's next write starts here; its text is a label for the reader).
 */
export interface ScriptLine {
  dir: 'S' | 'C' | 'T' | 'X' | 'W';
  text: string;
}

/**
 * Parse `S: …` / `C: …` lines; `T: TLS` marks the upgrade, `X: close` the server hanging up; `#` comments.
 * A script with `W:` lines also pins the write boundaries: each `W:` opens one client write, and the C lines
 * up to the next `W:` are exactly the bytes of that write (see {@link expectedWrites}).
 */
export function parseScript(text: string): ScriptLine[] {
  const out: ScriptLine[] = [];
  for (const raw of text.split('\n')) {
    if (raw === '' || raw.startsWith('#')) continue;
    const m = /^([SCTXW]): ?(.*)$/.exec(raw);
    if (!m) throw new Error(`bad script line: ${JSON.stringify(raw)}`);
    out.push({ dir: m[1] as ScriptLine['dir'], text: m[2] as string });
  }
  return out;
}

export function loadScript(name: string): ScriptLine[] {
  return parseScript(readFileSync(new URL(`../transcripts/${name}`, import.meta.url), 'utf8'));
}

/** The exact bytes the client must write over the whole script. */
export function expectedClientBytes(script: ScriptLine[]): string {
  return script.filter((l) => l.dir === 'C').map((l) => `${l.text}\r\n`).join('');
}

/**
 * The client writes a script with `W:` lines pins, in order: the C lines after each `W:`, CRLF-ended, as one
 * string (TLS upgrades are not writes). A script without `W:` lines pins no boundaries: undefined.
 */
export function expectedWrites(script: ScriptLine[]): string[] | undefined {
  if (!script.some((l) => l.dir === 'W')) return undefined;
  const writes: string[] = [];
  for (const l of script) {
    if (l.dir === 'W') writes.push('');
    else if (l.dir === 'C') {
      if (writes.length === 0) throw new Error(`C line before the first W line: ${JSON.stringify(l.text)}`);
      writes[writes.length - 1] += `${l.text}\r\n`;
    }
  }
  return writes;
}

/** What the client wrote, one string per `Transport.write` call (latin1, so every octet shows). */
export function actualWrites(transport: MemoryTransport): string[] {
  return transport.writes.filter((w): w is Uint8Array => w !== 'TLS').map((w) => Buffer.from(w).toString('latin1'));
}

/**
 * A scripted fake server over a {@link MemoryTransport}: consecutive S lines go out as one chunk
 * once every C line before them has been written exactly; anything else is recorded as a mismatch.
 * `W:` lines do not pace the server; {@link expectedWrites} checks them after the run.
 */
export function scriptedTransport(full: ScriptLine[]): { transport: MemoryTransport; mismatches: string[]; remaining(): number } {
  const script = full.filter((l) => l.dir !== 'W');
  const transport = new MemoryTransport();
  const mismatches: string[] = [];
  let i = 0;
  let pending = '';
  const pump = () => {
    let out = '';
    while (script[i]?.dir === 'S') out += `${(script[i++] as ScriptLine).text}\r\n`;
    if (out) transport.push(out);
    if (script[i]?.dir === 'X') {
      i++;
      transport.close();
    }
  };
  transport.onWrite = (bytes) => {
    pending += Buffer.from(bytes).toString('latin1');
    for (;;) {
      const eol = pending.indexOf('\r\n');
      if (eol === -1) break;
      const line = pending.slice(0, eol);
      pending = pending.slice(eol + 2);
      const want = script[i];
      if (want?.dir !== 'C' || want.text !== line) {
        mismatches.push(`step ${i}: client wrote ${JSON.stringify(line)}, script wants ${want ? `${want.dir}: ${JSON.stringify(want.text)}` : 'nothing'}`);
        continue;
      }
      i++;
    }
    if (pending === '') queueMicrotask(pump);
  };
  transport.onUpgrade = () => {
    if (script[i]?.dir !== 'T') mismatches.push(`step ${i}: unexpected TLS upgrade`);
    else i++;
    setImmediate(pump);
    return { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', authorized: true, verified: 'ca' };
  };
  queueMicrotask(pump);
  return { transport, mismatches, remaining: () => script.length - i };
}
