/** A read-only snapshot of a queue's state on disk, for tools and monitoring. */
import { join } from "node:path";
import { ChronicleError } from "../errors.ts";
import { listDir, fileSize } from "../ffi/index.ts";
import { ControlBlock } from "./control.ts";
import { writerStatus, type WriterStatus } from "./liveness.ts";
import { checkAtLeast } from "./args.ts";
import { validateDirPath } from "./names.ts";
import { DEFAULT_RETENTION, readerStatuses, retentionFloor, retentionPolicy, type ReaderStatus, type RetentionPolicy } from "./retention.ts";
import { findTail, scanSegment } from "./scan.ts";
import { listSegmentIds, segmentPath, withSegment } from "./segment.ts";
import { isSetAsideFileName, isTempFileName, READERS_DIR, SEGMENT_HEADER_SIZE, type FormatVersion } from "./layout/index.ts";

/** A snapshot of a queue for tools (`chronicle inspect`, `doctor`): writer, head, segments, readers, leftovers. */
export interface QueueInfo {
  dir: string;
  formatVersion: FormatVersion;
  segmentSize: number;
  writer: WriterStatus;
  head: { segment: number; offset: number; lastSeq: number; nextSeq: number };
  /**
   * Sleeper registrations (waiters_pending, format v2; null for v1). A count that stays above the
   * readers actually asleep was left by readers killed while asleep; a writer stops waking for
   * those after a few hundred ms.
   */
  waitersPending: number | null;
  segments: { count: number; bytes: number; oldest: number; newest: number; corrupt: { id: number; path: string; reason: string }[] };
  readers: (ReaderStatus & { lagRecords: number | null })[];
  /** Leftover temporary files (interrupted creations). */
  tempFiles: string[];
  /** Invalid files named like segments that writer recovery moved aside ("*.corrupt"), for an operator to examine. */
  setAsideFiles: string[];
  /** Segments retention would delete now. */
  deletable: number[];
}

/** Takes a snapshot of the queue in `dir`. Writes nothing. */
export function inspectQueue(dir: string, retention: Partial<RetentionPolicy> = DEFAULT_RETENTION, openTimeoutMs = 200): QueueInfo {
  validateDirPath(dir, "queue directory");
  const policy = retentionPolicy(retention, dir);
  checkAtLeast(openTimeoutMs, "openTimeoutMs", 0, dir);
  const control = ControlBlock.open(dir, openTimeoutMs, "inspect");
  try {
    const size = control.segmentSize;
    const ids = listSegmentIds(dir);
    const newest = ids.at(-1) ?? -1;
    const writer = writerStatus(dir, control);
    const damaged = corruptSegments(dir, ids, size, writer.alive);
    const corrupt = damaged.map(({ id, path, reason }) => ({ id, path, reason }));
    const headOk = newest >= 0 && !damaged.some((c) => c.id === newest && c.unreadable);
    const tail = headOk ? findTail(dir, size) : null;
    const headScan = tail?.scan ?? null;
    const lastSeq = tail?.lastSeq ?? -1;
    const head = { segment: Math.max(newest, 0), offset: headScan?.end ?? SEGMENT_HEADER_SIZE, segmentSize: size };
    // Both lags from the one head: records counted only up to head.offset, where lagBytes ends,
    // so a writer appending meanwhile cannot make the two disagree.
    const readers = readerStatuses(dir, head, policy).map((r) => ({
      ...r,
      lagRecords: r.position !== null && r.position.segment === newest && headScan !== null
        ? withSegment(dir, newest, size, null, (seg) => scanSegment(seg.window.u32, size, Math.max(SEGMENT_HEADER_SIZE, r.position!.offset), false, head.offset).records)
        : null,
    }));
    const floor = retentionFloor(readers, head);
    return {
      dir,
      formatVersion: control.version,
      segmentSize: size,
      writer,
      head: { segment: head.segment, offset: head.offset, lastSeq, nextSeq: lastSeq + 1 },
      waitersPending: control.version === 2 ? control.waitersPending : null,
      segments: {
        count: ids.length,
        bytes: ids.reduce((sum, id) => sum + Math.max(0, fileSize(segmentPath(dir, id))), 0),
        oldest: ids[0] ?? -1,
        newest,
        corrupt,
      },
      readers,
      tempFiles: tempFiles(dir),
      setAsideFiles: listDir(dir).filter(isSetAsideFileName).map((name) => join(dir, name)).sort(),
      deletable: ids.filter((id) => id < floor),
    };
  } finally {
    control.close();
  }
}

/**
 * Segments whose size or header is wrong, and those where readers stop although the log goes on:
 * a sealed segment with non-zero bytes after the end of its log (a lost commit word), and a
 * segment before the newest that is not sealed while no writer is alive (a live writer seals it
 * right after creating the next one).
 */
function corruptSegments(dir: string, ids: number[], size: number, writerAlive: boolean): { id: number; path: string; reason: string; unreadable: boolean }[] {
  const out: { id: number; path: string; reason: string; unreadable: boolean }[] = [];
  const newest = ids.at(-1) ?? -1;
  for (const id of ids) {
    try {
      const reason = withSegment(dir, id, size, null, (seg): string | null => {
        if (!seg.sealed) {
          return id < newest && !writerAlive ? `segment is not sealed but segment ${ids[ids.indexOf(id) + 1]} exists and no writer is alive: readers stop at its end until a writer opens the queue` : null;
        }
        const scan = scanSegment(seg.window.u32, size, SEGMENT_HEADER_SIZE, true);
        return scan.state === "torn" ? `non-zero bytes after the end of a sealed segment (the log ends at offset ${scan.end}): readers stop there with CorruptRecord` : null;
      });
      if (reason !== null) out.push({ id, path: segmentPath(dir, id), reason, unreadable: false });
    } catch (e) {
      if (!(e instanceof ChronicleError)) throw e;
      out.push({ id, path: e.path, reason: e.message, unreadable: true });
    }
  }
  return out;
}

function tempFiles(dir: string): string[] {
  const out: string[] = [];
  for (const [where, names] of [[dir, listDir(dir)], [join(dir, READERS_DIR), listDir(join(dir, READERS_DIR))]] as const) {
    for (const name of names) {
      if (isTempFileName(name)) out.push(join(where, name));
    }
  }
  return out.sort();
}
