// DATA encoder throughput on 100 MiB bodies fed in 64 KiB chunks (a socket-sized stream), on the built
// package, in plain Node: the figure a client sees. Prints MiB/s per body shape, best of 5 runs.
import { Buffer } from 'node:buffer';
import { CrlfCanonicalizer, DataEncoder } from '../dist/index.js';

const SIZE = 100 * 1024 * 1024;
const CHUNK = 64 * 1024;
const RUNS = 5;

function body(lineLength, eol, dotEvery = 0) {
  const buf = Buffer.allocUnsafe(SIZE);
  const text = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ+/'.repeat(Math.ceil(lineLength / 64));
  const line = Buffer.from(`${text.slice(0, lineLength)}${eol}`, 'latin1');
  for (let o = 0, n = 0; o < SIZE; o += line.length, n++) {
    line.copy(buf, o, 0, Math.min(line.length, SIZE - o));
    if (dotEvery > 0 && n % dotEvery === 0) buf[o] = 0x2e;
  }
  return buf;
}

function measure(name, make, input) {
  const chunks = [];
  for (let o = 0; o < input.length; o += CHUNK) chunks.push(input.subarray(o, o + CHUNK));
  let best = Infinity;
  for (let r = 0; r < RUNS; r++) {
    const t = process.hrtime.bigint();
    const enc = make();
    let out = 0;
    for (const c of chunks) out += enc.push(c).length;
    out += enc.end().length;
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    if (out < input.length) throw new Error(`${name}: output shorter than input`);
    best = Math.min(best, ms);
  }
  const mibs = SIZE / 1048576 / (best / 1000);
  console.log(`${name.padEnd(62)} ${mibs.toFixed(0).padStart(6)} MiB/s`);
}

console.log(`DataEncoder / CrlfCanonicalizer, 100 MiB body in 64 KiB chunks, best of ${RUNS} (node ${process.version})`);
measure('DataEncoder: CRLF, 990-octet lines (few line breaks)', () => new DataEncoder(), body(990, '\r\n'));
measure('DataEncoder: bare LF, 990-octet lines', () => new DataEncoder(), body(990, '\n'));
measure('DataEncoder: CRLF, 76-octet lines, a leading dot every 50 lines', () => new DataEncoder(), body(76, '\r\n', 50));
measure('DataEncoder: bare LF, 76-octet lines', () => new DataEncoder(), body(76, '\n'));
measure('CrlfCanonicalizer: bare LF, 76-octet lines', () => new CrlfCanonicalizer(), body(76, '\n'));
