/** Helpers shared by the layout descriptors: alignment and 64-bit fields as two u32 halves. */

export const TWO32 = 4294967296;

/** Rounds `x` up to a multiple of `align` (a power of two). */
export function alignUp(x: number, align: number): number {
  return Math.ceil(x / align) * align;
}

/** Reads a u64 stored little-endian at word index `w` (lo) and `w + 1` (hi) as a number. */
export function readU64(u32: Uint32Array, w: number): number {
  return u32[w]! + u32[w + 1]! * TWO32;
}

/** Reads a u64 like {@link readU64}, exactly: for nanosecond times, which a double would round. */
export function readU64Exact(u32: Uint32Array, w: number): bigint {
  return (BigInt(u32[w + 1]!) << 32n) | BigInt(u32[w]!);
}

/** Writes a non-negative integer below 2^53 as a little-endian u64 at word index `w`. */
export function writeU64(u32: Uint32Array, w: number, value: number): void {
  const hi = Math.floor(value / TWO32);
  u32[w] = value - hi * TWO32;
  u32[w + 1] = hi;
}

/**
 * A word private to this process, the target of {@link loadFence}: a fence must not touch
 * shared pages (readers may map them read-only, and a store would dirty them).
 */
const FENCE_WORD = new Int32Array(1);

/**
 * Orders the plain loads of shared memory before this call before every access after it, and
 * keeps the JIT from hoisting those loads out of a loop (an `Atomics` call is opaque to it).
 * A read-modify-write: on x86-64 a locked instruction (loads are not reordered with loads there
 * anyway, so only the compiler barrier matters); on aarch64 a sequentially consistent RMW, which
 * has both acquire and release semantics, so the earlier load cannot move after later ones.
 */
export function loadFence(): void {
  Atomics.add(FENCE_WORD, 0, 0);
}
