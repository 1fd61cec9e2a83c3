/** Where a reader starts: its committed position, the oldest segment, or the tail. */
import { join } from "node:path";
import { CorruptMetadata, ErrnoError, InvalidArgument, QueueNotFound } from "../errors.ts";
import { mkdirOne } from "../ffi/index.ts";
import type { ControlBlock } from "./control.ts";
import { ReaderMetaFile } from "./readerMeta.ts";
import { dirModeFor, queueFileMode } from "./access.ts";
import { refuseSymlink } from "./regularFile.ts";
import { findTail } from "./scan.ts";
import { listSegmentIds } from "./segment.ts";
import { READERS_DIR, RECORD_ALIGN, SEGMENT_HEADER_SIZE } from "./layout/index.ts";

/** Where a reader starts: "resume" (its committed position; earliest for a new reader), "earliest" (the oldest segment), "latest" (the tail). */
export type StartPosition = "resume" | "earliest" | "latest";

/** A reader position: a segment id and a byte offset in it (a record boundary). */
export interface Position {
  segment: number;
  offset: number;
}

/** The start of the oldest segment on disk (or of the writer's segment when none exists yet). */
export function earliestPosition(dir: string, control: ControlBlock): Position {
  const ids = listSegmentIds(dir);
  return { segment: ids.length > 0 ? ids[0] : control.currentSegment, offset: SEGMENT_HEADER_SIZE };
}

/** The end of the log: after the newest committed record (findTail's end of the newest segment). */
export function latestPosition(dir: string, control: ControlBlock): Position {
  const tail = findTail(dir, control.segmentSize);
  return tail.scan === null ? earliestPosition(dir, control) : { segment: tail.segment, offset: tail.scan.end };
}

export function startPosition(dir: string, control: ControlBlock, start: "earliest" | "latest"): Position {
  return start === "latest" ? latestPosition(dir, control) : earliestPosition(dir, control);
}

/** True when `offset` is a record boundary of a `segmentSize`-byte segment (its end included). */
export function isRecordBoundary(offset: number, segmentSize: number): boolean {
  return Number.isInteger(offset) && offset >= SEGMENT_HEADER_SIZE && offset <= segmentSize && offset % RECORD_ALIGN === 0;
}

/** Refuses a position (from a reader meta) that is not a record boundary of the segment size. */
export function checkPosition(path: string, p: Position, segmentSize: number): void {
  if (!isRecordBoundary(p.offset, segmentSize)) {
    throw new CorruptMetadata(path, `reader position offset ${p.offset} is not a record boundary in a ${segmentSize}-byte segment`);
  }
}

/** The `start` option, checked (default "resume"). */
export function checkStart(dir: string, start: unknown): StartPosition {
  const s = start ?? "resume";
  if (s !== "resume" && s !== "earliest" && s !== "latest") {
    throw new InvalidArgument(dir, `start must be "resume", "earliest" or "latest", got ${String(s)}`);
  }
  return s;
}

/** A reader's start: its meta file (named readers; open and locked) and the position to read from. */
export interface ResolvedStart {
  meta: ReaderMetaFile | null;
  position: Position;
}

/**
 * Opens the meta of reader `name` (null: anonymous, nothing is written) and resolves `start`:
 * "resume" is the committed position (a new named reader's is the earliest; an anonymous
 * reader's is the earliest), the others are stored at once for a named reader.
 */
export function resolveStart(dir: string, name: string | null, control: ControlBlock, start: StartPosition): ResolvedStart {
  if (name === null) {
    const position = startPosition(dir, control, start === "resume" ? "earliest" : start);
    checkPosition(dir, position, control.segmentSize);
    return { meta: null, position };
  }
  // Not mkdirp: a queue deleted while we open it must stay deleted, not be re-created.
  mkdirReaders(dir);
  const meta = ReaderMetaFile.open(dir, name, () => earliestPosition(dir, control));
  try {
    const position = start === "resume" ? meta.initial! : startPosition(dir, control, start);
    if (start !== "resume") meta.store(position.segment, position.offset);
    checkPosition(meta.path, position, control.segmentSize);
    return { meta, position };
  } catch (e) {
    meta.close();
    throw e;
  }
}

/** Creates `readers/` when missing; a queue directory deleted meanwhile is QueueNotFound. */
function mkdirReaders(dir: string): void {
  // readers/ must be this queue's own directory: a link would put reader metas elsewhere.
  refuseSymlink(join(dir, READERS_DIR));
  try {
    mkdirOne(join(dir, READERS_DIR), dirModeFor(queueFileMode(dir)));
  } catch (e) {
    if (e instanceof ErrnoError && e.errnoName === "ENOENT") throw new QueueNotFound(dir, "the queue directory was deleted while the reader was opening");
    throw e;
  }
  refuseSymlink(join(dir, READERS_DIR));
}
