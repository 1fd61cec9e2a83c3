/**
 * CRC-32/ISO-HDLC (the zlib CRC). Bun.hash.crc32 computes it natively, but only over a whole
 * typed array, so checking a record inside a mapping would need a subarray (an allocation of
 * ~70 ns, and GC) per record. Short ranges therefore use a table-driven slicing-by-16 loop that
 * reads the mapping in place; long ranges amortise the subarray and use the
 * native code.
 */

/** Bytes taken per step of the in-place loop (four u32 words, one table each byte). */
const SLICES = 16;
const TABLE = new Int32Array(256 * SLICES);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  TABLE[n] = c;
}
for (let n = 0; n < 256; n++) {
  for (let t = 1; t < SLICES; t++) {
    const prev = TABLE[(t - 1) * 256 + n]!;
    TABLE[t * 256 + n] = (prev >>> 8) ^ TABLE[prev & 255]!;
  }
}

/** Ranges up to this many bytes are checked in place by `crc32Words` (measured: bench/read.ts). */
export const IN_PLACE_CRC_MAX = 256;

/**
 * CRC of a record payload of `length` bytes at `offset` (a multiple of 4) in the buffer behind
 * `u32`/`u8`: in place up to IN_PLACE_CRC_MAX bytes, which allocates nothing; natively beyond,
 * over the array `payload()` gives when the caller keeps one for those bytes (the reader's view),
 * else over a subarray (the native CRC is faster than the table there, even with the allocation).
 */
export function payloadCrc(u32: Uint32Array, u8: Uint8Array, offset: number, length: number, payload?: () => Uint8Array): number {
  if (length <= IN_PLACE_CRC_MAX) return crc32Words(u32, u8, offset, length);
  return Bun.hash.crc32(payload === undefined ? u8.subarray(offset, offset + length) : payload());
}

/** CRC of a whole byte array (native). */
export function crc32(bytes: Uint8Array): number {
  return Bun.hash.crc32(bytes);
}

/**
 * CRC of `length` bytes starting at byte `offset` of the buffer behind `u32`/`u8`, where
 * `offset` is a multiple of 4. Allocates nothing.
 */
export function crc32Words(u32: Uint32Array, u8: Uint8Array, offset: number, length: number): number {
  const T = TABLE;
  let c = -1;
  let w = offset >> 2;
  const wordsEnd = w + ((length >> 4) << 2);
  while (w < wordsEnd) {
    const a = u32[w]! ^ c;
    const b = u32[w + 1]!;
    const d = u32[w + 2]!;
    const e = u32[w + 3]!;
    c = T[3840 + (a & 255)]! ^ T[3584 + ((a >>> 8) & 255)]! ^ T[3328 + ((a >>> 16) & 255)]! ^ T[3072 + (a >>> 24)]!
      ^ T[2816 + (b & 255)]! ^ T[2560 + ((b >>> 8) & 255)]! ^ T[2304 + ((b >>> 16) & 255)]! ^ T[2048 + (b >>> 24)]!
      ^ T[1792 + (d & 255)]! ^ T[1536 + ((d >>> 8) & 255)]! ^ T[1280 + ((d >>> 16) & 255)]! ^ T[1024 + (d >>> 24)]!
      ^ T[768 + (e & 255)]! ^ T[512 + ((e >>> 8) & 255)]! ^ T[256 + ((e >>> 16) & 255)]! ^ T[e >>> 24]!;
    w += 4;
  }
  let i = w << 2;
  const end = offset + length;
  while (i < end) c = T[(c ^ u8[i++]!) & 255]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}
