import { Buffer } from 'node:buffer';
import { Base64Encoder, base64EncodedLength, writeBase64 } from './base64.js';
import { MimeError } from './errors.js';
import type { OpenableSource } from './source.js';

/** A body known in full (headers and text bodies, already encoded). */
export interface BytesBody {
  type: 'bytes';
  bytes: Uint8Array;
}

/** A body read lazily from a source and encoded on the fly. */
export interface StreamBody {
  type: 'stream';
  source: OpenableSource;
  encoding: 'base64' | 'binary';
  field: string;
}

/** A single part: its header block (CRLF-terminated lines, without the blank line) and its body. */
export interface LeafNode {
  kind: 'leaf';
  headers: string;
  body: BytesBody | StreamBody;
}

/** A multipart entity (RFC 2046 §5.1). */
export interface MultipartNode {
  kind: 'multipart';
  headers: string;
  boundary: string;
  children: MimeNode[];
}

export type MimeNode = LeafNode | MultipartNode;

const CRLF = Buffer.from('\r\n', 'latin1');
/** Small pieces are gathered into blocks of about this size before they are yielded. */
const COALESCE = 64 * 1024;
/** Largest input handed to the base64 encoder at once. */
const PIECE = 1024 * 1024;

/** Encoded size of a streamed body, when its raw size is known. */
function streamBodySize(body: StreamBody): number | undefined {
  const raw = body.source.size;
  if (raw === undefined) return undefined;
  return body.encoding === 'base64' ? base64EncodedLength(raw) : raw;
}

/** Octets the node will produce, or undefined when some streamed content has no known size. */
export function nodeSize(node: MimeNode): number | undefined {
  let total = Buffer.byteLength(node.headers, 'utf8') + 2;
  if (node.kind === 'leaf') {
    const body = node.body.type === 'bytes' ? node.body.bytes.length : streamBodySize(node.body);
    return body === undefined ? undefined : total + body;
  }
  const b = node.boundary.length;
  for (const [i, child] of node.children.entries()) {
    const size = nodeSize(child);
    if (size === undefined) return undefined;
    total += (i === 0 ? 0 : 2) + 2 + b + 2 + size; // [CRLF] "--" boundary CRLF part
  }
  return total + 2 + 2 + b + 2; // CRLF "--" boundary "--"
}

/** Whether the tree's final octets are CRLF (then the message needs no extra line end). */
export function endsWithCrlf(node: MimeNode): boolean {
  if (node.kind === 'multipart') return false;
  if (node.body.type === 'stream') return false;
  const bytes = node.body.bytes;
  if (bytes.length === 0) return true;
  return bytes[bytes.length - 1] === 0x0a;
}

/** Every stream in the tree can be opened again. */
export function isReusable(node: MimeNode): boolean {
  if (node.kind === 'multipart') return node.children.every(isReusable);
  return node.body.type === 'bytes' || node.body.source.reusable;
}

/** A streamed body with the boundaries of the multiparts around it (which it must not contain). */
interface StreamPiece {
  body: StreamBody;
  boundaries: readonly string[];
}

/** Header blocks and delimiters (text, UTF-8 per RFC 6532), in-memory bodies, and streamed bodies. */
type Piece = string | Uint8Array | StreamPiece;

/** The tree in order (RFC 2046 §5.1.1): each node's headers and blank line, then its body or its delimited parts. */
function* pieces(node: MimeNode, boundaries: readonly string[] = []): Generator<Piece> {
  yield `${node.headers}\r\n`;
  if (node.kind === 'leaf') {
    yield node.body.type === 'bytes' ? node.body.bytes : { body: node.body, boundaries };
    return;
  }
  const inside = [...boundaries, node.boundary];
  for (const [i, child] of node.children.entries()) {
    yield `${i === 0 ? '' : '\r\n'}--${node.boundary}\r\n`;
    yield* pieces(child, inside);
  }
  yield `\r\n--${node.boundary}--`;
}

/** Every body of the tree is in memory: it can be written whole, synchronously, by {@link writeTree}. */
export function isInMemory(node: MimeNode): boolean {
  if (node.kind === 'multipart') return node.children.every(isInMemory);
  return node.body.type === 'bytes' || node.body.source.bytes !== undefined;
}

/**
 * Writes a tree whose bodies are all in memory ({@link isInMemory}) into one Buffer of exactly `size`
 * octets ({@link nodeSize} plus the trailer): base64 is encoded straight into its place, nothing is
 * copied twice.
 */
export function writeTree(root: MimeNode, trailer: Uint8Array, size: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const piece of pieces(root)) {
    if (typeof piece === 'string') at += out.write(piece, at, 'utf8');
    else if (piece instanceof Uint8Array) {
      out.set(piece, at);
      at += piece.length;
    } else {
      const bytes = piece.body.source.bytes as Uint8Array;
      const src = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      if (piece.body.encoding === 'base64') at = writeBase64(src, out, at);
      else {
        new DelimiterWatch(piece.boundaries, piece.body.field).check(src);
        out.set(src, at);
        at += src.length;
      }
    }
  }
  out.set(trailer, at);
  at += trailer.length;
  if (at !== size) throw new Error(`writeTree wrote ${at} octets, expected ${size}`);
  return out;
}

/**
 * Watches unencoded (binary) content as it streams for `--boundary` of any enclosing multipart, also across
 * chunk edges. The boundary was chosen before the content could be read; were it to appear, a reader would
 * end the part there (RFC 2046 §5.1.1), so the message fails instead of going out with a broken structure.
 * Base64 never contains it ("=_" is not in its alphabet).
 */
class DelimiterWatch {
  readonly #delimiters: Buffer[];
  readonly #keep: number;
  #tail: Buffer = Buffer.alloc(0);
  readonly #field: string;

  constructor(boundaries: readonly string[], field: string) {
    this.#delimiters = boundaries.map((b) => Buffer.from(`--${b}`, 'latin1'));
    this.#keep = Math.max(0, ...this.#delimiters.map((d) => d.length - 1));
    this.#field = field;
  }

  check(chunk: Uint8Array): void {
    if (this.#delimiters.length === 0) return;
    const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    // The octets around the edge with the previous chunk, then the chunk itself.
    const edge = Buffer.concat([this.#tail, buf.subarray(0, this.#keep)]);
    for (const d of this.#delimiters) {
      if (edge.indexOf(d) !== -1 || buf.indexOf(d) !== -1) {
        throw new MimeError(
          `${this.#field}: the content contains the MIME boundary of its multipart (RFC 2046 §5.1.1); send it base64-encoded (without transferEncoding.binary)`,
          { code: 'ERR_MIME_INVALID_CONTENT', field: this.#field },
        );
      }
    }
    const joined = buf.length >= this.#keep ? buf : Buffer.concat([this.#tail, buf]);
    this.#tail = Buffer.from(joined.subarray(Math.max(0, joined.length - this.#keep)));
  }
}

async function* streamBody(body: StreamBody, boundaries: readonly string[]): AsyncGenerator<Uint8Array> {
  const expected = body.source.size;
  let seen = 0;
  const check = (): void => {
    if (expected !== undefined && seen > expected) {
      throw new MimeError(`${body.field}: content is longer than its declared size ${expected}`, { code: 'ERR_MIME_SIZE_MISMATCH', field: body.field });
    }
  };
  if (body.encoding === 'binary') {
    const watch = new DelimiterWatch(boundaries, body.field);
    for await (const chunk of body.source.open()) {
      seen += chunk.length;
      check();
      watch.check(chunk);
      if (chunk.length > 0) yield chunk;
    }
  } else {
    const encoder = new Base64Encoder();
    for await (const chunk of body.source.open()) {
      seen += chunk.length;
      check();
      // A huge chunk is fed a piece at a time, so the encoded output in hand stays small.
      for (let i = 0; i < chunk.length; i += PIECE) {
        for (const block of encoder.push(chunk.subarray(i, i + PIECE))) yield block;
      }
    }
    for (const block of encoder.end()) yield block;
  }
  if (expected !== undefined && seen !== expected) {
    throw new MimeError(`${body.field}: content is ${seen} octets, declared size is ${expected}`, { code: 'ERR_MIME_SIZE_MISMATCH', field: body.field });
  }
}

/**
 * Streams the tree: headers and delimiters are gathered into ~64 KiB blocks, large bodies pass through
 * in the encoder's blocks, so memory stays flat whatever the attachment sizes.
 */
export async function* emitTree(root: MimeNode, trailer: Uint8Array): AsyncGenerator<Uint8Array> {
  let pending: Uint8Array[] = [];
  let pendingSize = 0;
  const flush = (): Uint8Array => {
    const out = pending.length === 1 ? (pending[0] as Uint8Array) : Buffer.concat(pending, pendingSize);
    pending = [];
    pendingSize = 0;
    return out;
  };
  for (const item of pieces(root)) {
    const piece = typeof item === 'string' ? Buffer.from(item, 'utf8') : item;
    if (piece instanceof Uint8Array) {
      if (piece.length === 0) continue;
      if (piece.length >= COALESCE) {
        if (pendingSize > 0) yield flush();
        yield piece;
        continue;
      }
      pending.push(piece);
      pendingSize += piece.length;
      if (pendingSize >= COALESCE) yield flush();
      continue;
    }
    for await (const block of streamBody(piece.body, piece.boundaries)) {
      if (pendingSize > 0 && pendingSize + block.length <= COALESCE) {
        pending.push(block);
        pendingSize += block.length;
        continue;
      }
      if (pendingSize > 0) yield flush();
      if (block.length >= COALESCE / 2) yield block;
      else {
        pending.push(block);
        pendingSize += block.length;
      }
    }
  }
  if (trailer.length > 0) {
    pending.push(trailer);
    pendingSize += trailer.length;
  }
  if (pendingSize > 0) yield flush();
}

export { CRLF };
