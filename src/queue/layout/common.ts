/** Helpers shared by the layout descriptors: alignment and 64-bit fields as two u32 halves. */

export const TWO32 = 4294967296;

/** Rounds `x` up to a multiple of `align` (a power of two). */
export function alignUp(x: number, align: number): number {
  return Math.ceil(x / align) * align;
}

/** Reads a u64 stored little-endian at word index `w` (lo) and `w + 1` (hi) as a number. */
export function readU64(u32: Uint32Array, w: number): number {
  return u32[w] + u32[w + 1] * TWO32;
}

/** Writes a non-negative integer below 2^53 as a little-endian u64 at word index `w`. */
export function writeU64(u32: Uint32Array, w: number, value: number): void {
  const hi = Math.floor(value / TWO32);
  u32[w] = value - hi * TWO32;
  u32[w + 1] = hi;
}
