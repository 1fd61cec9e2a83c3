/**
 * Reader liveness and segment retention. A segment may be deleted when it is older than the
 * writer's head and older than the committed segment of every live, non-lagging reader.
 */
import { join } from "node:path";
import { InvalidArgument } from "../errors.ts";
import { isFlockHeld, listDir, unlinkPath } from "../ffi/index.ts";
import { checkAtLeast, checkOptions, type OptionalFields } from "./args.ts";
import { heartbeatAgeMs, wallClockMs } from "./liveness.ts";
import { validateDirPath } from "./names.ts";
import { decodeReaderMeta, type ReaderPosition } from "./readerMeta.ts";
import { readRegular } from "./regularFile.ts";
import { listSegmentIds, segmentPath } from "./segment.ts";
import { READERS_DIR, READER_META_EXT } from "./layout/index.ts";

/** When readers stop holding segments. */
export interface RetentionPolicy {
  /** A reader whose heartbeat is older than this, and whose process is gone, is dead (default 60 s). */
  readerTtlMs: number;
  /** A reader further behind the head than this does not hold segments (default: no limit). */
  maxReaderLagBytes: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = { readerTtlMs: 60_000, maxReaderLagBytes: Infinity };

/** The policy from options that may leave either part out, checked. */
export function retentionPolicy(options: OptionalFields<RetentionPolicy> | undefined, path = ""): RetentionPolicy {
  const opts = checkOptions(options, "retention policy", path);
  checkAtLeast(opts.readerTtlMs, "readerTtlMs", 0, path);
  checkAtLeast(opts.maxReaderLagBytes, "maxReaderLagBytes", 0, path);
  return {
    readerTtlMs: opts.readerTtlMs ?? DEFAULT_RETENTION.readerTtlMs,
    maxReaderLagBytes: opts.maxReaderLagBytes ?? DEFAULT_RETENTION.maxReaderLagBytes,
  };
}

/** A reader's verdict: "live" holds segments; "dead" (heartbeat past the TTL, not open) and "lagging" (past maxReaderLagBytes) do not; "corrupt": no valid meta slot. */
export type ReaderState = "live" | "dead" | "lagging" | "corrupt";

/** One reader meta of a queue with its verdict. */
export interface ReaderStatus {
  name: string;
  path: string;
  /** The committed position, or null when the meta is corrupt. */
  position: ReaderPosition | null;
  /** ms since the last heartbeat (Infinity when unknown). */
  heartbeatAgeMs: number;
  /** True when a process holds the reader open right now (its flock). */
  open: boolean;
  /** Bytes between the committed position and the head (0 when unknown). */
  lagBytes: number;
  state: ReaderState;
}

/** The head of a queue as readerStatuses takes it: segment, offset and the segment size. */
export interface Head {
  segment: number;
  offset: number;
  segmentSize: number;
}

/**
 * Every reader meta of the queue with its liveness verdict. Never throws for a bad meta: a
 * corrupt one is reported as such and ignored by retention.
 */
export function readerStatuses(dir: string, head: Head, retention: RetentionPolicy): ReaderStatus[] {
  validateDirPath(dir, "queue directory");
  const h = checkOptions(head, "head", dir);
  for (const key of ["segment", "offset", "segmentSize"] as const) {
    if (h[key] === undefined) throw new InvalidArgument(dir, `head.${key} is required`);
    checkAtLeast(h[key], `head.${key}`, 0, dir, true);
  }
  const policy = retentionPolicy(retention, dir);
  const readersDir = join(dir, READERS_DIR);
  const nowMs = wallClockMs();
  const out: ReaderStatus[] = [];
  for (const file of listDir(readersDir).sort()) {
    if (!file.endsWith(READER_META_EXT)) continue;
    const path = join(readersDir, file);
    const name = file.slice(0, -READER_META_EXT.length);
    let bytes: Uint8Array | null = null;
    try {
      bytes = readRegular(path);
    } catch {
      bytes = null;
    }
    const position = bytes === null ? null : decodeReaderMeta(bytes);
    // An open reader holds an exclusive flock on its meta: alive by definition.
    const open = isFlockHeld(path);
    if (position === null) {
      out.push({ name, path, position: null, heartbeatAgeMs: Infinity, open, lagBytes: 0, state: "corrupt" });
      continue;
    }
    const ageMs = heartbeatAgeMs(position.heartbeatNs, nowMs);
    const lagBytes = Math.max(0, (head.segment - position.segment) * head.segmentSize + head.offset - position.offset);
    let state: ReaderState = "live";
    if (!open && ageMs > policy.readerTtlMs) state = "dead";
    else if (lagBytes > policy.maxReaderLagBytes) state = "lagging";
    out.push({ name, path, position, heartbeatAgeMs: ageMs, open, lagBytes, state });
  }
  return out;
}

/** The oldest segment id that must be kept. */
export function retentionFloor(readers: ReaderStatus[], head: Head): number {
  let floor = head.segment;
  for (const r of readers) if (r.state === "live" && r.position !== null) floor = Math.min(floor, r.position.segment);
  return floor;
}

/** Segments retention would delete now, ascending. */
export function deletableSegments(dir: string, head: Head, policy: RetentionPolicy): number[] {
  const floor = retentionFloor(readerStatuses(dir, head, policy), head);
  return listSegmentIds(dir).filter((id) => id < floor);
}

/** Deletes what retention allows; returns the deleted ids. */
export function deleteSegments(dir: string, ids: number[]): number[] {
  for (const id of ids) unlinkPath(segmentPath(dir, id));
  return ids;
}
