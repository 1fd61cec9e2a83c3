/**
 * The reader's cold checks: states a reader cannot see from the commit words alone, judged only
 * at cold points (the end of a segment, a wait slice, next() finding nothing), never per record.
 */
import { join } from "node:path";
import { fileSize } from "../ffi/index.ts";
import type { ControlBlock } from "./control.ts";
import { writerStatus } from "./liveness.ts";
import { firstNonZero } from "./scan.ts";
import { segmentPath, type Segment } from "./segment.ts";
import { CONTROL_FILE, NOT_COMMITTED, committedLength } from "./layout/index.ts";

/**
 * At the end of a sealed segment (an uncommitted header at `o`) a writer leaves only zero bytes
 * (a roll writes nothing, torn bytes become a PAD). Anything else is a record whose commit word
 * was lost, and moving on would skip it and the records after it silently. The reason, or null.
 */
export function sealedEndProblem(u32: Uint32Array, o: number, segmentSize: number): string | null {
  const at = firstNonZero(u32, o, segmentSize);
  return at < 0 ? null : `non-zero bytes after the end of a sealed segment (the log ends at offset ${o}, byte ${at} is not zero): a commit word was lost or the segment was damaged`;
}

/**
 * A reader at the end (`o`, nothing committed) of an unsealed segment that no writer will ever
 * seal: segment N + 1 exists and no writer is alive. It would wait there forever. The reason, or
 * null. A live writer rolls by creating N + 1 before it seals N, so only a dead one leaves it so.
 */
export function stalledSegmentProblem(dir: string, control: ControlBlock, seg: Segment, o: number): string | null {
  if (seg.sealed || committedLength(seg.window.u32, o, seg.size) !== NOT_COMMITTED) return null;
  if (fileSize(segmentPath(dir, seg.id + 1)) < 0) return null;
  if (writerStatus(dir, control).alive) return null;
  // It may have sealed N and exited since the first look.
  if (seg.sealed) return null;
  return `segment is not sealed but segment ${seg.id + 1} exists and no writer is alive (a writer killed in a roll, or the SEALED flag was cleared): the next writer open seals it`;
}

/** True when the queue in `dir` was deleted (its control block is gone). */
export function queueRemoved(dir: string): boolean {
  return fileSize(join(dir, CONTROL_FILE)) < 0;
}
