import type { WriteOptions } from './types.js';

/** Cuts `bytes` into the pieces a {@link WriteOptions.split} asks for. */
export function splitBytes(bytes: Buffer, split: WriteOptions['split']): Buffer[] {
  if (split === undefined || bytes.length === 0) return [bytes];
  if (split === 'bytewise') return Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1));
  const pieces: Buffer[] = [];
  let offset = 0;
  for (const size of split) {
    if (offset >= bytes.length) break;
    if (!Number.isInteger(size) || size <= 0) throw new RangeError(`split sizes must be positive integers, got ${size}`);
    pieces.push(bytes.subarray(offset, offset + size));
    offset += size;
  }
  if (offset < bytes.length) pieces.push(bytes.subarray(offset));
  return pieces;
}
