/** The single writer of a queue: append, zero-copy claim, the roll, and the writer's lifetime. */
import { join } from "node:path";
import { ClosedError, InvalidArgument, PayloadTooLarge } from "../errors.ts";
import { Mapping, WallClock, fileSize, mkdirp, listDir, unlinkPath } from "../ffi/index.ts";
import { Capacity } from "./capacity.ts";
import { writeCheckpoint } from "./checkpoint.ts";
import { payloadCrc } from "./crc32.ts";
import { ControlBlock, DEFAULT_OPEN_TIMEOUT_MS } from "./control.ts";
import { Durability } from "./durability.ts";
import { validateDirPath } from "./names.ts";
import { checkOwnDirectory, DEFAULT_FILE_MODE, dirModeFor } from "./access.ts";
import { recoverTail } from "./recovery.ts";
import { refuseSymlink } from "./regularFile.ts";
import { deletableSegments, deleteSegments, retentionPolicy, type RetentionPolicy } from "./retention.ts";
import { Segment } from "./segment.ts";
import { SegmentPreparer } from "./segmentPreparer.ts";
import { SleeperWaker } from "./sleeperWaker.ts";
import { WriterLock } from "./writerLock.ts";
import { checkCompatible, checkTimestamp, checkTypeId, validateWriterOptions, type PublisherOptions, type WriterOptions } from "./writerOptions.ts";
import {
  CONTROL_FILE, READERS_DIR, PREPARED_SUFFIX, SEGMENT_HEADER_SIZE, TWO32, CTL_WRITE_OFFSET_W,
  maxPayloadLength, payloadOffset, publish, recordLength, writeHeader, type FormatVersion,
} from "./layout/index.ts";

export type { WriterOptions, PublisherOptions };

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
  private readonly waker: SleeperWaker;
  private readonly clock = new WallClock();
  /**
   * Address ranges for segments: the current one is `windows[current]`. With the preparer there
   * are two, and the spare one receives the next segment in the background.
   */
  private readonly windows: [Mapping, ...Mapping[]];
  private current = 0;
  private u8: Uint8Array;
  private u32: Uint32Array;
  private segment: Segment;
  private readonly preparer: SegmentPreparer | null;
  private readonly durability: Durability;
  private readonly capacity: Capacity;
  private offset: number;
  private seqLo: number;
  private seqHi: number;
  private claimOffset = -1;
  private claimLength = 0;
  private claimType = 0;
  private closed = false;
  private readonly retention: RetentionPolicy;
  private readonly autoCleanup: boolean;

  private constructor(dir: string, lock: WriterLock, control: ControlBlock, epoch: number, opts: WriterOptions) {
    this.dir = dir;
    this.lock = lock;
    this.control = control;
    this.ctlU32 = control.map.u32;
    this.waker = new SleeperWaker(control);
    this.formatVersion = control.version;
    this.segmentSize = control.segmentSize;
    this.maxPayloadLength = maxPayloadLength(control.segmentSize);
    this.epoch = epoch;
    this.retention = retentionPolicy(opts);
    this.autoCleanup = opts.autoCleanup ?? false;
    const preallocate = opts.preallocate ?? true;
    this.windows = [Mapping.reserve(control.segmentSize)];
    this.u8 = this.windows[0].u8;
    this.u32 = this.windows[0].u32;
    let tail;
    try {
      this.capacity = new Capacity(dir, control.segmentSize, opts);
      tail = recoverTail(dir, control, epoch - 1, this.windows[0]);
      if (preallocate) this.windows.push(Mapping.reserve(control.segmentSize));
      writeCheckpoint(dir, { segment: tail.segment.id, writeOffset: tail.offset });
    } catch (e) {
      for (const w of this.windows) w.unmap();
      throw e;
    }
    this.segment = tail.segment;
    this.offset = tail.offset;
    this.durability = new Durability(dir, tail.offset);
    this.seqHi = Math.floor(tail.nextSeq / TWO32);
    this.seqLo = tail.nextSeq - this.seqHi * TWO32;
    this.control.currentSegment = this.segment.id;
    this.control.writeOffset = this.offset;
    this.beat();
    this.capacity.recount();
    this.preparer = preallocate ? new SegmentPreparer(dir) : null;
    this.preparer?.populate(this.windows[0], this.offset);
    // The preparer exists only with preallocate, which pushed the second window.
    this.preparer?.request(this.segment.id + 1, this.windows[1]!);
  }

  /** Opens (creating if needed) the queue in `dir` for writing. */
  static open(dir: string, opts: WriterOptions = {}): QueueWriter {
    validateDirPath(dir, "queue directory");
    const requested = validateWriterOptions(dir, opts);
    // readers/ must be this queue's own directory: never create or write through a link.
    checkOwnDirectory(dir, "queue directory", opts.allowShared);
    const fileMode = opts.mode ?? DEFAULT_FILE_MODE;
    refuseSymlink(join(dir, READERS_DIR));
    mkdirp(join(dir, READERS_DIR), dirModeFor(fileMode));
    refuseSymlink(join(dir, READERS_DIR));
    checkOwnDirectory(dir, "queue directory", opts.allowShared);
    const lock = WriterLock.acquire(dir, fileMode);
    let control: ControlBlock | null = null;
    try {
      removePreparedLeftovers(dir);
      if (fileSize(join(dir, CONTROL_FILE)) >= 0) {
        control = ControlBlock.open(dir, opts.openTimeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS, "write");
        checkCompatible(control, opts);
      } else {
        control = ControlBlock.create(dir, requested.version, requested.segmentSize, fileMode);
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

  /** True once close() was called. */
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
    this.u8.set(payload, payloadOffset(o));
    return this.publish(o, typeId, length, Bun.hash.crc32(payload), timestampNs);
  }

  /**
   * Appends one record with a chosen `seq` (at least {@link nextSeq}; later appends continue from
   * `seq + 1`), for a replica whose seqs come from elsewhere, such as the JetStream bridge that
   * stores each message's stream sequence as the seq of the record it becomes. Seqs stay strictly
   * increasing but may skip values (readers never depend on them being contiguous). A failed
   * append leaves `nextSeq` as it was. {@link append} is unchanged by this method.
   */
  appendWithSeq(seq: number, typeId: number, payload: Uint8Array, timestampNs?: bigint): number {
    this.checkUsable();
    if (!Number.isSafeInteger(seq) || seq < this.nextSeq) {
      throw new InvalidArgument(this.dir, `seq must be an integer >= nextSeq (${this.nextSeq}), got ${String(seq)}`);
    }
    const { seqLo, seqHi } = this;
    this.seqHi = Math.floor(seq / TWO32);
    this.seqLo = seq - this.seqHi * TWO32;
    try {
      return this.append(typeId, payload, timestampNs);
    } catch (e) {
      this.seqLo = seqLo;
      this.seqHi = seqHi;
      throw e;
    }
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
    return payloadOffset(o);
  }

  /** Bytes of the segment being written, for claimAt(). Only the claimed range may be written. */
  get claimBuffer(): Uint8Array {
    this.checkOpen();
    return this.u8;
  }

  /** A DataView of the segment being written, for claimAt() (e.g. `setFloat64(at + 8, px, true)`). */
  get claimData(): DataView {
    this.checkOpen();
    return this.windows[this.current]!.data;
  }

  /** Publishes the claimed record and returns its seq. */
  commitClaim(timestampNs?: bigint): number {
    if (this.closed) throw new ClosedError(this.dir, "writer");
    const o = this.claimOffset;
    if (o < 0) throw new InvalidArgument(this.dir, "commitClaim without a pending claim");
    // A bad timestamp leaves the claim pending (commit it again, or abortClaim, which zeroes it).
    if (timestampNs !== undefined) checkTimestamp(this.dir, timestampNs);
    this.claimOffset = -1;
    const start = payloadOffset(o);
    const length = this.claimLength;
    const crc = payloadCrc(this.u32, this.u8, start, length);
    return this.publish(o, this.claimType, length, crc, timestampNs);
  }

  /** Drops a pending claim; its bytes are zeroed so nothing of it can look like a record. */
  abortClaim(): void {
    if (this.closed || this.claimOffset < 0) return;
    const start = payloadOffset(this.claimOffset);
    this.u8.fill(0, start, start + this.claimLength);
    this.claimOffset = -1;
  }

  /** Schedules write-back of everything appended so far (msync MS_ASYNC); returns at once. */
  flushAsync(): void {
    this.checkOpen();
    this.durability.flushAsync(this.windows[this.current]!, this.offset, this.segment.path);
  }

  /**
   * Makes everything appended so far durable against power loss: msync MS_SYNC of the written
   * range, fdatasync of segments finished since the last call, the checkpoint, and an fsync of
   * the directory when files were created.
   */
  flushSync(): void {
    this.checkOpen();
    this.durability.flushSync(this.windows[this.current]!, this.segment.id, this.offset, this.segment.path);
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
    this.capacity.recount();
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
    // Whatever the preparer does (it never throws from close), the mappings and the lock go.
    try {
      this.preparer?.close();
    } finally {
      for (const w of this.windows) w.unmap();
      try {
        this.control.close();
      } finally {
        this.lock.release();
      }
    }
  }

  /** Same as close(), for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Returns the offset for a record of `recordLen` bytes, rolling to a new segment if needed. */
  private reserve(recordLen: number): number {
    if (this.offset + recordLen > this.segmentSize) this.roll();
    return this.offset;
  }

  /** The append protocol after the payload: header, commit word (release), position and wake-up. */
  private publish(o: number, typeId: number, length: number, crc: number, timestampNs: bigint | undefined): number {
    const seqLo = this.seqLo;
    const seqHi = this.seqHi;
    let tsLo: number;
    let tsHi: number;
    if (timestampNs === undefined) {
      const clock = this.clock;
      clock.read();
      tsLo = clock.lo;
      tsHi = clock.hi;
      // The clock was read anyway: refreshing the heartbeat costs two stores to a line notify() dirties.
      this.control.setWriterHeartbeat(tsHi, tsLo);
    } else {
      tsLo = Number(timestampNs & 0xffffffffn);
      tsHi = Number(timestampNs >> 32n);
    }
    writeHeader(this.u32, o, seqLo, seqHi, tsLo, tsHi, typeId, crc);
    publish(this.u32, o, length);
    const next = o + recordLength(length);
    this.offset = next;
    this.ctlU32[CTL_WRITE_OFFSET_W] = next;
    this.waker.notify();
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
    this.capacity.ensureRoom(() => this.cleanup());
    const old = this.segment;
    const oldWindow = this.windows[this.current]!;
    const nextIndex = (this.current + 1) % this.windows.length;
    const nextWindow = this.windows[nextIndex]!;
    const nextId = old.id + 1;
    const prepared = this.preparer?.take(nextId) ?? null;
    if (prepared !== null) Segment.install(this.dir, nextId, prepared);
    else Segment.create(this.dir, nextId, this.segmentSize);
    this.control.currentSegment = nextId;
    this.control.writeOffset = SEGMENT_HEADER_SIZE;
    old.seal();
    this.waker.notify();
    this.durability.rolled(oldWindow, this.offset, old.path, SEGMENT_HEADER_SIZE);
    this.segment = prepared !== null ? Segment.adopt(this.dir, nextId, nextWindow) : Segment.open(this.dir, nextId, nextWindow, "write")!;
    this.current = nextIndex;
    this.u8 = nextWindow.u8;
    this.u32 = nextWindow.u32;
    this.offset = SEGMENT_HEADER_SIZE;
    this.capacity.added();
    this.preparer?.request(nextId + 1, oldWindow);
    this.beat();
    writeCheckpoint(this.dir, { segment: nextId, writeOffset: SEGMENT_HEADER_SIZE });
    if (this.autoCleanup) this.cleanup();
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

/** Removes segments a previous writer prepared but never used (we hold the lock: they are stale). */
function removePreparedLeftovers(dir: string): void {
  for (const name of listDir(dir)) if (name.endsWith(PREPARED_SUFFIX)) unlinkPath(join(dir, name));
}
