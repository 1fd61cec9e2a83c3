/**
 * Format v1 queue directories built byte by byte from docs/FORMAT.md (Segment, Record, Control block), as the Rust reference
 * writes them, without this library's writer or layout descriptor: readers are checked against the
 * spec, not against our own writer. Literal offsets on purpose (they are the spec's numbers).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";

/** One record as a writer appends it. */
export interface V1Record {
  seq: number;
  timestampNs: bigint;
  typeId: number;
  payload: Uint8Array;
}

/** v1 segments are always 1 MiB. */
export const V1_SEGMENT_BYTES = 1 << 20;

/** `record_len = align_up(64 + payload_len, 64)` (FORMAT.md, Record). */
export function v1RecordLength(payloadLength: number): number {
  return Math.ceil((64 + payloadLength) / 64) * 64;
}

/** The bytes of segment `id` holding `records` from offset 64 (FORMAT.md, Segment and Record). */
export function v1Segment(id: number, records: V1Record[], sealed: boolean): Uint8Array {
  const seg = new Uint8Array(V1_SEGMENT_BYTES);
  const v = new DataView(seg.buffer);
  v.setUint32(0, 0x53454730, true);
  v.setUint32(4, 1, true);
  v.setUint32(8, id, true);
  v.setUint32(12, sealed ? 1 : 0, true);
  let o = 64;
  for (const r of records) {
    const length = v1RecordLength(r.payload.length);
    if (o + length > V1_SEGMENT_BYTES) throw new Error(`record seq ${r.seq} does not fit in segment ${id}`);
    v.setBigUint64(o + 8, BigInt(r.seq), true);
    v.setBigUint64(o + 16, r.timestampNs, true);
    v.setUint16(o + 24, r.typeId, true);
    v.setUint32(o + 28, Bun.hash.crc32(r.payload), true);
    seg.set(r.payload, o + 64);
    v.setUint32(o, r.payload.length + 1, true);
    o += length;
  }
  return seg;
}

/**
 * Writes into the empty directory `dir` the v1 queue a reference writer leaves after appending
 * `records` in order and exiting: a new 1 MiB segment whenever the next record does not fit, every
 * full segment sealed, control.meta (FORMAT.md, Control block) naming the last one. Returns the segment count.
 */
export function writeV1Queue(dir: string, records: V1Record[]): number {
  const segments: V1Record[][] = [[]];
  let o = 64;
  for (const r of records) {
    const length = v1RecordLength(r.payload.length);
    if (o + length > V1_SEGMENT_BYTES) {
      segments.push([]);
      o = 64;
    }
    segments[segments.length - 1]!.push(r);
    o += length;
  }
  segments.forEach((rs, id) => writeFileSync(join(dir, `${String(id).padStart(9, "0")}.q`), v1Segment(id, rs, id < segments.length - 1)));
  const control = new Uint8Array(512);
  const v = new DataView(control.buffer);
  v.setUint32(0, 0x4348524e, true);
  v.setUint32(4, 1, true);
  v.setUint32(8, 2, true);
  v.setBigUint64(16, 1n, true);
  v.setUint32(132, segments.length - 1, true);
  v.setBigUint64(264, BigInt(o), true);
  v.setBigUint64(272, BigInt(Date.now()) * 1_000_000n, true);
  v.setUint32(280, records.length, true);
  writeFileSync(join(dir, "control.meta"), control);
  return segments.length;
}
