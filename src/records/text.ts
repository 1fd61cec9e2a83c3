/**
 * Fixed-length string fields: N bytes of ASCII or UTF-8, NUL-padded. Encoding, comparing and
 * copying run over the bytes in place (no allocation); only reading as a JS string allocates.
 */

/** From {@link measureText}: a character above U+007F for an ASCII field. */
export const NOT_ASCII = -1;
/** From {@link measureText}: a NUL character. */
export const HAS_NUL = -2;
/** From {@link measureText}: a surrogate without its pair. */
export const LONE_SURROGATE = -3;

const decoder = new TextDecoder();
/** Where {@link textEquals} encodes a string to compare it; grown to the longest field compared. */
let scratch = new Uint8Array(64);

/** Bytes in use of a field of `n` bytes at `at`: up to the first NUL. */
export function storedLength(u8: Uint8Array, at: number, n: number): number {
  let i = 0;
  while (i < n && u8[at + i] !== 0) i++;
  return i;
}

/** The field's text (bytes that are not UTF-8, from another writer, read as U+FFFD). */
export function readText(u8: Uint8Array, at: number, n: number): string {
  const len = storedLength(u8, at, n);
  return len === 0 ? "" : decoder.decode(u8.subarray(at, at + len));
}

/**
 * UTF-8 length of `s`, or NOT_ASCII (only when `ascii`), HAS_NUL (a NUL would end the string
 * early on reading) or LONE_SURROGATE (not Unicode: it has no UTF-8 form).
 */
export function measureText(s: string, ascii: boolean): number {
  let bytes = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0) return HAS_NUL;
    if (c < 0x80) bytes += 1;
    else if (ascii) return NOT_ASCII;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c < 0xe000) {
      const next = s.charCodeAt(i + 1);
      if (c >= 0xdc00 || !(next >= 0xdc00 && next < 0xe000)) return LONE_SURROGATE;
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** Writes `s` (checked by measureText) as UTF-8 at `at`; returns the end offset. */
export function encodeText(s: string, dst: Uint8Array, at: number): number {
  let j = at;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      dst[j++] = c;
    } else if (c < 0x800) {
      dst[j++] = 0xc0 | (c >> 6);
      dst[j++] = 0x80 | (c & 0x3f);
    } else if (c >= 0xd800 && c < 0xdc00) {
      c = 0x10000 + ((c - 0xd800) << 10) + (s.charCodeAt(++i) - 0xdc00);
      dst[j++] = 0xf0 | (c >> 18);
      dst[j++] = 0x80 | ((c >> 12) & 0x3f);
      dst[j++] = 0x80 | ((c >> 6) & 0x3f);
      dst[j++] = 0x80 | (c & 0x3f);
    } else {
      dst[j++] = 0xe0 | (c >> 12);
      dst[j++] = 0x80 | ((c >> 6) & 0x3f);
      dst[j++] = 0x80 | (c & 0x3f);
    }
  }
  return j;
}

/** Whether the field holds exactly `value` (a string, or its bytes without padding). No allocation once the scratch buffer has grown. */
export function textEquals(u8: Uint8Array, at: number, n: number, value: string | Uint8Array): boolean {
  const len = storedLength(u8, at, n);
  let bytes: Uint8Array;
  if (typeof value === "string") {
    if (measureText(value, false) !== len) return false;
    if (scratch.length < len) scratch = new Uint8Array(Math.max(len, scratch.length * 2));
    encodeText(value, scratch, 0);
    bytes = scratch;
  } else {
    if (value.length !== len) return false;
    bytes = value;
  }
  for (let i = 0; i < len; i++) if (u8[at + i] !== bytes[i]) return false;
  return true;
}

/** Copies the field's bytes in use into `dst` at `offset`; returns how many. `dst` must have room. */
export function copyText(u8: Uint8Array, at: number, n: number, dst: Uint8Array, offset: number): number {
  const len = storedLength(u8, at, n);
  for (let i = 0; i < len; i++) dst[offset + i] = u8[at + i]!;
  return len;
}
