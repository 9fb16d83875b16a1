// DATA encoder throughput on 100 MB bodies, fed in 64 KiB chunks (a socket-sized stream).
import { Buffer } from 'node:buffer';
import { bench, describe } from 'vitest';
import type { BenchOptions } from 'vitest';
import { CrlfCanonicalizer, DataEncoder } from '../src/index.js';

const SIZE = 100 * 1024 * 1024;
const CHUNK = 64 * 1024;
const MB = 1024 * 1024;

function body(lineLength: number, eol: string, dotEvery = 0): Buffer {
  const buf = Buffer.allocUnsafe(SIZE);
  const text = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ+/'.repeat(Math.ceil(lineLength / 64));
  const line = Buffer.from(`${text.slice(0, lineLength)}${eol}`, 'latin1');
  let n = 0;
  for (let o = 0; o < SIZE; o += line.length, n++) {
    line.copy(buf, o, 0, Math.min(line.length, SIZE - o));
    if (dotEvery > 0 && n % dotEvery === 0) buf[o] = 0x2e;
  }
  return buf;
}

interface Encoder {
  push(c: Uint8Array): Uint8Array;
}

/** A bench that encodes `input` in 64 KiB chunks and prints its throughput in MB/s. */
function throughput(name: string, make: () => Encoder, input: Buffer): [string, () => void, BenchOptions] {
  let bytes = 0;
  let ms = 0;
  const fn = (): void => {
    const t = performance.now();
    const enc = make();
    for (let o = 0; o < input.length; o += CHUNK) enc.push(input.subarray(o, o + CHUNK));
    ms += performance.now() - t;
    bytes += input.length;
  };
  const options: BenchOptions = {
    iterations: 8,
    warmupIterations: 3,
    time: 0,
    setup: () => {
      bytes = 0;
      ms = 0;
    },
    teardown: (_task, mode) => {
      if (mode === 'run') console.log(`[figure] ${name}: ${(bytes / MB / (ms / 1000)).toFixed(0)} MB/s`);
    },
  };
  return [name, fn, options];
}

const crlf990 = body(990, '\r\n');
const lf990 = body(990, '\n');
const crlf76 = body(76, '\r\n', 50);
const lf76 = body(76, '\n');

describe('DataEncoder, 100 MB body', () => {
  bench(...throughput('DataEncoder: CRLF, 990-octet lines (few line breaks)', () => new DataEncoder(), crlf990));
  bench(...throughput('DataEncoder: bare LF, 990-octet lines', () => new DataEncoder(), lf990));
  bench(...throughput('DataEncoder: CRLF, 76-octet lines, a leading dot every 50 lines', () => new DataEncoder(), crlf76));
  bench(...throughput('DataEncoder: bare LF, 76-octet lines', () => new DataEncoder(), lf76));
});

describe('CrlfCanonicalizer, 100 MB body', () => {
  bench(...throughput('CrlfCanonicalizer: bare LF, 76-octet lines', () => new CrlfCanonicalizer(), lf76));
});
