import { Buffer } from 'node:buffer';

/** RFC 6376 §3.4: `simple` keeps the bytes, `relaxed` tolerates whitespace changes. */
export type Canonicalization = 'simple' | 'relaxed';

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const TAB = 0x09;
const CRLF = Buffer.from('\r\n', 'latin1');
const CRLF_BLOCK = Buffer.from('\r\n'.repeat(8192), 'latin1');
const SP_BYTE = Buffer.from(' ', 'latin1');

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

/** `count` empty lines (held back until content followed them) go to the hash, a block of CRLFs at a time. */
function writeEmptyLines(write: (bytes: Uint8Array) => void, count: number): void {
  const perBlock = CRLF_BLOCK.length / 2;
  for (let left = count; left > 0; left -= perBlock) write(CRLF_BLOCK.subarray(0, Math.min(left, perBlock) * 2));
}

/** Where a body stands between chunks: a line with content not yet ended, empty lines held back. */
interface LineState {
  open: boolean;
  empty: number;
}

/**
 * Hashes a CRLF-canonical chunk as it is, except the empty lines at its end, which are held (counted) until
 * content follows them: a body's trailing empty lines are never hashed (§3.4.3, §3.4.4).
 */
function pushVerbatim(chunk: Uint8Array, state: LineState, write: (bytes: Uint8Array) => void): void {
  const n = chunk.length;
  let end = n;
  while (end >= 2 && chunk[end - 1] === LF && chunk[end - 2] === CR) end -= 2;
  let pairs = (n - end) / 2;
  if (end === 0) {
    if (state.open) {
      write(CRLF); // the CRLF of the line that was open
      state.open = false;
      pairs--;
    }
    state.empty += pairs;
    return;
  }
  writeEmptyLines(write, state.empty);
  write(pairs > 0 ? chunk.subarray(0, end + 2) : chunk);
  state.open = pairs === 0;
  state.empty = Math.max(0, pairs - 1);
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
    if (chunk.length === 0) return;
    const state = { open: this.#lineOpen, empty: this.#emptyLines };
    pushVerbatim(chunk, state, (bytes) => this.#write(bytes));
    this.#lineOpen = state.open;
    this.#emptyLines = state.empty;
  }

  end(): number {
    if (this.#lineOpen) this.#write(CRLF);
    else if (this.#length === 0) this.#write(CRLF);
    this.#lineOpen = false;
    this.#emptyLines = 0;
    return this.#length;
  }

  #write(bytes: Uint8Array): void {
    this.#hash.update(bytes);
    this.#length += bytes.length;
  }
}

/**
 * §3.4.4: WSP runs become one SP, WSP at line ends goes, trailing empty lines go; an empty body hashes
 * nothing. Lines without WSP (all of base64, most of quoted-printable) are hashed straight from the
 * input, consecutive ones in one update; only lines holding WSP are rewritten octet by octet.
 */
class RelaxedBody implements BodyCanonicalizer {
  #hash: HashSink;
  #emptyLines = 0;
  #wsp = false; // WSP seen on the current line since its last character
  #content = false; // the current line has content
  #length = 0;
  #out = Buffer.allocUnsafe(1024);
  // A run of input octets that go to the hash unchanged, [runStart, runEnd) of the current chunk.
  #chunk: Uint8Array = new Uint8Array(0);
  #runStart = 0;
  #runEnd = 0;

  constructor(hash: HashSink) {
    this.#hash = hash;
  }

  push(chunk: Uint8Array): void {
    const n = chunk.length;
    if (n === 0) return;
    const b = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let nextSp = b.indexOf(SP);
    let nextTab = b.indexOf(TAB);
    if (nextSp < 0 && nextTab < 0 && !this.#wsp) {
      // No whitespace to compress: the chunk is its own canonical form, but for the empty lines at its end.
      const state = { open: this.#content, empty: this.#emptyLines };
      pushVerbatim(chunk, state, (bytes) => this.#write(bytes));
      this.#content = state.open;
      this.#emptyLines = state.empty;
      return;
    }
    this.#chunk = chunk;
    this.#runStart = this.#runEnd = 0;
    let pos = 0;
    while (pos < n) {
      const lf = b.indexOf(LF, pos);
      // The input is CRLF-canonical and chunks never end between CR and LF.
      const end = lf < 0 ? n : lf - 1;
      if (nextSp >= 0 && nextSp < pos) nextSp = b.indexOf(SP, pos);
      if (nextTab >= 0 && nextTab < pos) nextTab = b.indexOf(TAB, pos);
      const hasWsp = (nextSp >= 0 && nextSp < end) || (nextTab >= 0 && nextTab < end);
      if (hasWsp) this.#rewrite(chunk, pos, end);
      else if (end > pos) {
        this.#beforeContent();
        this.#emit(pos, end);
        this.#content = true;
      }
      if (lf < 0) break;
      if (this.#content) this.#emit(end, lf + 1); // the line's own CRLF
      else this.#emptyLines++;
      this.#content = false;
      this.#wsp = false;
      pos = lf + 1;
    }
    this.#flushRun();
  }

  end(): number {
    if (this.#content) this.#write(CRLF);
    this.#content = false;
    this.#wsp = false;
    this.#emptyLines = 0;
    return this.#length;
  }

  /** Pending empty lines and a pending SP go out before a character. */
  #beforeContent(): void {
    if (this.#emptyLines > 0) {
      this.#flushRun();
      writeEmptyLines((bytes) => this.#write(bytes), this.#emptyLines);
      this.#emptyLines = 0;
    }
    if (this.#wsp) {
      this.#flushRun();
      this.#write(SP_BYTE);
      this.#wsp = false;
    }
  }

  /** A line piece holding WSP, [from, to) without its CRLF, rewritten octet by octet. */
  #rewrite(chunk: Uint8Array, from: number, to: number): void {
    this.#flushRun(); // what this line yields is never a slice of the input
    if (this.#out.length < to - from + 1) this.#out = Buffer.allocUnsafe(Math.max(to - from + 1, 2 * this.#out.length));
    const out = this.#out;
    let o = 0;
    for (let i = from; i < to; i++) {
      const c = chunk[i] as number;
      if (c === SP || c === TAB) {
        this.#wsp = true;
        continue;
      }
      if (this.#emptyLines > 0) {
        this.#beforeContent(); // o is 0 here: empty lines are pending only at the start of a line
      } else if (this.#wsp) {
        out[o++] = SP;
        this.#wsp = false;
      }
      out[o++] = c;
      this.#content = true;
    }
    if (o > 0) this.#write(out.subarray(0, o));
  }

  #emit(from: number, to: number): void {
    if (from === this.#runEnd && this.#runEnd > this.#runStart) {
      this.#runEnd = to;
      return;
    }
    this.#flushRun();
    this.#runStart = from;
    this.#runEnd = to;
  }

  #flushRun(): void {
    if (this.#runEnd > this.#runStart) this.#write(this.#chunk.subarray(this.#runStart, this.#runEnd));
    this.#runStart = this.#runEnd = 0;
  }

  #write(bytes: Uint8Array): void {
    this.#hash.update(bytes);
    this.#length += bytes.length;
  }
}
