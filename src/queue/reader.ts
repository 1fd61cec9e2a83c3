/** A reader of a queue: non-blocking next(), waits, persisted position. */
import { ChronicleError, ClosedError, CorruptRecord, InvalidArgument, QueueNotFound } from "../errors.ts";
import { Mapping } from "../ffi/index.ts";
import { checkOwnDirectory } from "./access.ts";
import { ControlBlock, DEFAULT_OPEN_TIMEOUT_MS } from "./control.ts";
import { payloadCrc } from "./crc32.ts";
import { writerStatus, type WriterStatus } from "./liveness.ts";
import { batchPoll } from "./batchPoll.ts";
import { MessageView } from "./messageView.ts";
import { validateComponent, validateDirPath } from "./names.ts";
import { ReaderMetaFile } from "./readerMeta.ts";
import {
  checkStart, earliestPosition, isRecordBoundary, resolveStart, type Position, type ResolvedStart, type SeekStart, type StartPosition,
} from "./startPosition.ts";
import { SeekTarget, Seeker, type SeekLanding, type SeekResult } from "./seek.ts";
import { describe as describeValue } from "./args.ts";
import { asyncWaitArgs, checkTimeout, CONTROL_BLOCK, Waiter, type AsyncWaitArg } from "./wait.ts";
import { checkReaderOptions, type ReaderOptions } from "./readerOptions.ts";
import type { Segment } from "./segment.ts";
import { openAtPosition, openNext } from "./segmentHandover.ts";
import { queueRemoved, sealedEndProblem, stalledSegmentProblem } from "./readerChecks.ts";
import {
  MAX_READER_NAME_BYTES, SEGMENT_HEADER_SIZE, CORRUPT, NOT_COMMITTED, PADDED,
  committedLength, corruptionReason, payloadOffset, readableLength, recordCrc, recordLength,
} from "./layout/index.ts";

export type { SeekResult, SeekStart, StartPosition, WriterStatus };
export { checkReaderOptions, type ReaderOptions, type SubscriberOptions } from "./readerOptions.ts";

/** 2^64: timestamps are u64 nanoseconds. */
const TIMESTAMP_LIMIT = 1n << 64n;

/** How far ahead of its position a reader has the kernel map the segment in (a syscall per half of it). */
const PREFAULT_BYTES = 1 << 20;

/**
 * How often next() returning null looks at the queue's state on disk (see coldCheck): a stalled
 * or deleted queue is reported within this, and a polling reader pays a few syscalls per period.
 */
const COLD_CHECK_NS = 1e9;

/**
 * Internal (not exported by src/index.ts): `reader[DELETION_HANDLED]()` tells a reader that its
 * owner notices the queue directory going away by itself (a router's discovery detaches the
 * strategy), so next() and the waits do not throw QueueNotFound for it.
 */
export const DELETION_HANDLED: unique symbol = Symbol("chronicle.deletionHandled");


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
  /** Where the current segment is mapped; re-pointed (not reallocated) when moving on. */
  private readonly window: Mapping;
  private readonly u8: Uint8Array;
  private readonly u32: Uint32Array;
  private readonly view: MessageView;
  /** The view's payload array, for the CRC of a long payload (made once: no closure per record). */
  private readonly viewPayload = (): Uint8Array => this.view.payload;
  private readonly waiter: Waiter;
  private segment: Segment | null = null;
  private segmentId: number;
  private offset: number;
  /** Payload length of the record findNext() found. */
  private length = 0;
  /** Reading past this offset of the segment asks the kernel to map the next stretch in (see prefault). */
  private prefaultedTo = -1;
  /** The end of the current (sealed) segment was found all zero: moving on needs no new look. */
  private endChecked = false;
  /** Bun.nanoseconds() from which next() returning null runs coldCheck() again. */
  private coldCheckDueNs = 0;
  /** next() and the waits report a removed queue directory (QueueNotFound); see DELETION_HANDLED. */
  private reportDeletion = true;
  /** Created by the first seek (its segment indexes live as long as the reader). */
  private seeker: Seeker | null = null;
  private closed = false;

  private constructor(
    dir: string, name: string | null, control: ControlBlock, meta: ReaderMetaFile | null, start: Position, opts: ReaderOptions, attachNow: boolean,
  ) {
    this.dir = dir;
    this.name = name;
    this.control = control;
    this.meta = meta;
    this.segmentSize = control.segmentSize;
    this.formatVersion = control.version;
    this.verifyCrc = opts.verifyCrc ?? true;
    this.skipLost = opts.start === "earliest";
    this.segmentId = start.segment;
    this.offset = start.offset;
    this.window = Mapping.reserve(control.segmentSize);
    this.u8 = this.window.u8;
    this.u32 = this.window.u32;
    this.view = new MessageView(this.window);
    try {
      // Inside the try: the Waiter rejects bad wait options, and the window must not leak then.
      const controls = [control];
      this.waiter = new Waiter({
        what: "reader",
        path: dir,
        controls: () => controls,
        probe: () => this.findNext() >= 0,
        heartbeat: () => this.meta?.touch(),
        coldCheck: () => this.coldCheck(),
      }, opts.wait);
      if (attachNow) this.attach();
    } catch (e) {
      this.window.unmap();
      throw e;
    }
  }

  /** Opens a reader on the queue in `dir`. `name` null makes an anonymous, read-only reader. */
  static open(dir: string, name: string | null, options?: ReaderOptions): QueueReader {
    validateDirPath(dir, "queue directory");
    if (name !== null) validateComponent(name, "reader name", dir, MAX_READER_NAME_BYTES);
    const opts = checkReaderOptions(dir, options);
    const start = checkStart(dir, opts.start);
    checkOwnDirectory(dir, "queue directory", opts.allowShared);
    const control = ControlBlock.open(dir, opts.openTimeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS, "read");
    // A seek start opens at the committed position without storing anything: a failed seek changes nothing.
    const seekStart = typeof start === "object" ? start : null;
    let resolved: ResolvedStart | null = null;
    let reader: QueueReader;
    try {
      // Again now that it exists: it may have been created while the open waited for it.
      checkOwnDirectory(dir, "queue directory", opts.allowShared);
      resolved = resolveStart(dir, name, control, seekStart === null ? (start as "resume" | "earliest" | "latest") : "resume");
      reader = new QueueReader(dir, name, control, resolved.meta, resolved.position, opts, seekStart === null);
    } catch (e) {
      resolved?.meta?.close();
      control.close();
      throw e;
    }
    if (seekStart !== null) {
      try {
        reader.startAt(seekStart);
      } catch (e) {
        reader.close();
        throw e;
      }
    }
    return reader;
  }

  /**
   * The next record, or null when none is committed yet. Never blocks. The returned view is
   * reused: it is valid until the next call on this reader.
   */
  next(): MessageView | null {
    if (this.closed) throw new ClosedError(this.dir, "reader");
    const o = this.findNext();
    if (o < 0) return this.nothingYet();
    const u32 = this.u32;
    const length = this.length;
    const view = this.view;
    view.wrap(this.segmentId, o, length);
    if (this.verifyCrc) {
      const crc = payloadCrc(u32, this.u8, payloadOffset(o), length, this.viewPayload);
      const stored = recordCrc(u32, o);
      if (crc !== stored) throw this.corrupt(o, `payload CRC 0x${crc.toString(16)} does not match the header's 0x${stored.toString(16)}`);
    }
    const next = o + recordLength(length);
    this.offset = next;
    if (next > this.prefaultedTo) this.prefault(next);
    return view;
  }

  /**
   * Calls `handler` for each record ready now, at most `limit` of them (default: all), and
   * returns how many. Never blocks. The view is the one next() returns (valid during the call);
   * commit() afterwards persists the position after the last record handed over.
   */
  poll(handler: (m: MessageView) => void, limit = Infinity): number {
    return batchPoll(this, handler, limit, this.dir);
  }

  /** True when next() would return a record now. Does not consume it. */
  hasNext(): boolean {
    if (this.closed) throw new ClosedError(this.dir, "reader");
    return this.findNext() >= 0;
  }

  /**
   * Waits until a record is ready or `timeoutMs` passes (default: no limit); true when one is
   * ready. Blocks the calling thread: spins on the commit word for `spinMicros`, then (strategy
   * "hybrid") sleeps on the queue's futex. For the event loop use {@link waitAsync}.
   */
  wait(timeoutMs = Infinity): boolean {
    if (this.closed) throw new ClosedError(this.dir, "reader");
    const timeout = checkTimeout(timeoutMs, this.dir);
    if (this.findNext() >= 0) return true;
    return this.waiter.waitSync(timeout);
  }

  /**
   * Resolves true when a record is ready, false after `timeoutMs` (default: no limit) or when
   * the reader is closed meanwhile; rejects with the signal's reason when `signal` aborts. Holds
   * the event loop for at most `spinMicros` (the reader's option, or this call's): a short spin
   * that catches a record arriving within microseconds. The sleeping is done by a helper thread
   * on the queue's futex. A number as the argument is the timeout: `waitAsync(100)` is
   * `waitAsync({ timeoutMs: 100 })`.
   */
  waitAsync(opts?: AsyncWaitArg): Promise<boolean> {
    if (this.closed) return Promise.reject(new ClosedError(this.dir, "reader"));
    let args: ReturnType<typeof asyncWaitArgs>;
    try {
      args = asyncWaitArgs(opts, this.dir);
    } catch (e) {
      return Promise.reject(e);
    }
    try {
      if (this.findNext() >= 0) return Promise.resolve(true);
    } catch (e) {
      // A corrupt record or a vanished queue is the promise's rejection, as it is from the wait's own checks.
      return Promise.reject(e);
    }
    return this.waiter.waitAsync(args.timeoutMs, args.signal, args.spinNs);
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
  private findNext(): number {
    if (this.segment === null && !this.attach()) return -1;
    const size = this.segmentSize;
    const u32 = this.u32;
    for (;;) {
      const o = this.offset;
      const length = readableLength(u32, o, size);
      if (length >= 0) {
        this.length = length;
        return o;
      }
      if (length === PADDED) {
        this.offset = size;
        continue;
      }
      if (length === CORRUPT) throw this.corrupt(o, corruptionReason(u32, o, size));
      if (!this.segment!.sealed) return -1;
      // A commit may have landed just before the seal: look again before leaving the segment.
      if (committedLength(u32, o, size) !== NOT_COMMITTED) continue;
      if (!this.endChecked) this.checkSealedEnd(o);
      if (!this.advance()) return -1;
    }
  }

  /**
   * Moves the read position to the record with seq `seq`, or the first one after it when there is
   * none: next() returns it. Past the newest record the reader is at the head (`atHead`, and `seq`
   * is the seq the next record will get). A seq older than the oldest record on disk is
   * PositionLost (with `oldestSeq`). For a named reader only {@link commit} persists the position.
   * Cost: a binary search over the segment files (one header read each) and at most an index
   * step inside the segment; the first seek into a segment may scan it (see DESIGN.md, Seek).
   * Assumes seqs increase through the queue, as this library's writers make them.
   */
  seek(seq: number): SeekResult {
    if (this.closed) throw new ClosedError(this.dir, "reader");
    if (!Number.isSafeInteger(seq) || seq < 0) throw new InvalidArgument(this.dir, `seek takes a seq (a non-negative integer), got ${describeValue(seq)}`);
    return this.seekTo(SeekTarget.seq(seq), false);
  }

  /**
   * Moves the read position to the first record whose timestamp (ns since the epoch) is at or
   * after `timestampNs`, or to the head when there is none. Assumes timestamps do not go back; where
   * caller-supplied ones did, it lands on a record at or after `timestampNs` that follows one before
   * it (not necessarily the first such), and never fails for it. Times before the oldest record
   * land on the oldest record.
   */
  seekTime(timestampNs: bigint): SeekResult {
    if (this.closed) throw new ClosedError(this.dir, "reader");
    if (typeof timestampNs !== "bigint" || timestampNs < 0n || timestampNs >= TIMESTAMP_LIMIT) {
      throw new InvalidArgument(this.dir, `seekTime takes a timestamp in ns (a bigint from 0 to 2^64 - 1), got ${describeValue(timestampNs)}`);
    }
    return this.seekTo(SeekTarget.time(timestampNs), false);
  }

  /** {@link seekTime} with a time in ms since the epoch (a number, fractions allowed), for callers avoiding BigInt. */
  seekTimeMs(timestampMs: number): SeekResult {
    if (this.closed) throw new ClosedError(this.dir, "reader");
    if (typeof timestampMs !== "number" || !Number.isFinite(timestampMs) || timestampMs < 0 || timestampMs * 1e6 >= 2 ** 64) {
      throw new InvalidArgument(this.dir, `seekTimeMs takes a time in ms since the epoch (a finite number >= 0), got ${describeValue(timestampMs)}`);
    }
    const whole = Math.floor(timestampMs);
    return this.seekTime(BigInt(whole) * 1_000_000n + BigInt(Math.round((timestampMs - whole) * 1e6)));
  }

  /**
   * Positions the reader before the last `n` records (fewer when fewer are on disk), as `tail -n`:
   * the next `n` next() calls return them. 0 is the head. Counts by seq (see {@link seek}).
   */
  seekLast(n: number): SeekResult {
    if (this.closed) throw new ClosedError(this.dir, "reader");
    if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgument(this.dir, `seekLast takes a record count (a non-negative integer), got ${describeValue(n)}`);
    const head = this.seekTo(SeekTarget.seq(Number.MAX_SAFE_INTEGER), false);
    if (n === 0) return head;
    return this.seekTo(SeekTarget.seq(Math.max(0, head.seq - n)), true);
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
    // A position that no reader could have had: stored, it would read as corrupt metadata later.
    if (!Number.isSafeInteger(segment) || segment < 0 || !isRecordBoundary(offset, this.segmentSize)) {
      throw new InvalidArgument(this.dir, `commitAt takes a position of this reader (a segment id and a record boundary), got ${String(segment)}, ${String(offset)}`);
    }
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
    this.checkQueueExists();
    return writerStatus(this.dir, this.control);
  }

  /** Where the next read happens: segment id and byte offset. */
  get position(): { segment: number; offset: number } {
    return { segment: this.segmentId, offset: this.offset };
  }

  /** True once close() was called. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** See {@link DELETION_HANDLED}. @internal */
  [DELETION_HANDLED](): void {
    this.reportDeletion = false;
  }

  /** The control block, for the waits that sleep on this reader's queue from outside it (fan-in). @internal */
  get [CONTROL_BLOCK](): ControlBlock {
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

  /** Same as close(), for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Iterates the records available now (stops at the tail). Each view is valid for one step. */
  *[Symbol.iterator](): Iterator<MessageView> {
    for (let m = this.next(); m !== null; m = this.next()) yield m;
  }

  /** The seek of a `start` option; stored at once for a named reader, as the other explicit starts are. */
  private startAt(start: SeekStart): void {
    if ("seq" in start) this.seek(start.seq);
    else if ("timeNs" in start) this.seekTime(start.timeNs);
    else if ("timeMs" in start) this.seekTimeMs(start.timeMs);
    else this.seekLast(start.last);
    this.meta?.store(this.segmentId, this.offset);
  }

  /** Runs a seek in this reader's window and moves the position to where it landed. */
  private seekTo(target: SeekTarget, clampLost: boolean): SeekResult {
    this.seeker ??= new Seeker(this.dir, this.segmentSize, this.window, () => this.control.currentSegment, this.meta?.path ?? this.dir);
    let landing: SeekLanding;
    try {
      landing = this.seeker.seek(target, this.segment, clampLost);
    } catch (e) {
      // The window may hold another segment now: re-attach at the unchanged position on the next call.
      this.segment = null;
      throw e;
    }
    if (landing.segment === null) {
      const p = earliestPosition(this.dir, this.control);
      this.segment = null;
      this.segmentId = p.segment;
      this.offset = p.offset;
    } else {
      this.enter(landing.segment);
      this.offset = landing.offset;
    }
    return { seq: landing.seq, atHead: landing.atHead };
  }

  /** Maps the segment of the current position (see openAtPosition); false when there is none yet. */
  private attach(): boolean {
    const seg = openAtPosition(this.dir, this.segmentId, this.offset, this.window, this.skipLost, this.meta?.path ?? this.dir);
    if (seg === null) return false;
    if (seg.id !== this.segmentId) this.offset = SEGMENT_HEADER_SIZE;
    this.enter(seg);
    return true;
  }

  /**
   * Moves from a sealed, fully read segment to the next one on disk. If mapping it fails the
   * window may be blank, so the reader detaches and re-attaches on the next call.
   */
  private advance(): boolean {
    let next: Segment | null;
    try {
      next = openNext(this.dir, this.segmentId, this.window, this.skipLost, this.meta?.path ?? this.dir);
    } catch (e) {
      this.segment = null;
      throw e;
    }
    if (next === null) return false;
    this.enter(next);
    this.offset = SEGMENT_HEADER_SIZE;
    return true;
  }

  private enter(seg: Segment): void {
    this.segment = seg;
    this.segmentId = seg.id;
    this.prefaultedTo = -1;
    this.endChecked = false;
  }

  /**
   * Asks the kernel to map the next PREFAULT_BYTES of the segment in one call, and comes back
   * halfway through them: a replay then takes no page fault per page, and a reader at the tail
   * finds the pages the writer will fill already mapped. One madvise per PREFAULT_BYTES / 2 read.
   */
  private prefault(from: number): void {
    this.window.populateRead(from, from + PREFAULT_BYTES);
    this.prefaultedTo = from + PREFAULT_BYTES / 2;
  }

  /** At the end of a sealed segment: once per segment, every call while it fails. */
  private checkSealedEnd(o: number): void {
    const problem = sealedEndProblem(this.u32, o, this.segmentSize);
    if (problem !== null) throw this.corrupt(o, problem);
    this.endChecked = true;
  }

  /** next() found nothing: the cold check when due (kept out of next() so that next() stays small). */
  private nothingYet(): null {
    if (Bun.nanoseconds() >= this.coldCheckDueNs) this.coldCheck();
    return null;
  }

  /**
   * The checks too costly for every call, run when a wait slice ends (with the heartbeat, about
   * once a second) and when next() finds nothing (at most every COLD_CHECK_NS): the queue
   * directory was removed (QueueNotFound), or the reader is at the end of an unsealed segment
   * that no writer will ever seal (CorruptRecord), which would otherwise stop it there forever.
   */
  private coldCheck(): void {
    this.coldCheckDueNs = Bun.nanoseconds() + COLD_CHECK_NS;
    if (this.reportDeletion) this.checkQueueExists();
    const problem = this.segment === null ? null : stalledSegmentProblem(this.dir, this.control, this.segment, this.offset);
    if (problem !== null) {
      this.coldCheckDueNs = 0;
      throw this.corrupt(this.offset, problem);
    }
  }

  /** QueueNotFound when the queue was deleted under the reader (reported at every call from then on). */
  private checkQueueExists(): void {
    if (!queueRemoved(this.dir)) return;
    this.coldCheckDueNs = 0;
    throw new QueueNotFound(this.dir, "the queue was deleted under the reader (its control block is gone): no record will ever arrive; close the reader");
  }

  private corrupt(offset: number, reason: string): ChronicleError {
    return new CorruptRecord(this.segment!.path, this.segmentId, offset, reason);
  }
}
