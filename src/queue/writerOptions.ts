/** The writer's options, and the checks of its arguments (all made before any byte is written). */
import { InvalidArgument } from "../errors.ts";
import { checkMode } from "./access.ts";
import { checkAtLeast, checkBoolean, checkOptions } from "./args.ts";
import type { ControlBlock } from "./control.ts";
import { DEFAULT_SEGMENT_SIZE, MAX_TYPE_ID, V1_SEGMENT_SIZE, isValidSegmentSize, type FormatVersion } from "./layout/index.ts";

/** Options for {@link QueueWriter.open}. They apply when the queue is created; an existing queue keeps its own. */
export interface WriterOptions {
  /** 2 (default) or 1 (byte-compatible with the Rust implementation, 1 MiB segments). */
  formatVersion?: FormatVersion | undefined;
  /** v2 only: bytes per segment, a power of two from 64 KiB to 1 GiB; default 64 MiB. */
  segmentSize?: number | undefined;
  /** How long to wait for an existing control block to finish initialising (default 2000 ms). */
  openTimeoutMs?: number | undefined;
  /**
   * Prepare the next segment on a background thread (default true), so that neither the roll
   * nor the first writes into a new segment pay for page allocation on the append path.
   */
  preallocate?: boolean | undefined;
  /** Delete segments that no live reader needs at every roll (default false; see cleanup()). */
  autoCleanup?: boolean | undefined;
  /** Readers whose heartbeat is older than this and whose process is gone are dead (default 60,000 ms). */
  readerTtlMs?: number | undefined;
  /** Readers further behind the head than this do not hold segments (default: no limit). */
  maxReaderLagBytes?: number | undefined;
  /** Capacity: most segment files on disk (checked at each roll). */
  maxSegments?: number | undefined;
  /** Capacity: most bytes of segment files on disk (checked at each roll). */
  maxBytes?: number | undefined;
  /**
   * When the queue is at capacity: without this, `append` throws QueueFull at once; with it,
   * `append` waits up to `timeoutMs` for readers to release segments, then throws QueueFull.
   */
  backpressure?: { timeoutMs: number } | undefined;
  /**
   * Mode of the files a new queue gets (default 0o600; directories get the matching search bits,
   * 0o700). Set exactly, whatever the umask. Later files of the queue follow control.meta's mode.
   */
  mode?: number | undefined;
  /** Use a queue directory owned by another user or writable by group/others (default false: UnsafePath). */
  allowShared?: boolean | undefined;
}

/** The former name of {@link WriterOptions}. */
export type PublisherOptions = WriterOptions;

const MAX_TIMESTAMP = (1n << 64n) - 1n;

/** Checks the options; returns the format version and segment size a new queue would get. */
export function validateWriterOptions(dir: string, options: WriterOptions | undefined): { version: FormatVersion; segmentSize: number } {
  const opts = checkOptions(options, "writer options", dir);
  checkAtLeast(opts.maxSegments, "maxSegments", 2, dir, true);
  checkAtLeast(opts.maxBytes, "maxBytes", 0, dir);
  checkAtLeast(opts.readerTtlMs, "readerTtlMs", 0, dir);
  checkAtLeast(opts.maxReaderLagBytes, "maxReaderLagBytes", 0, dir);
  checkAtLeast(opts.openTimeoutMs, "openTimeoutMs", 0, dir);
  checkBoolean(opts.preallocate, "preallocate", dir);
  checkBoolean(opts.autoCleanup, "autoCleanup", dir);
  checkBoolean(opts.allowShared, "allowShared", dir);
  checkMode(opts.mode, dir);
  if (opts.backpressure !== undefined) checkAtLeast(checkOptions(opts.backpressure, "backpressure", dir).timeoutMs, "backpressure.timeoutMs", 0, dir);
  const version = opts.formatVersion ?? 2;
  if (version !== 1 && version !== 2) throw new InvalidArgument(dir, `formatVersion must be 1 or 2, got ${String(version)}`);
  if (version === 1) {
    if (opts.segmentSize !== undefined && opts.segmentSize !== V1_SEGMENT_SIZE) {
      throw new InvalidArgument(dir, `format version 1 always uses ${V1_SEGMENT_SIZE}-byte segments`);
    }
    return { version, segmentSize: V1_SEGMENT_SIZE };
  }
  const segmentSize = opts.segmentSize ?? DEFAULT_SEGMENT_SIZE;
  if (!isValidSegmentSize(segmentSize)) {
    throw new InvalidArgument(dir, `segmentSize must be a power of two from 64 KiB to 1 GiB, got ${segmentSize}`);
  }
  return { version, segmentSize };
}

/** Refuses options that contradict an existing queue's format. */
export function checkCompatible(control: ControlBlock, opts: WriterOptions): void {
  if (opts.formatVersion !== undefined && opts.formatVersion !== control.version) {
    throw new InvalidArgument(control.path, `queue exists with format version ${control.version}, not ${opts.formatVersion}`);
  }
  if (opts.segmentSize !== undefined && opts.segmentSize !== control.segmentSize) {
    throw new InvalidArgument(control.path, `queue exists with segment size ${control.segmentSize}, not ${opts.segmentSize}`);
  }
}

export function checkTimestamp(dir: string, timestampNs: bigint): void {
  if (typeof timestampNs !== "bigint" || timestampNs < 0n || timestampNs > MAX_TIMESTAMP) {
    throw new InvalidArgument(dir, `timestampNs must be a bigint in [0, 2^64), got ${String(timestampNs)}`);
  }
}

export function checkTypeId(dir: string, typeId: number): void {
  if (!Number.isInteger(typeId) || typeId < 0 || typeId > MAX_TYPE_ID) {
    throw new InvalidArgument(dir, `typeId must be an integer in [0, ${MAX_TYPE_ID}] (0xFFFF is reserved), got ${typeId}`);
  }
}
