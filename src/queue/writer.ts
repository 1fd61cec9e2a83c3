/** The single writer of a queue: append, zero-copy claim, roll and flush. */
import { join } from "node:path";
import { ClosedError, InvalidArgument, PayloadTooLarge, QueueFull } from "../errors.ts";
import {
  Mapping, WallClock, fileSize, fsyncDir, fdatasyncFd, openFd, closeFd, mkdirp, listDir, unlinkPath, O_RDONLY,
} from "../ffi/index.ts";
import { writeCheckpoint } from "./checkpoint.ts";
import { crc32Words, IN_PLACE_CRC_MAX } from "./crc32.ts";
import { ControlBlock } from "./control.ts";
import { validateDirPath } from "./names.ts";
import { recoverTail } from "./recovery.ts";
import { Segment, listSegmentIds } from "./segment.ts";
import { SegmentPreparer, PREPARED_SUFFIX } from "./segmentPreparer.ts";
import { WriterLock } from "./writerLock.ts";
import { DEFAULT_RETENTION, deletableSegments, deleteSegments, type RetentionPolicy } from "./retention.ts";
import {
  CONTROL_FILE, READERS_DIR, DEFAULT_SEGMENT_SIZE, V1_SEGMENT_SIZE, SEGMENT_HEADER_SIZE, PAYLOAD_OFF,
  COMMIT_W, SEQ_LO_W, SEQ_HI_W, TS_LO_W, TS_HI_W, TYPE_FLAGS_W, CRC_W, MAX_TYPE_ID, TWO32,
  CTL_WRITE_OFFSET_W, isValidSegmentSize, maxPayloadLength, recordLength, commitWord, type FormatVersion,
} from "./layout/index.ts";

/** Options for {@link QueueWriter.open}. They apply when the queue is created; an existing queue keeps its own. */
export interface PublisherOptions {
  /** 2 (default) or 1 (byte-compatible with the Rust implementation, 1 MiB segments). */
  formatVersion?: FormatVersion;
  /** v2 only: bytes per segment, a power of two from 64 KiB to 1 GiB; default 64 MiB. */
  segmentSize?: number;
  /** How long to wait for an existing control block to finish initialising (default 2000 ms). */
  openTimeoutMs?: number;
  /**
   * Prepare the next segment on a background thread (default true), so that neither the roll
   * nor the first writes into a new segment pay for page allocation on the append path.
   */
  preallocate?: boolean;
  /** Delete segments that no live reader needs at every roll (default false; see cleanup()). */
  autoCleanup?: boolean;
  /** Readers whose heartbeat is older than this and whose process is gone are dead (default 60,000 ms). */
  readerTtlMs?: number;
  /** Readers further behind the head than this do not hold segments (default: no limit). */
  maxReaderLagBytes?: number;
  /** Capacity: most segment files on disk (checked at each roll). */
  maxSegments?: number;
  /** Capacity: most bytes of segment files on disk (checked at each roll). */
  maxBytes?: number;
  /**
   * When the queue is at capacity: without this, `append` throws QueueFull at once; with it,
   * `append` waits up to `timeoutMs` for readers to release segments, then throws QueueFull.
   */
  backpressure?: { timeoutMs: number };
}



const DEFAULT_OPEN_TIMEOUT_MS = 2000;
const MAX_TIMESTAMP = (1n << 64n) - 1n;

/**
 * Appends records to a queue. One per queue across all processes (enforced by writer.lock).
 * Not thread-safe: use it from one thread.
 */
export class QueueWriter implements Disposable {
  readonly dir: string;
  readonly formatVersion: FormatVersion;
  readonly segmentSize: number;
  /** Largest payload `append` accepts. */
  readonly maxPayloadLength: number;
  /** This writer's epoch (control block writer_epoch after it opened). */
  readonly epoch: number;

  private readonly lock: WriterLock;
  private readonly control: ControlBlock;
  private readonly ctlU32: Uint32Array;
  private readonly clock = new WallClock();
  /**
   * Address ranges for segments: the current one is `windows[current]`. With the preparer there
   * are two, and the spare one receives the next segment in the background.
   */
  private readonly windows: Mapping[];
  private current = 0;
  private u8: Uint8Array;
  private u32: Uint32Array;
  private segment: Segment;
  private readonly preparer: SegmentPreparer | null;
  private offset: number;
  private seqLo: number;
  private seqHi: number;
  private claimOffset = -1;
  private claimLength = 0;
  private claimType = 0;
  private closed = false;
  /** Start of the range of the current segment not yet msync'd with MS_SYNC. */
  private syncedTo: number;
  private readonly retention: RetentionPolicy;
  private readonly autoCleanup: boolean;
  /** Capacity in segments (Infinity when unlimited). */
  private readonly maxSegments: number;
  private readonly backpressureMs: number;
  /** Segment files on disk, refreshed at each roll and cleanup (never per append). */
  private segmentCount: number;
  /** Segments rolled away from since the last flushSync (need fdatasync). */
  private unsyncedSegments: string[] = [];

  private constructor(dir: string, lock: WriterLock, control: ControlBlock, epoch: number, opts: PublisherOptions) {
    this.dir = dir;
    this.lock = lock;
    this.control = control;
    this.ctlU32 = control.map.u32;
    this.formatVersion = control.version;
    this.segmentSize = control.segmentSize;
    this.maxPayloadLength = maxPayloadLength(control.segmentSize);
    this.epoch = epoch;
    this.retention = {
      readerTtlMs: opts.readerTtlMs ?? DEFAULT_RETENTION.readerTtlMs,
      maxReaderLagBytes: opts.maxReaderLagBytes ?? DEFAULT_RETENTION.maxReaderLagBytes,
    };
    this.autoCleanup = opts.autoCleanup ?? false;
    this.maxSegments = Math.min(opts.maxSegments ?? Infinity, Math.floor((opts.maxBytes ?? Infinity) / control.segmentSize));
    this.backpressureMs = opts.backpressure?.timeoutMs ?? 0;
    if (this.maxSegments < 2) throw new InvalidArgument(dir, `capacity must allow at least 2 segments of ${control.segmentSize} bytes`);
    const preallocate = opts.preallocate ?? true;
    this.windows = [Mapping.reserve(control.segmentSize)];
    this.u8 = this.windows[0].u8;
    this.u32 = this.windows[0].u32;
    let tail;
    try {
      tail = recoverTail(dir, control, epoch - 1, this.windows[0]);
      if (preallocate) this.windows.push(Mapping.reserve(control.segmentSize));
      writeCheckpoint(dir, { segment: tail.segment.id, writeOffset: tail.offset });
    } catch (e) {
      for (const w of this.windows) w.unmap();
      throw e;
    }
    this.segment = tail.segment;
    this.offset = tail.offset;
    this.syncedTo = tail.offset;
    this.seqHi = Math.floor(tail.nextSeq / TWO32);
    this.seqLo = tail.nextSeq - this.seqHi * TWO32;
    this.publishPosition();
    this.beat();
    this.segmentCount = listSegmentIds(dir).length;
    this.preparer = preallocate ? new SegmentPreparer(dir) : null;
    this.preparer?.populate(this.windows[0], this.offset);
    this.preparer?.request(this.segment.id + 1, this.windows[1]);
  }

  /** Opens (creating if needed) the queue in `dir` for writing. */
  static open(dir: string, opts: PublisherOptions = {}): QueueWriter {
    validateDirPath(dir, "queue directory");
    const requested = validatePublisherOptions(dir, opts);
    mkdirp(join(dir, READERS_DIR));
    const lock = WriterLock.acquire(dir);
    let control: ControlBlock | null = null;
    try {
      removePreparedLeftovers(dir);
      if (fileSize(join(dir, CONTROL_FILE)) >= 0) {
        control = ControlBlock.open(dir, opts.openTimeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS);
        checkCompatible(control, opts);
      } else {
        control = ControlBlock.create(dir, requested.version, requested.segmentSize);
      }
      const epoch = control.writerEpoch + 1;
      control.writerEpoch = epoch;
      lock.writeOwner(epoch);
      return new QueueWriter(dir, lock, control, epoch, opts);
    } catch (e) {
      control?.close();
      lock.release();
      throw e;
    }
  }

  /** seq the next appended record will get. */
  get nextSeq(): number {
    return this.seqHi * TWO32 + this.seqLo;
  }

  /** Id of the segment being written. */
  get currentSegment(): number {
    return this.segment.id;
  }

  /** Offset in the current segment where the next record goes. */
  get writeOffset(): number {
    return this.offset;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Appends one record and returns its seq. The record is visible to readers (and survives a
   * crash of this process) when this returns. `timestampNs` defaults to the wall clock.
   */
  append(typeId: number, payload: Uint8Array, timestampNs?: bigint): number {
    this.checkUsable();
    if (!(payload instanceof Uint8Array)) {
      throw new InvalidArgument(this.dir, `payload must be a Uint8Array, got ${payload === null ? "null" : typeof payload}`);
    }
    checkTypeId(this.dir, typeId);
    // Every check before the first byte is written: bytes left behind a failed append could
    // later read as a record header at the next write position.
    if (timestampNs !== undefined) checkTimestamp(this.dir, timestampNs);
    const length = payload.length;
    if (length > this.maxPayloadLength) throw new PayloadTooLarge(this.dir, length, this.maxPayloadLength);
    const o = this.reserve(recordLength(length));
    this.u8.set(payload, o + PAYLOAD_OFF);
    return this.publish(o, typeId, length, Bun.hash.crc32(payload), timestampNs);
  }

  /**
   * Reserves space for a `length`-byte payload and returns a view of it to fill in place.
   * Publish it with {@link commitClaim} (or drop it with {@link abortClaim}) before any other
   * append. The view is valid only until then.
   */
  claim(typeId: number, length: number): Uint8Array {
    const at = this.claimAt(typeId, length);
    return this.u8.subarray(at, at + length);
  }

  /**
   * Like claim(), without allocating: reserves the record and returns the offset of its payload
   * in {@link claimBuffer} / {@link claimData}, the views of the segment being written. Read
   * those after this call (a claim that rolls to a new segment switches them); write `length`
   * bytes from the offset, then commitClaim().
   */
  claimAt(typeId: number, length: number): number {
    this.checkUsable();
    checkTypeId(this.dir, typeId);
    if (!Number.isInteger(length) || length < 0) throw new InvalidArgument(this.dir, `claim length must be a non-negative integer, got ${length}`);
    if (length > this.maxPayloadLength) throw new PayloadTooLarge(this.dir, length, this.maxPayloadLength);
    const o = this.reserve(recordLength(length));
    this.claimOffset = o;
    this.claimLength = length;
    this.claimType = typeId;
    return o + PAYLOAD_OFF;
  }

  /** Bytes of the segment being written, for claimAt(). Only the claimed range may be written. */
  get claimBuffer(): Uint8Array {
    this.checkOpen();
    return this.u8;
  }

  /** A DataView of the segment being written, for claimAt() (e.g. `setFloat64(at + 8, px, true)`). */
  get claimData(): DataView {
    this.checkOpen();
    return this.windows[this.current].data;
  }

  /** Publishes the claimed record and returns its seq. */
  commitClaim(timestampNs?: bigint): number {
    if (this.closed) throw new ClosedError(this.dir, "writer");
    const o = this.claimOffset;
    if (o < 0) throw new InvalidArgument(this.dir, "commitClaim without a pending claim");
    // A bad timestamp leaves the claim pending (commit it again, or abortClaim, which zeroes it).
    if (timestampNs !== undefined) checkTimestamp(this.dir, timestampNs);
    this.claimOffset = -1;
    const start = o + PAYLOAD_OFF;
    const length = this.claimLength;
    // Small payloads are checksummed in place: a subarray per claim would be an allocation.
    const crc = length <= IN_PLACE_CRC_MAX ? crc32Words(this.u32, this.u8, start, length) : Bun.hash.crc32(this.u8.subarray(start, start + length));
    return this.publish(o, this.claimType, length, crc, timestampNs);
  }

  /** Drops a pending claim; its bytes are zeroed so nothing of it can look like a record. */
  abortClaim(): void {
    if (this.closed || this.claimOffset < 0) return;
    const start = this.claimOffset + PAYLOAD_OFF;
    this.u8.fill(0, start, start + this.claimLength);
    this.claimOffset = -1;
  }

  /** Schedules write-back of everything appended so far (msync MS_ASYNC); returns at once. */
  flushAsync(): void {
    this.checkOpen();
    this.windows[this.current].flush(this.syncedTo, this.offset, false, this.segment.path);
  }

  /**
   * Makes everything appended so far durable against power loss: msync MS_SYNC of the written
   * range, fdatasync of segments finished since the last call, the checkpoint, and an fsync of
   * the directory when files were created.
   */
  flushSync(): void {
    this.checkOpen();
    this.windows[this.current].flush(this.syncedTo, this.offset, true, this.segment.path);
    this.syncedTo = this.offset;
    for (const path of this.unsyncedSegments) syncFile(path);
    this.unsyncedSegments = [];
    writeCheckpoint(this.dir, { segment: this.segment.id, writeOffset: this.offset }, true);
    fsyncDir(this.dir);
    this.beat();
  }

  /**
   * Deletes the segments that no live, non-lagging reader needs (older than the head and than
   * every such reader's committed segment). Returns the deleted ids. Corrupt reader metas are
   * ignored (they hold nothing).
   */
  cleanup(): number[] {
    this.checkOpen();
    const head = { segment: this.segment.id, offset: this.offset, segmentSize: this.segmentSize };
    const deleted = deleteSegments(this.dir, deletableSegments(this.dir, head, this.retention));
    this.segmentCount = listSegmentIds(this.dir).length;
    return deleted;
  }

  /** Refreshes the writer heartbeat in the control block (appends refresh it too). */
  heartbeat(): void {
    this.checkOpen();
    this.beat();
  }

  /** Releases the mappings and the writer lock. Appended records stay readable. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.beat();
    try {
      writeCheckpoint(this.dir, { segment: this.segment.id, writeOffset: this.offset });
    } catch {
      // The checkpoint is only a hint (recovery never depends on it), and close must release
      // everything even when the directory is gone or full.
    }
    this.preparer?.close();
    for (const w of this.windows) w.unmap();
    this.control.close();
    this.lock.release();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** Returns the offset for a record of `recordLen` bytes, rolling to a new segment if needed. */
  private reserve(recordLen: number): number {
    if (this.offset + recordLen > this.segmentSize) this.roll();
    return this.offset;
  }

  /** Steps 2-4 of the append protocol: header, commit word (release), position and wake-up. */
  private publish(o: number, typeId: number, length: number, crc: number, timestampNs: bigint | undefined): number {
    const u32 = this.u32;
    const w = o >> 2;
    const seqLo = this.seqLo;
    const seqHi = this.seqHi;
    u32[w + SEQ_LO_W] = seqLo;
    u32[w + SEQ_HI_W] = seqHi;
    if (timestampNs === undefined) {
      const clock = this.clock;
      clock.read();
      u32[w + TS_LO_W] = clock.lo;
      u32[w + TS_HI_W] = clock.hi;
      // The clock was read anyway: refreshing the heartbeat costs two stores to a line notify() dirties.
      this.control.setWriterHeartbeat(clock.hi, clock.lo);
    } else {
      u32[w + TS_LO_W] = Number(timestampNs & 0xffffffffn);
      u32[w + TS_HI_W] = Number(timestampNs >> 32n);
    }
    u32[w + TYPE_FLAGS_W] = typeId;
    u32[w + CRC_W] = crc;
    Atomics.store(u32, w + COMMIT_W, commitWord(length));
    const next = o + recordLength(length);
    this.offset = next;
    this.ctlU32[CTL_WRITE_OFFSET_W] = next;
    this.control.notify();
    if (seqLo === TWO32 - 1) {
      this.seqLo = 0;
      this.seqHi = seqHi + 1;
    } else {
      this.seqLo = seqLo + 1;
    }
    return seqHi * TWO32 + seqLo;
  }

  /**
   * Roll protocol: create segment N+1 (fully allocated) before touching N, publish the hints,
   * then seal N. The seal is a sequentially consistent store after every commit in N, so a
   * reader that sees SEALED and re-checks the commit word cannot miss a record.
   */
  private roll(): void {
    this.ensureCapacity();
    const old = this.segment;
    const oldWindow = this.windows[this.current];
    const nextIndex = (this.current + 1) % this.windows.length;
    const nextWindow = this.windows[nextIndex];
    const nextId = old.id + 1;
    const prepared = this.preparer?.take(nextId) ?? null;
    if (prepared !== null) Segment.install(this.dir, nextId, prepared);
    else Segment.create(this.dir, nextId, this.segmentSize);
    this.control.currentSegment = nextId;
    this.control.writeOffset = SEGMENT_HEADER_SIZE;
    old.seal();
    this.control.notify();
    if (this.syncedTo < this.offset) {
      // Start write-back now so a later flushSync has less to wait for.
      oldWindow.flush(this.syncedTo, this.offset, false, old.path);
      this.unsyncedSegments.push(old.path);
    }
    this.segment = prepared !== null ? Segment.adopt(this.dir, nextId, nextWindow) : Segment.open(this.dir, nextId, nextWindow)!;
    this.current = nextIndex;
    this.u8 = nextWindow.u8;
    this.u32 = nextWindow.u32;
    this.offset = SEGMENT_HEADER_SIZE;
    this.syncedTo = SEGMENT_HEADER_SIZE;
    this.segmentCount++;
    this.preparer?.request(nextId + 1, oldWindow);
    this.beat();
    writeCheckpoint(this.dir, { segment: nextId, writeOffset: SEGMENT_HEADER_SIZE });
    if (this.autoCleanup) this.cleanup();
  }

  /**
   * Makes room for one more segment or throws QueueFull (after waiting up to the backpressure
   * timeout for readers to advance). Runs at rolls only, so appends never read reader files.
   */
  private ensureCapacity(): void {
    if (this.segmentCount < this.maxSegments) return;
    const deadline = performance.now() + this.backpressureMs;
    for (;;) {
      this.cleanup();
      if (this.segmentCount < this.maxSegments) return;
      if (performance.now() >= deadline) {
        throw new QueueFull(this.dir, `queue holds ${this.segmentCount} segments (limit ${this.maxSegments}) and live readers still need them${this.backpressureMs > 0 ? ` after waiting ${this.backpressureMs} ms` : ""}`);
      }
      Bun.sleepSync(Math.min(10, Math.max(1, deadline - performance.now())));
    }
  }

  private publishPosition(): void {
    this.control.currentSegment = this.segment.id;
    this.control.writeOffset = this.offset;
  }

  private beat(): void {
    this.clock.read();
    this.control.setWriterHeartbeat(this.clock.hi, this.clock.lo);
  }

  private checkOpen(): void {
    if (this.closed) throw new ClosedError(this.dir, "writer");
  }

  private checkUsable(): void {
    if (this.closed) throw new ClosedError(this.dir, "writer");
    if (this.claimOffset >= 0) throw new InvalidArgument(this.dir, "a claim is pending: call commitClaim() or abortClaim() first");
  }
}

function checkTimestamp(dir: string, timestampNs: bigint): void {
  if (typeof timestampNs !== "bigint" || timestampNs < 0n || timestampNs > MAX_TIMESTAMP) {
    throw new InvalidArgument(dir, `timestampNs must be a bigint in [0, 2^64), got ${String(timestampNs)}`);
  }
}

function checkTypeId(dir: string, typeId: number): void {
  if (!Number.isInteger(typeId) || typeId < 0 || typeId > MAX_TYPE_ID) {
    throw new InvalidArgument(dir, `typeId must be an integer in [0, ${MAX_TYPE_ID}] (0xFFFF is reserved), got ${typeId}`);
  }
}

function validatePublisherOptions(dir: string, opts: PublisherOptions): { version: FormatVersion; segmentSize: number } {
  const positive = (name: string, v: number | undefined, min: number): void => {
    if (v !== undefined && !(typeof v === "number" && v >= min && !Number.isNaN(v))) {
      throw new InvalidArgument(dir, `${name} must be a number >= ${min}, got ${String(v)}`);
    }
  };
  positive("maxSegments", opts.maxSegments, 2);
  positive("maxBytes", opts.maxBytes, 0);
  positive("readerTtlMs", opts.readerTtlMs, 0);
  positive("maxReaderLagBytes", opts.maxReaderLagBytes, 0);
  positive("openTimeoutMs", opts.openTimeoutMs, 0);
  positive("backpressure.timeoutMs", opts.backpressure?.timeoutMs, 0);
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

function checkCompatible(control: ControlBlock, opts: PublisherOptions): void {
  if (opts.formatVersion !== undefined && opts.formatVersion !== control.version) {
    throw new InvalidArgument(control.path, `queue exists with format version ${control.version}, not ${opts.formatVersion}`);
  }
  if (opts.segmentSize !== undefined && opts.segmentSize !== control.segmentSize) {
    throw new InvalidArgument(control.path, `queue exists with segment size ${control.segmentSize}, not ${opts.segmentSize}`);
  }
}

/** Removes segments a previous writer prepared but never used (we hold the lock: they are stale). */
function removePreparedLeftovers(dir: string): void {
  for (const name of listDir(dir)) if (name.endsWith(PREPARED_SUFFIX)) unlinkPath(join(dir, name));
}

function syncFile(path: string): void {
  if (fileSize(path) < 0) return;
  const fd = openFd(path, O_RDONLY);
  try {
    fdatasyncFd(fd, path);
  } finally {
    closeFd(fd);
  }
}
