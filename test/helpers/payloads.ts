/** Deterministic payloads derived from a seq, so a reader in another process can check every byte. */

/** Payload size for `seq`, uniform-ish in [0, max]. */
export function payloadSize(seq: number, max: number): number {
  let x = (seq + 0x9e3779b9) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
  return ((x ^ (x >>> 16)) >>> 0) % (max + 1);
}

/** Fills `out` (of the right size) with the bytes for `seq`. */
export function fillPayload(seq: number, out: Uint8Array): Uint8Array {
  for (let i = 0; i < out.length; i++) out[i] = (seq * 31 + i * 7) & 255;
  return out;
}

/** First index where `bytes` differs from the payload of `seq`, or -1. */
export function payloadMismatch(seq: number, bytes: Uint8Array, max: number): number {
  if (bytes.length !== payloadSize(seq, max)) return bytes.length;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== ((seq * 31 + i * 7) & 255)) return i;
  return -1;
}
