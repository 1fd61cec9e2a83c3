/** A reader (subscriber) of a queue: non-blocking next(), persisted position. */
import { ChronicleError, ClosedError, CorruptMetadata, CorruptRecord, ErrnoError, InvalidArgument, PositionLost, QueueNotFound } from "../errors.ts";
import { Mapping, mkdirOne, isFlockHeld, realtimeNs } from "../ffi/index.ts";
import { readWriterLock } from "./writerLock.ts";
import { join } from "node:path";
import { ControlBlock } from "./control.ts";
import { crc32Words, IN_PLACE_CRC_MAX } from "./crc32.ts";
import { MessageView } from "./messageView.ts";
import { validateComponent, validateDirPath } from "./names.ts";
import { ReaderMetaFile } from "./readerMeta.ts";
import { scanSegment } from "./scan.ts";
import { checkTimeout, spinNanos, Waiter, type WaitOptions } from "./wait.ts";
import { Segment, listSegmentIds, withSegment } from "./segment.ts";
import {
  READERS_DIR, WRITER_LOCK_FILE, MAX_READER_NAME_BYTES, SEGMENT_HEADER_SIZE, RECORD_ALIGN, PAYLOAD_OFF, COMMIT_W, TYPE_FLAGS_W, CRC_W,
  PAD_TYPE_ID, recordLength, maxPayloadLength,
} from "./layout/index.ts";

export type StartPosition = "resume" | "earliest" | "latest";

export interface WriterStatus {
  /** True while a writer holds the queue's lock. */
  alive: boolean;
  /** pid from the lock record (0 when there is none). */
  pid: number;
  /** writer_epoch from the control block. */
  epoch: number;
  /** ms since the writer's last heartbeat (Infinity when it never wrote one). */
  heartbeatAgeMs: number;
}

export interface SubscriberOptions {
  /** resume (default): the committed position, or earliest for a new reader; earliest: the oldest segment; latest: the tail. */
  start?: StartPosition;
  /** Check each payload's CRC (default true). */
  verifyCrc?: boolean;
  /** How long to wait for the queue (directory and control block) to appear (default 2000 ms). */
  openTimeoutMs?: number;
  /** How {@link QueueReader.wait} waits: hybrid spin-then-futex (default) or pure spin. */
  wait?: WaitOptions;
}

interface Position {
  segment: number;
  offset: number;
}

const DEFAULT_OPEN_TIMEOUT_MS = 2000;

/**
 * Follows a queue from a position. Keeps exactly one segment mapped. Not thread-safe.
 * A named reader persists its position with {@link commit}; an anonymous one (name null) leaves
 * no trace in the queue directory.
 */
export class QueueReader implements Disposable, Iterable<MessageView> {
  readonly dir: string;
  readonly name: string | null;
  readonly segmentSize: number;
  readonly formatVersion: number;

  private readonly control: ControlBlock;
  private readonly meta: ReaderMetaFile | null;
  private readonly verifyCrc: boolean;
  /** Opened with start "earliest": continue at the oldest segment when the position was deleted. */
  private readonly skipLost: boolean;
  private readonly maxPayload: number;
  /** Where the current segment is mapped; re-pointed (not reallocated) when moving on. */
  private readonly window: Mapping;
  private readonly u8: Uint8Array;
  private readonly u32: Uint32Array;
  private readonly i32: Int32Array;
  private readonly view: MessageView;
  private readonly waiter: Waiter;
  private segment: Segment | null = null;
  private segmentId: number;
  private offset: number;
  private closed = false;

  private constructor(dir: string, name: string | null, control: ControlBlock, meta: ReaderMetaFile | null, start: Position, opts: SubscriberOptions) {
    this.dir = dir;
    this.name = name;
    this.control = control;
    this.meta = meta;
    this.segmentSize = control.segmentSize;
    this.formatVersion = control.version;
    this.maxPayload = maxPayloadLength(control.segmentSize);
    this.verifyCrc = opts.verifyCrc ?? true;
    this.skipLost = opts.start === "earliest";
    this.segmentId = start.segment;
    this.offset = start.offset;
    this.window = Mapping.reserve(control.segmentSize);
    this.u8 = this.window.u8;
    this.u32 = this.window.u32;
    this.i32 = this.window.i32;
    this.view = new MessageView(this.u8, this.u32);
    try {
      // Inside the try: the Waiter rejects bad wait options, and the window must not leak then.
      this.waiter = new Waiter({
        control,
        probe: () => this.poll() >= 0,
        heartbeat: () => this.meta?.touch(),
      }, opts.wait);
      this.attach();
    } catch (e) {
      this.window.unmap();
      throw e;
    }
  }

  /** Opens a reader on the queue in `dir`. `name` null makes an anonymous, read-only reader. */
  static open(dir: string, name: string | null, opts: SubscriberOptions = {}): QueueReader {
    validateDirPath(dir, "queue directory");
    if (name !== null) validateComponent(name, "reader name", dir, MAX_READER_NAME_BYTES);
    const start = opts.start ?? "resume";
    if (start !== "resume" && start !== "earliest" && start !== "latest") {
      throw new InvalidArgument(dir, `start must be "resume", "earliest" or "latest", got ${String(start)}`);
    }
    const control = ControlBlock.open(dir, opts.openTimeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS);
    let meta: ReaderMetaFile | null = null;
    try {
      let position: Position;
      if (name !== null) {
        // Not mkdirp: a queue deleted while we open it must stay deleted, not be re-created.
        mkdirReaders(dir);
        meta = ReaderMetaFile.open(dir, name, () => earliestPosition(dir, control));
        position = start === "resume" ? meta.initial! : startPosition(dir, control, start);
        if (start !== "resume") meta.store(position.segment, position.offset);
      } else {
        position = startPosition(dir, control, start === "resume" ? "earliest" : start);
      }
      checkOffset(meta?.path ?? dir, position, control.segmentSize);
      return new QueueReader(dir, name, control, meta, position, opts);
    } catch (e) {
      meta?.close();
      control.close();
      throw e;
    }
  }

  /**
   * The next record, or null when none is committed yet. Never blocks. The returned view is
   * reused: it is valid until the next call on this reader.
   */
  next(): MessageView | null {
    if (this.closed) throw new ClosedError(this.dir, "reader");
    const o = this.poll();
    if (o < 0) return null;
    const u32 = this.u32;
    const w = o >> 2;
    const length = Atomics.load(this.i32, w + COMMIT_W) - 1;
    const view = this.view;
    view.wrap(this.segmentId, o, length);
    if (this.verifyCrc) {
      const crc = length <= IN_PLACE_CRC_MAX ? crc32Words(u32, this.u8, o + PAYLOAD_OFF, length) : Bun.hash.crc32(view.payload);
      if (crc !== u32[w + CRC_W]) throw this.corrupt(o, `payload CRC 0x${crc.toString(16)} does not match the header's 0x${u32[w + CRC_W].toString(16)}`);
    }
    this.offset = o + recordLength(length);
    return view;
  }

  /** True when next() would return a record now. Does not consume it. */
  hasNext(): boolean {
    if (this.closed) throw new ClosedError(this.dir, "reader");
    return this.poll() >= 0;
  }

  /**
   * Waits until a record is ready or `timeoutMs` passes (default: no limit); true when one is
   * ready. Blocks the calling thread: spins on the commit word for `spinMicros`, then (strategy
   * "hybrid") sleeps on the queue's futex. For the event loop use {@link waitAsync}.
   */
  wait(timeoutMs = Infinity): boolean {
    if (this.closed) throw new ClosedError(this.dir, "reader");
    const timeout = checkTimeout(timeoutMs, this.dir);
    if (this.poll() >= 0) return true;
    this.heartbeat();
    return this.waiter.waitSync(timeout);
  }

  /**
   * Resolves true when a record is ready, false after `timeoutMs` (default: no limit) or when
   * the reader is closed meanwhile; rejects with the signal's reason when `signal` aborts. Holds
   * the event loop for at most `spinMicros` (the reader's option, or this call's): a short spin
   * that catches a record arriving within microseconds. The sleeping is done by a helper thread
   * on the queue's futex.
   */
  waitAsync(opts: { timeoutMs?: number; signal?: AbortSignal; spinMicros?: number } = {}): Promise<boolean> {
    if (this.closed) return Promise.reject(new ClosedError(this.dir, "reader"));
    let spinNs: number | undefined;
    let timeout: number;
    try {
      spinNs = opts.spinMicros === undefined ? undefined : spinNanos(opts.spinMicros);
      timeout = checkTimeout(opts.timeoutMs ?? Infinity, this.dir);
    } catch (e) {
      return Promise.reject(e);
    }
    if (this.poll() >= 0) return Promise.resolve(true);
    this.heartbeat();
    return this.waiter.waitAsync(timeout, opts.signal, spinNs);
  }

  /** Yields records as they arrive, waiting (without blocking the event loop) in between. */
  async *[Symbol.asyncIterator](): AsyncIterator<MessageView> {
    while (!this.closed) {
      const m = this.next();
      if (m !== null) yield m;
      else await this.waitAsync();
    }
  }

  /**
   * Offset of the next committed application record in the current segment, moving past PAD
   * and into later segments as needed; -1 when there is none yet.
   */
  private poll(): number {
    if (this.segment === null && !this.attach()) return -1;
    const size = this.segmentSize;
    for (;;) {
      const o = this.offset;
      if (o < size) {
        const w = o >> 2;
        const c = Atomics.load(this.i32, w + COMMIT_W);
        if (c !== 0) {
          const length = c - 1;
          if (length < 0 || length > this.maxPayload || o + recordLength(length) > size) throw this.corrupt(o, `impossible commit word ${c >>> 0}`);
          if ((this.u32[w + TYPE_FLAGS_W] & 0xffff) !== PAD_TYPE_ID) return o;
          this.offset = size;
          continue;
        }
      }
      if (!this.segment!.sealed) return -1;
      // A commit may have landed just before the seal: look again before leaving the segment.
      if (o < size && Atomics.load(this.i32, (o >> 2) + COMMIT_W) !== 0) continue;
      if (!this.advance()) return -1;
    }
  }

  /** Persists the position after the last record returned by next(). */
  commit(): void {
    this.commitAt(this.segmentId, this.offset);
  }

  /**
   * Persists an earlier position of this reader (from {@link positionSegment}/{@link positionOffset}),
   * for consumers such as fan-in that read ahead of what they have delivered.
   */
  commitAt(segment: number, offset: number): void {
    if (this.closed) throw new ClosedError(this.dir, "reader");
    if (this.meta === null) throw new InvalidArgument(this.dir, "an anonymous reader has no position to commit");
    this.meta.store(segment, offset);
  }

  /** Segment of the position after the last record returned (no allocation, unlike `position`). */
  get positionSegment(): number {
    return this.segmentId;
  }

  /** Offset of the position after the last record returned. */
  get positionOffset(): number {
    return this.offset;
  }

  /** Refreshes this reader's heartbeat (a live reader holds its segments against retention). */
  heartbeat(): void {
    if (this.closed) throw new ClosedError(this.dir, "reader");
    this.meta?.touch();
  }

  /**
   * Whether the queue's writer is alive (it holds writer.lock), who it is, and how old its
   * heartbeat is. A writer that closed normally is simply not alive; reading continues to work.
   */
  writerStatus(): WriterStatus {
    if (this.closed) throw new ClosedError(this.dir, "reader");
    const owner = readWriterLock(this.dir);
    const heartbeatNs = this.control.writerHeartbeatNs;
    return {
      alive: isFlockHeld(join(this.dir, WRITER_LOCK_FILE)),
      pid: owner?.pid ?? 0,
      epoch: this.control.writerEpoch,
      heartbeatAgeMs: heartbeatNs > 0 ? Math.max(0, Number(realtimeNs() / 1_000_000n) - heartbeatNs / 1e6) : Infinity,
    };
  }

  /** Where the next read happens: segment id and byte offset. */
  get position(): { segment: number; offset: number } {
    return { segment: this.segmentId, offset: this.offset };
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The control block, for the wait strategies built on this reader. @internal */
  get controlBlock(): ControlBlock {
    return this.control;
  }

  /** Releases the mapping and the reader-name lock. Does not commit. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.segment = null;
    this.waiter.close();
    this.window.unmap();
    this.meta?.close();
    this.control.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** Iterates the records available now (stops at the tail). Each view is valid for one step. */
  *[Symbol.iterator](): Iterator<MessageView> {
    for (let m = this.next(); m !== null; m = this.next()) yield m;
  }

  /**
   * Maps the segment of the current position. A position at the start of a segment that does not
   * exist yet waits for it; one in a deleted segment is lost (PositionLost).
   */
  private attach(): boolean {
    let seg = Segment.open(this.dir, this.segmentId, this.window);
    if (seg === null) {
      const where = this.meta?.path ?? this.dir;
      const ids = listSegmentIds(this.dir);
      if (ids.length === 0) return false;
      const newest = ids[ids.length - 1];
      const atStart = this.offset === SEGMENT_HEADER_SIZE;
      if (this.segmentId > newest) {
        if (atStart) return false;
        throw new CorruptMetadata(where, `reader position is in segment ${this.segmentId}, past the newest segment ${newest}`);
      }
      if ((this.segmentId < ids[0] || !atStart) && !this.skipLost) throw new PositionLost(where, this.segmentId, ids[0]);
      seg = Segment.open(this.dir, ids.find((id) => id > this.segmentId)!, this.window);
      if (seg === null) return false;
      this.offset = SEGMENT_HEADER_SIZE;
    }
    this.segment = seg;
    this.segmentId = seg.id;
    return true;
  }

  /**
   * Moves from a sealed, fully read segment to the next one on disk. If mapping it fails the
   * window may be blank, so the reader detaches and re-attaches on the next call.
   */
  private advance(): boolean {
    const current = this.segmentId;
    let next: Segment | null;
    try {
      next = Segment.open(this.dir, current + 1, this.window);
      if (next === null) {
        const ids = listSegmentIds(this.dir);
        const later = ids.find((id) => id > current);
        if (later === undefined) return false;
        // The next segment is gone but later ones exist: its records were deleted unread.
        if (!this.skipLost) throw new PositionLost(this.meta?.path ?? this.dir, current + 1, ids[0]);
        next = Segment.open(this.dir, later, this.window);
        if (next === null) return false;
      }
    } catch (e) {
      this.segment = null;
      throw e;
    }
    this.segment = next;
    this.segmentId = next.id;
    this.offset = SEGMENT_HEADER_SIZE;
    return true;
  }

  private corrupt(offset: number, reason: string): ChronicleError {
    return new CorruptRecord(this.segment!.path, this.segmentId, offset, reason);
  }
}

/** The start of the oldest segment on disk (or of the writer's segment when none exists yet). */
function earliestPosition(dir: string, control: ControlBlock): Position {
  const ids = listSegmentIds(dir);
  return { segment: ids.length > 0 ? ids[0] : control.currentSegment, offset: SEGMENT_HEADER_SIZE };
}

/** The end of the committed records in the newest segment. */
function latestPosition(dir: string, control: ControlBlock): Position {
  const ids = listSegmentIds(dir);
  if (ids.length === 0) return earliestPosition(dir, control);
  const id = ids[ids.length - 1];
  const size = control.segmentSize;
  const end = withSegment(dir, id, size, -1, (seg) => scanSegment(seg.window.u32, size).end);
  return end < 0 ? earliestPosition(dir, control) : { segment: id, offset: end };
}

function startPosition(dir: string, control: ControlBlock, start: "earliest" | "latest"): Position {
  return start === "latest" ? latestPosition(dir, control) : earliestPosition(dir, control);
}

function checkOffset(path: string, p: Position, segmentSize: number): void {
  if (!Number.isInteger(p.offset) || p.offset < SEGMENT_HEADER_SIZE || p.offset > segmentSize || p.offset % RECORD_ALIGN !== 0) {
    throw new CorruptMetadata(path, `reader position offset ${p.offset} is not a record boundary in a ${segmentSize}-byte segment`);
  }
}

/** Creates `readers/` when missing; a queue directory deleted meanwhile is QueueNotFound. */
function mkdirReaders(dir: string): void {
  try {
    mkdirOne(join(dir, READERS_DIR));
  } catch (e) {
    if (e instanceof ErrnoError && e.errnoName === "ENOENT") throw new QueueNotFound(dir, "the queue directory was deleted while the reader was opening");
    throw e;
  }
}
