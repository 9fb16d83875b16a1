import { Buffer } from 'node:buffer';

/** RFC 6376 §3.4: `simple` keeps the bytes, `relaxed` tolerates whitespace changes. */
export type Canonicalization = 'simple' | 'relaxed';

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const TAB = 0x09;
const CRLF = Buffer.from('\r\n', 'latin1');
const CRLF_BLOCK = Buffer.from('\r\n'.repeat(8192), 'latin1');

/**
 * RFC 6376 §3.4.1 / §3.4.2: one header field (`raw` as latin1 so every octet survives, with its CRLF)
 * in canonical form, CRLF included.
 */
export function canonicalizeHeader(raw: string, mode: Canonicalization): string {
  if (mode === 'simple') return raw.endsWith('\r\n') ? raw : `${raw}\r\n`;
  const colon = raw.indexOf(':');
  const name = raw.slice(0, colon).replace(/[ \t]+$/, '').toLowerCase();
  const value = raw
    .slice(colon + 1)
    .replace(/\r\n/g, '') // unfold (§3.4.2: CRLF is removed, the WSP kept)
    .replace(/[ \t]+/g, ' ')
    .replace(/^ | $/g, '');
  return `${name}:${value}\r\n`;
}

/**
 * The body hash of RFC 6376 §3.4.3 / §3.4.4, fed with CRLF-canonical chunks in any split. Trailing
 * empty lines are counted, never stored, so memory is constant.
 */
export interface BodyCanonicalizer {
  push(chunk: Uint8Array): void;
  /** Ends the body; returns the number of canonical octets hashed (for `l=`). */
  end(): number;
}

/** Where canonical octets go: a `node:crypto` Hash, or anything with its `update`. */
export interface HashSink {
  update(data: Uint8Array): unknown;
}

/** A body canonicalizer for `mode` writing into `hash`. */
export function createBodyCanonicalizer(mode: Canonicalization, hash: HashSink): BodyCanonicalizer {
  return mode === 'simple' ? new SimpleBody(hash) : new RelaxedBody(hash);
}

/** §3.4.3: the body as is, without trailing empty lines; an empty body is one CRLF. */
class SimpleBody implements BodyCanonicalizer {
  #hash: HashSink;
  #emptyLines = 0; // CRLFs seen after the last content, not yet hashed
  #lineOpen = false; // content on the current line, its CRLF not yet seen
  #length = 0;

  constructor(hash: HashSink) {
    this.#hash = hash;
  }

  push(chunk: Uint8Array): void {
    const n = chunk.length;
    if (n === 0) return;
    // Trailing CRLF pairs of this chunk (the input is CRLF-canonical).
    let end = n;
    while (end >= 2 && chunk[end - 1] === LF && chunk[end - 2] === CR) end -= 2;
    let pairs = (n - end) / 2;
    if (end === 0) {
      if (this.#lineOpen) {
        this.#write(CRLF);
        this.#lineOpen = false;
        pairs--;
      }
      this.#emptyLines += pairs;
      return;
    }
    this.#flushEmpty();
    if (pairs > 0) {
      this.#write(chunk.subarray(0, end + 2));
      this.#emptyLines = pairs - 1;
      this.#lineOpen = false;
    } else {
      this.#write(chunk);
      this.#lineOpen = true;
    }
  }

  end(): number {
    if (this.#lineOpen) this.#write(CRLF);
    else if (this.#length === 0) this.#write(CRLF);
    this.#lineOpen = false;
    this.#emptyLines = 0;
    return this.#length;
  }

  #flushEmpty(): void {
    while (this.#emptyLines > 0) {
      const lines = Math.min(this.#emptyLines, CRLF_BLOCK.length / 2);
      this.#write(CRLF_BLOCK.subarray(0, lines * 2));
      this.#emptyLines -= lines;
    }
  }

  #write(bytes: Uint8Array): void {
    this.#hash.update(bytes);
    this.#length += bytes.length;
  }
}

/** §3.4.4: WSP runs become one SP, WSP at line ends goes, trailing empty lines go; an empty body hashes nothing. */
class RelaxedBody implements BodyCanonicalizer {
  #hash: HashSink;
  #emptyLines = 0;
  #wsp = false;
  #content = false; // the current line has content
  #length = 0;
  #out = Buffer.allocUnsafe(0);

  constructor(hash: HashSink) {
    this.#hash = hash;
  }

  push(chunk: Uint8Array): void {
    const n = chunk.length;
    if (n === 0) return;
    // Each input octet yields at most two (a CRLF for an LF whose CR came in the previous chunk, an SP
    // before a character); held empty lines are written straight to the hash.
    if (this.#out.length < 2 * n + 2) this.#out = Buffer.allocUnsafe(Math.max(2 * n + 2, 1024));
    const out = this.#out;
    let o = 0;
    let wsp = this.#wsp;
    let content = this.#content;
    for (let i = 0; i < n; i++) {
      const b = chunk[i] as number;
      if (b === SP || b === TAB) {
        wsp = true;
      } else if (b === CR) {
        // its LF follows (CRLF-canonical input)
      } else if (b === LF) {
        if (content) {
          out[o++] = CR;
          out[o++] = LF;
        } else this.#emptyLines++;
        content = false;
        wsp = false;
      } else {
        if (this.#emptyLines > 0) {
          if (o > 0) this.#write(out.subarray(0, o));
          o = 0;
          this.#flushEmpty();
        }
        if (wsp) {
          out[o++] = SP;
          wsp = false;
        }
        out[o++] = b;
        content = true;
      }
    }
    this.#wsp = wsp;
    this.#content = content;
    if (o > 0) this.#write(out.subarray(0, o));
  }

  end(): number {
    if (this.#content) this.#write(CRLF);
    this.#content = false;
    this.#wsp = false;
    this.#emptyLines = 0;
    return this.#length;
  }

  #flushEmpty(): void {
    while (this.#emptyLines > 0) {
      const lines = Math.min(this.#emptyLines, CRLF_BLOCK.length / 2);
      this.#write(CRLF_BLOCK.subarray(0, lines * 2));
      this.#emptyLines -= lines;
    }
  }

  #write(bytes: Uint8Array): void {
    this.#hash.update(bytes);
    this.#length += bytes.length;
  }
}
