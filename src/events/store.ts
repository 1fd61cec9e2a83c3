/**
 * The event store: streams of events over one chronicle queue (the log). One queue record holds
 * every event of one append (a batch, layout.ts), so the queue's commit word makes an append
 * visible in every stream at once or not at all, kill -9 included. The index (streamIndex.ts) is
 * derived from the log and verified against it on every read.
 */
import { realpathSync } from "node:fs";
import { join } from "node:path";
import { ClosedError, CorruptRecord, InvalidArgument, PayloadTooLarge, VersionConflict, type StreamConflict } from "../errors.ts";
import { mkdirp, realtimeNs } from "../ffi/index.ts";
import { checkOptions, checkAtLeast, checkBoolean } from "../queue/args.ts";
import { checkOwnDirectory } from "../queue/access.ts";
import { validateDirPath } from "../queue/names.ts";
import { isQueueDirectory } from "../queue/queue.ts";
import { QueueReader } from "../queue/reader.ts";
import type { MessageView } from "../queue/messageView.ts";
import {
  committedLength, maxPayloadLength, payloadOffset, recordCrc, recordSeq, recordTimestampNs, recordTypeId,
} from "../queue/layout/index.ts";
import { payloadCrc } from "../queue/crc32.ts";
import { BatchEncoder, batchFirstGlobalSeq, decodeRecord, decodeSection, findSection, type DecodeContext } from "./batch.ts";
import { jsonCodec, type EventCodec } from "./codec.ts";
import { BATCH_TYPE_ID, MAX_VERSION, sectionFirstVersion } from "./layout.ts";
import { WriterLease } from "./lease.ts";
import { SegmentCache } from "./segmentCache.ts";
import { StreamIndex, type StreamEntry } from "./streamIndex.ts";
import { Subscription, type SubscriptionOptions } from "./subscription.ts";
import type { AppendResult, AppendWrite, ExpectedVersion, StoredEvent, StreamRead } from "./types.ts";
import { checkStreamId, checkVersion, checkWrites } from "./validate.ts";

/** The log's directory inside the store root. */
export const LOG_DIR = "log";
/** Default segment size of a new store's log: bounds one append's encoded size (see maxAppendBytes). */
export const DEFAULT_STORE_SEGMENT_SIZE = 1 << 20;
/** Default least time a busy process holds the writer once another process asks for it. */
export const DEFAULT_WRITER_HOLD_MS = 5;
/** Default time an append waits for another process to hand the writer over. */
export const DEFAULT_WRITER_TIMEOUT_MS = 10_000;

/** Options for {@link EventStore.open}. */
export interface EventStoreOptions {
  /** Encoding of event data and metadata (default JSON). Every process of a store must use the same. */
  codec?: EventCodec | undefined;
  /**
   * Segment size of the log when the store is created (a power of two from 64 KiB to 1 GiB;
   * default 1 MiB). An append's encoded size must fit one segment; bigger segments also make
   * each hand-over of the writer between processes slower (recovery scans the head segment).
   */
  segmentSize?: number | undefined;
  /** How long an append waits for another process to hand the writer over (default 10,000 ms), then WriterAlreadyActive. */
  writerTimeoutMs?: number | undefined;
  /**
   * Least time a process that keeps appending holds the writer once another process asks for
   * it (default 5 ms): each hand-over costs about a millisecond, so a busy process runs several
   * commands per hand-over. An idle holder hands over at once.
   */
  writerHoldMs?: number | undefined;
  /** Check each record's CRC when reading (default true). */
  verifyCrc?: boolean | undefined;
}

const utf8 = new TextEncoder();

/**
 * A store of event streams in directory `root`. Several processes may open the same store and
 * append at once: the expected-version check and the append run while holding the log's single
 * writer (see lease.ts). Not thread-safe: use it from one thread.
 */
export class EventStore implements Disposable {
  /** The store directory. */
  readonly root: string;
  /** The log: an ordinary chronicle queue (`chronicle tail <logDir>` shows it). */
  readonly logDir: string;
  readonly codec: EventCodec;
  /** Largest encoded append (bytes of one batch record). */
  readonly maxAppendBytes: number;

  private readonly lease: WriterLease;
  private readonly segments: SegmentCache;
  private readonly encoder = new BatchEncoder();
  private readonly index = new StreamIndex();
  private readonly writerTimeoutMs: number;
  private readonly verifyCrc: boolean;
  private tailer: QueueReader;
  private closed = false;
  private rebuilds = 0;
  /** The CorruptRecord the tail of the log gave, reported until the index is rebuilt. */
  private broken: CorruptRecord | null = null;
  /** Scratch for findSection. */
  private readonly before = [0];

  private constructor(root: string, lease: WriterLease, tailer: QueueReader, opts: EventStoreOptions) {
    this.root = root;
    this.logDir = lease.logDir;
    this.lease = lease;
    this.tailer = tailer;
    this.codec = opts.codec ?? jsonCodec;
    this.writerTimeoutMs = opts.writerTimeoutMs ?? DEFAULT_WRITER_TIMEOUT_MS;
    this.verifyCrc = opts.verifyCrc ?? true;
    this.maxAppendBytes = maxPayloadLength(tailer.segmentSize);
    this.segments = new SegmentCache(this.logDir, tailer.segmentSize);
  }

  /** Opens the store in `root`, creating it when absent, and indexes its log. */
  static open(root: string, options?: EventStoreOptions): EventStore {
    validateDirPath(root, "event store directory");
    const opts = checkOptions(options, "event store options", root);
    checkAtLeast(opts.writerTimeoutMs, "writerTimeoutMs", 0, root);
    checkAtLeast(opts.writerHoldMs, "writerHoldMs", 0, root);
    checkBoolean(opts.verifyCrc, "verifyCrc", root);
    if (opts.codec !== undefined && (typeof opts.codec !== "object" || typeof opts.codec.encode !== "function" || typeof opts.codec.decode !== "function")) {
      throw new InvalidArgument(root, "codec must be an object with encode and decode functions");
    }
    mkdirp(root, 0o700);
    checkOwnDirectory(root, "event store directory", false);
    const real = realpathSync(root);
    const logDir = join(real, LOG_DIR);
    const lease = WriterLease.acquire(real, logDir, { segmentSize: opts.segmentSize ?? DEFAULT_STORE_SEGMENT_SIZE, holdMs: opts.writerHoldMs ?? DEFAULT_WRITER_HOLD_MS });
    let tailer: QueueReader | null = null;
    try {
      // The first process creates the log by opening its writer (the queue's own creation protocol).
      if (!isQueueDirectory(logDir)) lease.writer(opts.writerTimeoutMs ?? DEFAULT_WRITER_TIMEOUT_MS);
      tailer = QueueReader.open(logDir, null, { start: "earliest", verifyCrc: opts.verifyCrc ?? true });
      const store = new EventStore(root, lease, tailer, opts);
      store.catchUp();
      return store;
    } catch (e) {
      tailer?.close();
      lease.release();
      throw e;
    }
  }

  /** The stream's current version (0: no event), after reading the log's tail. */
  version(stream: string): number {
    this.checkOpen();
    checkStreamId(this.root, stream);
    this.catchUp();
    return this.index.version(stream);
  }

  /** globalSeq of the store's last event (0: empty), after reading the log's tail. */
  get lastGlobalSeq(): number {
    this.checkOpen();
    this.catchUp();
    return this.index.lastGlobalSeq;
  }

  /**
   * The stream's events from `fromVersion` (default 1) and its current version. Costs in
   * proportion to the stream's batches from `fromVersion`, not to the store: each is found
   * through the index and checked against the log (a mismatch rebuilds the index from the log).
   */
  readStream<E = unknown>(stream: string, opts?: { fromVersion?: number }): StreamRead<E> {
    this.checkOpen();
    checkStreamId(this.root, stream);
    const fromVersion = checkOptions(opts, "read options", this.root).fromVersion;
    const from = fromVersion === undefined ? 1 : checkVersion(this.root, fromVersion, "fromVersion", 1);
    this.catchUp();
    const events: StoredEvent[] = [];
    if (this.readIndexed(stream, from, events)) return { stream, version: this.index.version(stream), events: events as StoredEvent<E>[] };
    // The index named a record the log does not hold (segments removed or replaced): derive it again.
    this.rebuildIndex();
    this.rebuilds++;
    events.length = 0;
    if (this.readIndexed(stream, from, events)) return { stream, version: this.index.version(stream), events: events as StoredEvent<E>[] };
    throw new CorruptRecord(this.logDir, -1, -1, `stream ${JSON.stringify(stream)}: a freshly built index disagrees with the log`);
  }

  /**
   * Appends every write's events atomically: all of them become visible together, in every
   * stream, or none does. Each write's `expected` is checked against the log while this process
   * holds the writer; if any fails, nothing is written and VersionConflict names every failing
   * stream. A write with no events only checks. Bad input (InvalidArgument), an event the codec
   * cannot encode (EventEncodingFailed) or a batch too large for a segment (PayloadTooLarge)
   * is refused before anything is written.
   */
  append(writes: readonly AppendWrite[]): AppendResult {
    this.checkOpen();
    checkWrites(this.root, writes);
    const length = this.encoder.encode(this.root, writes, this.codec);
    if (length > this.maxAppendBytes) throw new PayloadTooLarge(this.logDir, length, this.maxAppendBytes);
    const writer = this.lease.writer(this.writerTimeoutMs);
    try {
      // We hold the only writer: after this, nothing can change the log but us.
      this.catchUp();
      this.checkExpectations(writes);
      const slots = this.encoder.slots;
      for (let i = 0; i < slots.length; i++) {
        const next = this.index.version(slots[i]!.write.stream) + 1;
        if (next + slots[i]!.write.events.length - 1 > MAX_VERSION) throw new InvalidArgument(this.root, `stream ${JSON.stringify(slots[i]!.write.stream)} would pass version ${MAX_VERSION}`);
        this.encoder.setFirstVersion(i, next);
      }
      const firstGlobal = this.index.lastGlobalSeq + 1;
      this.encoder.setFirstGlobalSeq(firstGlobal);
      const timestampNs = realtimeNs();
      writer.append(BATCH_TYPE_ID, this.encoder.bytes, timestampNs);
      const result = this.written(firstGlobal, timestampNs);
      this.catchUp();
      return result;
    } finally {
      this.lease.afterAppend();
    }
  }

  /**
   * Takes the log's writer for this process now, waiting for another process to hand it over
   * (WriterAlreadyActive after `writerTimeoutMs`). Until this process's next append, no other
   * process can append: reads made meanwhile are current when that append checks them. The
   * executor does this before every retry, so a retry never conflicts with another process.
   */
  takeWriter(): void {
    this.checkOpen();
    this.lease.writer(this.writerTimeoutMs);
  }

  /**
   * A projection's view of the whole store: follows the log with the named reader `name`
   * (persisted position in the log's readers/), delivering whole batches, in log order.
   */
  subscribe(name: string, opts?: SubscriptionOptions): Subscription {
    this.checkOpen();
    return new Subscription(this.logDir, name, this.codec, opts);
  }

  /**
   * The events of one log record, read by a QueueReader of `logDir` (for projections that
   * follow the log themselves). CorruptRecord when the record is not a batch of this store.
   */
  decode(m: MessageView): StoredEvent[] {
    return decodeRecord(this.logDir, this.codec, m);
  }

  /** Throws the index away and derives it again from the whole log. */
  rebuildIndex(): void {
    this.checkOpen();
    const fresh = QueueReader.open(this.logDir, null, { start: "earliest", verifyCrc: this.verifyCrc });
    this.tailer.close();
    this.tailer = fresh;
    this.broken = null;
    this.index.clear();
    this.segments.clear();
    this.catchUp();
  }

  /**
   * Batches (appends) and streams indexed, the last globalSeq, times the index was rebuilt
   * because an entry did not match the log, and times this process opened the log's writer.
   */
  get stats(): { batches: number; streams: number; lastGlobalSeq: number; rebuilds: number; writerOpens: number } {
    return { batches: this.index.batches, streams: this.index.streamCount, lastGlobalSeq: this.index.lastGlobalSeq, rebuilds: this.rebuilds, writerOpens: this.lease.opens };
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Releases the reader, the mappings and (when no other store of this root in the process uses it) the writer. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.tailer.close();
      this.segments.close();
    } finally {
      this.lease.release();
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** Indexes every record the log holds past the tailer's position. */
  private catchUp(): void {
    // The tailer has moved past a record the index refused: report it at every call, never skip it.
    if (this.broken !== null) throw this.broken;
    const t = this.tailer;
    for (let m = t.next(); m !== null; m = t.next()) {
      const problem = m.typeId !== BATCH_TYPE_ID
        ? `type ${m.typeId}, not an event batch (${BATCH_TYPE_ID})`
        : this.index.apply(m.segment, m.offset, m.seq, m.data, m.buffer, m.payloadOffset, m.length);
      if (problem !== null) {
        this.broken = new CorruptRecord(this.logDir, m.segment, m.offset, `record ${m.seq}: ${problem}`);
        throw this.broken;
      }
    }
  }

  private checkExpectations(writes: readonly AppendWrite[]): void {
    let conflicts: StreamConflict[] | null = null;
    for (const w of writes) {
      if (w.expected === "any") continue;
      const actual = this.index.version(w.stream);
      if (!holds(w.expected, actual)) (conflicts ??= []).push({ stream: w.stream, expected: w.expected, actual });
    }
    if (conflicts !== null) throw new VersionConflict(this.root, conflicts);
  }

  /** The events just appended, as stored (data and metadata are the caller's objects). */
  private written(firstGlobal: number, timestampNs: bigint): AppendResult {
    const events: StoredEvent[] = [];
    let global = firstGlobal;
    for (const { write } of this.encoder.slots) {
      const first = this.index.version(write.stream) + 1;
      for (let i = 0; i < write.events.length; i++) {
        const e = write.events[i]!;
        const base = { stream: write.stream, version: first + i, type: e.type, data: e.data, globalSeq: global++, timestampNs };
        events.push(e.metadata === undefined ? base : { ...base, metadata: e.metadata });
      }
    }
    return { events, lastGlobalSeq: global - 1 };
  }

  /** Reads `stream` from `from` through the index into `out`; false when an entry does not match the log. */
  private readIndexed(stream: string, from: number, out: StoredEvent[]): boolean {
    const entry = this.index.entry(stream);
    if (entry === undefined || from > entry.version) return true;
    const id = utf8.encode(stream);
    const ctx: DecodeContext = { codec: this.codec, stream, firstGlobal: 0, timestampNs: 0n, fromVersion: from };
    for (let b = entry.batchFor(from); b < entry.firstVersions.length; b++) {
      if (!this.readBatch(entry, b, id, ctx, out)) return false;
    }
    return true;
  }

  /** Decodes batch `b` of `entry` after checking that the log holds exactly what the index says. */
  private readBatch(entry: StreamEntry, b: number, id: Uint8Array, ctx: DecodeContext, out: StoredEvent[]): boolean {
    const window = this.segments.get(entry.segments[b]!);
    if (window === null) return false;
    const offset = entry.offsets[b]!;
    const u32 = window.u32;
    const length = committedLength(u32, offset, window.length);
    if (length < 0 || recordTypeId(u32, offset) !== BATCH_TYPE_ID || recordSeq(u32, offset) !== entry.seqs[b]) return false;
    const base = payloadOffset(offset);
    const u8 = window.u8;
    if (this.verifyCrc) {
      const crc = payloadCrc(u32, u8, base, length);
      if (crc !== recordCrc(u32, offset)) return false;
    }
    const at = findSection(window.data, u8, base, id, this.before);
    if (at < 0 || sectionFirstVersion(window.data, at) !== entry.firstVersions[b]) return false;
    ctx.firstGlobal = batchFirstGlobalSeq(window.data, base) + this.before[0]!;
    ctx.timestampNs = recordTimestampNs(window.data, offset);
    decodeSection(window.data, u8, at, ctx, out);
    return true;
  }

  private checkOpen(): void {
    if (this.closed) throw new ClosedError(this.root, "event store");
  }
}

function holds(expected: Exclude<ExpectedVersion, "any">, actual: number): boolean {
  if (expected === "no_stream") return actual === 0;
  if (expected === "exists") return actual > 0;
  return actual === expected;
}
