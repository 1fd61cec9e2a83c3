/**
 * Which segment a reader maps when it (re)attaches or moves on: the rules for positions in
 * segments that do not exist yet, were deleted by retention, or lie past the newest one.
 */
import { CorruptMetadata, PositionLost } from "../errors.ts";
import type { Mapping } from "../ffi/index.ts";
import { Segment, listSegmentIds } from "./segment.ts";
import { SEGMENT_HEADER_SIZE } from "./layout/index.ts";

/**
 * Maps the segment of position (`segmentId`, `offset`) into `window`, or the oldest later one when
 * it was deleted and `skipLost` (the caller then reads from its start). Null when there is nothing
 * to map yet (no segment, or a position at the start of one not created yet). A position inside a
 * deleted segment is PositionLost (`where` names the reader's meta or the queue).
 */
export function openAtPosition(dir: string, segmentId: number, offset: number, window: Mapping, skipLost: boolean, where: string): Segment | null {
  const seg = Segment.open(dir, segmentId, window, "read");
  if (seg !== null) return seg;
  const ids = listSegmentIds(dir);
  if (ids.length === 0) return null;
  const newest = ids[ids.length - 1]!;
  const atStart = offset === SEGMENT_HEADER_SIZE;
  if (segmentId > newest) {
    if (atStart) return null;
    throw new CorruptMetadata(where, `reader position is in segment ${segmentId}, past the newest segment ${newest}`);
  }
  if ((segmentId < ids[0]! || !atStart) && !skipLost) throw new PositionLost(where, segmentId, ids[0]!);
  return Segment.open(dir, ids.find((id) => id > segmentId)!, window, "read");
}

/**
 * Maps the segment after `current` (sealed and fully read) into `window`; null when it does not
 * exist yet. When it is gone but later ones exist, its records were deleted unread: PositionLost,
 * or with `skipLost` the oldest later segment.
 */
export function openNext(dir: string, current: number, window: Mapping, skipLost: boolean, where: string): Segment | null {
  const next = Segment.open(dir, current + 1, window, "read");
  if (next !== null) return next;
  const ids = listSegmentIds(dir);
  const later = ids.find((id) => id > current);
  if (later === undefined) return null;
  if (!skipLost) throw new PositionLost(where, current + 1, ids[0]!);
  return Segment.open(dir, later, window, "read");
}
