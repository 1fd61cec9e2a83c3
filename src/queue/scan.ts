/** Walking the committed records of one segment without reading payloads. */
import {
  COMMIT_W, RESERVED_W, SEQ_LO_W, SEQ_HI_W, TYPE_FLAGS_W, PAD_TYPE_ID, SEGMENT_HEADER_SIZE, TWO32, recordLength,
} from "./layout/index.ts";

export interface ScanResult {
  /** Offset of the first uncommitted or invalid header: where the log ends in this segment. */
  end: number;
  /** Committed application records (PAD excluded). */
  records: number;
  /** seq of the last application record, or -1 when there is none. */
  lastSeq: number;
  /** True when a PAD record closed the segment. */
  padded: boolean;
  /** True when non-zero bytes follow `end` (a torn or invalid record). */
  garbageAfterEnd: boolean;
}

/**
 * Scans committed records of a segment mapped as `u32` (`size` bytes) from `from`. A record is
 * valid when its commit word is > 0, it fits in the segment and its reserved word is zero.
 * With `checkGarbage`, also reports whether any byte after the end is non-zero.
 */
export function scanSegment(u32: Uint32Array, size: number, from = SEGMENT_HEADER_SIZE, checkGarbage = false): ScanResult {
  let o = from;
  let records = 0;
  let lastSeq = -1;
  let padded = false;
  while (o + SEGMENT_HEADER_SIZE <= size) {
    const w = o >> 2;
    const c = Atomics.load(u32, w + COMMIT_W);
    if (c === 0) break;
    const len = recordLength(c - 1);
    if (c - 1 > size || o + len > size || u32[w + RESERVED_W] !== 0) break;
    if ((u32[w + TYPE_FLAGS_W] & 0xffff) === PAD_TYPE_ID) {
      padded = true;
      o = size;
      break;
    }
    records++;
    lastSeq = u32[w + SEQ_LO_W] + u32[w + SEQ_HI_W] * TWO32;
    o += len;
  }
  let garbageAfterEnd = false;
  if (checkGarbage && !padded) {
    for (let i = o >> 2, n = size >> 2; i < n; i++) {
      if (u32[i] !== 0) {
        garbageAfterEnd = true;
        break;
      }
    }
  }
  return { end: o, records, lastSeq, padded, garbageAfterEnd };
}
