/**
 * Where the log ends: walking the committed records of a segment (without reading payloads)
 * and finding the tail of a queue. Recovery, inspect and `start: "latest"` all use findTail,
 * and every record is judged by the descriptor's one rule (readableLength, as readers do).
 */
import type { Mapping } from "../ffi/index.ts";
import { Segment, listSegmentIds, withSegment } from "./segment.ts";
import { CORRUPT, NOT_COMMITTED, PADDED, SEGMENT_HEADER_SIZE, claimedLength, isPad, readableLength, recordLength, recordSeq } from "./layout/index.ts";

/**
 * How a segment's log ends at {@link SegmentScan.end}:
 * - "open": an uncommitted header (or the segment end); with `checkGarbage`, only zero bytes follow;
 * - "padded": a PAD record closes the segment;
 * - "torn": an uncommitted header followed by non-zero bytes (a write cut short by a crash);
 * - "corrupt": a committed header that breaks the rule; readers report CorruptRecord there.
 */
export type TailState = "open" | "padded" | "torn" | "corrupt";

export interface SegmentScan {
  /** Offset of the first header that is not a committed application record: where the log ends. */
  end: number;
  /** Committed application records from the scan's start to `end` (PAD excluded). */
  records: number;
  /** seq of the last of them, or -1 when there is none. */
  lastSeq: number;
  state: TailState;
}

/**
 * Scans the committed records of a segment mapped as `u32` (`size` bytes) from `from`. With
 * `checkGarbage`, an uncommitted end followed by any non-zero byte is reported as "torn".
 * `until` stops the scan at that offset (state "open" there), for counting the records of a
 * stretch seen earlier while a writer may still be appending past it.
 */
export function scanSegment(u32: Uint32Array, size: number, from = SEGMENT_HEADER_SIZE, checkGarbage = false, until = size): SegmentScan {
  let o = from;
  let records = 0;
  let lastSeq = -1;
  for (;;) {
    if (o >= until) return { end: o, records, lastSeq, state: "open" };
    const length = readableLength(u32, o, size);
    if (length === NOT_COMMITTED) break;
    if (length === CORRUPT) return { end: o, records, lastSeq, state: "corrupt" };
    if (length === PADDED) return { end: o, records, lastSeq, state: "padded" };
    records++;
    lastSeq = recordSeq(u32, o);
    o += recordLength(length);
  }
  return { end: o, records, lastSeq, state: checkGarbage && !zeroFrom(u32, o, size) ? "torn" : "open" };
}

function zeroFrom(u32: Uint32Array, from: number, size: number): boolean {
  return firstNonZero(u32, from, size) < 0;
}

/** Byte offset of the first non-zero 4-byte word in `from..size` (both multiples of 4), or -1 when all are zero. */
export function firstNonZero(u32: Uint32Array, from: number, size: number): number {
  for (let i = from >> 2, n = size >> 2; i < n; i++) if (u32[i] !== 0) return i << 2;
  return -1;
}

export interface QueueTail {
  /** Segment files on disk, ascending. */
  ids: number[];
  /** The newest segment, or -1 when there is none. */
  segment: number;
  /** Its scan, or null when there is no segment (or it vanished while being opened). */
  scan: SegmentScan | null;
  /** seq of the newest committed record in the queue, or -1 when there is none. */
  lastSeq: number;
  /** The newest segment, when findTail mapped it into a caller's window. */
  head: Segment | null;
}

export interface FindTailOptions {
  /** Map the newest segment read-write into this window and leave it there (the writer's recovery). */
  window?: Mapping;
  /** Tell a torn end from an open one (reads the rest of the segment). */
  checkGarbage?: boolean;
}

/** Finds where the log of the queue in `dir` (segments of `size` bytes) ends. */
export function findTail(dir: string, size: number, opts: FindTailOptions = {}): QueueTail {
  const ids = listSegmentIds(dir);
  const segment = ids.at(-1) ?? -1;
  let scan: SegmentScan | null = null;
  let head: Segment | null = null;
  if (segment >= 0) {
    const scanHead = (seg: Segment): SegmentScan => scanSegment(seg.window.u32, size, SEGMENT_HEADER_SIZE, opts.checkGarbage);
    if (opts.window !== undefined) {
      head = Segment.open(dir, segment, opts.window, "write");
      if (head !== null) scan = scanHead(head);
    } else {
      scan = withSegment(dir, segment, size, null, scanHead);
    }
  }
  const lastSeq = scan === null ? -1 : scan.lastSeq >= 0 ? scan.lastSeq : lastSeqBefore(dir, ids, size);
  return { ids, segment, scan, lastSeq, head };
}

/** seq of the newest record in the segments before the newest one, or -1 when there is none. */
function lastSeqBefore(dir: string, ids: number[], size: number): number {
  for (let i = ids.length - 2; i >= 0; i--) {
    const lastSeq = withSegment(dir, ids[i]!, size, -1, (seg) => scanSegment(seg.window.u32, size).lastSeq);
    if (lastSeq >= 0) return lastSeq;
  }
  return -1;
}

/**
 * The highest seq written at or after the corrupt header at `from` in a segment: steps over
 * every header whose commit word claims a length that fits, valid or not, and stops at one that
 * claims nothing or too much. Readers stop at a corrupt record, but one damaged after they read
 * past it must not see its seq (or a later one) given to a new record.
 */
export function highestSeqFrom(u32: Uint32Array, size: number, from: number): number {
  let highest = -1;
  for (let o = from; ;) {
    const length = claimedLength(u32, o, size);
    if (length < 0) return highest;
    if (!isPad(u32, o)) highest = Math.max(highest, recordSeq(u32, o));
    o += recordLength(length);
  }
}
