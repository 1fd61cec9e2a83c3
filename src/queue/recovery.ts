/**
 * Writer-open recovery: find where the log ends and where the next record goes, without ever
 * overwriting a committed record, recreating a deleted segment or truncating a file.
 */
import { CorruptMetadata } from "../errors.ts";
import { ControlBlock } from "./control.ts";
import { readCheckpoint } from "./checkpoint.ts";
import { scanSegment } from "./scan.ts";
import { Segment, listSegmentIds, withSegment } from "./segment.ts";
import type { Mapping } from "../ffi/index.ts";
import { COMMIT_W, TYPE_FLAGS_W, PAD_TYPE_ID, RECORD_HEADER_SIZE, SEGMENT_HEADER_SIZE, commitWord } from "./layout/index.ts";

export interface RecoveredTail {
  /** The segment the writer appends to, mapped read-write into the writer's window. */
  segment: Segment;
  /** Where the next record goes in it. */
  offset: number;
  /** seq of the next record. */
  nextSeq: number;
}

/** Finds the tail and maps the segment to append to into `window`. */
export function recoverTail(dir: string, control: ControlBlock, priorEpoch: number, window: Mapping): RecoveredTail {
  const size = control.segmentSize;
  const ids = listSegmentIds(dir);
  const newest = ids.length > 0 ? ids[ids.length - 1] : -1;
  // Hints that point past the newest file mean newer segments were deleted (or never created
  // by a writer that crashed while opening): continue after them, never recreate them.
  const hinted = Math.max(control.currentSegment, checkpointHint(dir, control));
  const minNewId = priorEpoch > 0 && hinted > newest ? hinted + 1 : newest + 1;

  if (newest < 0) return { segment: createAndOpen(dir, minNewId, size, window), offset: SEGMENT_HEADER_SIZE, nextSeq: 0 };

  // A writer killed in a roll, after linking the head but before sealing the segment before
  // it, left that one unsealed: readers would wait at its end forever.
  if (ids.length >= 2 && sealIfOpen(dir, ids[ids.length - 2], size)) control.notify();
  const head = Segment.open(dir, newest, window);
  if (head === null) return recoverTail(dir, control, priorEpoch, window);
  const scan = scanSegment(window.u32, size, SEGMENT_HEADER_SIZE, true);
  const nextSeq = scan.lastSeq >= 0 ? scan.lastSeq + 1 : lastSeqBefore(dir, ids, size) + 1;
  const reusable = !head.sealed && !scan.padded && !scan.garbageAfterEnd && minNewId === newest + 1;
  if (reusable) return { segment: head, offset: scan.end, nextSeq };

  // The head cannot take more records: close it for readers and continue in a fresh segment.
  if (scan.garbageAfterEnd) writePad(head, scan.end);
  head.seal();
  control.notify();
  return { segment: createAndOpen(dir, minNewId, size, window), offset: SEGMENT_HEADER_SIZE, nextSeq };
}

/**
 * Seals segment `id` unless it is sealed already; true when it had to. A damaged one is left
 * alone: readers report it when they reach it, and the writer does not need it.
 */
function sealIfOpen(dir: string, id: number, size: number): boolean {
  try {
    return withSegment(dir, id, size, false, (seg) => {
      if (seg.sealed) return false;
      const scan = scanSegment(seg.window.u32, size, SEGMENT_HEADER_SIZE, true);
      if (scan.garbageAfterEnd) writePad(seg, scan.end);
      seg.seal();
      return true;
    });
  } catch (e) {
    if (e instanceof CorruptMetadata) return false;
    throw e;
  }
}

/**
 * The checkpoint's segment, when it is plausible. Writers publish a segment in the control block
 * before the checkpoint names it (at most one ahead: a writer that crashed while opening), so a
 * larger value is damage; trusting it would skip that many segment ids and make readers report
 * the gap as lost segments.
 */
function checkpointHint(dir: string, control: ControlBlock): number {
  const segment = readCheckpoint(dir)?.segment ?? 0;
  return segment <= control.currentSegment + 1 ? segment : 0;
}

function createAndOpen(dir: string, id: number, size: number, window: Mapping): Segment {
  Segment.create(dir, id, size);
  return Segment.open(dir, id, window)!;
}

/** seq of the newest record in the segments before the head, or -1 when there is none. */
export function lastSeqBefore(dir: string, ids: number[], size: number): number {
  for (let i = ids.length - 2; i >= 0; i--) {
    const lastSeq = withSegment(dir, ids[i], size, -1, (seg) => scanSegment(seg.window.u32, size).lastSeq);
    if (lastSeq >= 0) return lastSeq;
  }
  return -1;
}

/**
 * Replaces everything from `at` to the end of the segment with one PAD record, so that torn
 * bytes after the end of the log can never be mistaken for a commit.
 */
function writePad(seg: Segment, at: number): void {
  const u32 = seg.window.u32;
  const w = at >> 2;
  Atomics.store(u32, w + COMMIT_W, 0);
  seg.window.u8.fill(0, at + 4, seg.size);
  u32[w + TYPE_FLAGS_W] = PAD_TYPE_ID;
  Atomics.store(u32, w + COMMIT_W, commitWord(seg.size - at - RECORD_HEADER_SIZE));
}
