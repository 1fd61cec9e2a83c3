/**
 * Merges several queue readers into one stream ordered by (timestampNs, sourceId). Each source
 * is read one record ahead (its "head"); the smallest head is delivered. Ordering is among the
 * records available at the time of the call: a slower writer's older record that is not yet
 * committed cannot be waited for.
 */
import { ClosedError, InvalidArgument } from "../errors.ts";
import { FutexSet } from "../ffi/index.ts";
import { AsyncWaiter, MAX_ASYNC_QUEUES } from "./asyncWait.ts";
import type { MessageView } from "./messageView.ts";
import { QueueReader } from "./reader.ts";
import { SLEEP_SLICE_MS } from "./layout/index.ts";
import { checkTimeout, spinNanos, spinWithin } from "./wait.ts";

/** A merged record: the source it came from and its view (valid until the next call). */
export interface FanInMessage {
  sourceId: number;
  message: MessageView;
}

interface Source {
  readonly id: number;
  readonly reader: QueueReader;
  /** The record read ahead and not yet delivered, or null. */
  head: MessageView | null;
  tsHi: number;
  tsLo: number;
  /** Position after the last delivered record: what commit() may persist (never past an undelivered head). */
  deliveredSegment: number;
  deliveredOffset: number;
}


/** Options of a FanInReader. */
export interface FanInOptions {
  /** How long wait() and waitAsync() spin over all sources before sleeping (default 15 µs; 0 for none). */
  spinMicros?: number;
}

export class FanInReader implements Disposable {
  private readonly spinNs: number;
  private readonly ready = (): boolean => this.hasNext();
  private sources: Source[] = [];
  private nextId = 0;
  private readonly out: FanInMessage = { sourceId: -1, message: null as unknown as MessageView };
  private futexes: FutexSet | null = null;
  private asyncWaiter: AsyncWaiter | null = null;
  private closed = false;

  constructor(opts: FanInOptions = {}) {
    this.spinNs = spinNanos(opts.spinMicros);
  }

  /** Attaches `reader` (the fan-in owns it from now on) and returns its stable source id. */
  addReader(reader: QueueReader): number {
    this.checkOpen();
    if (!(reader instanceof QueueReader)) throw new InvalidArgument("", `addReader takes a QueueReader, got ${reader === null ? "null" : typeof reader}`);
    if (reader.isClosed) throw new ClosedError(reader.dir, "reader");
    if (this.sources.length >= MAX_ASYNC_QUEUES) throw new InvalidArgument(reader.dir, `a fan-in merges at most ${MAX_ASYNC_QUEUES} sources`);
    if (this.sources.some((s) => s.reader === reader)) throw new InvalidArgument(reader.dir, "reader is already attached");
    const id = this.nextId++;
    this.sources.push({ id, reader, head: null, tsHi: 0, tsLo: 0, deliveredSegment: reader.positionSegment, deliveredOffset: reader.positionOffset });
    this.sourcesChanged();
    return id;
  }

  /** Detaches and closes a source (releasing its mappings and fds). Its id is never reused. */
  removeReader(sourceId: number): void {
    this.checkOpen();
    const i = this.sources.findIndex((s) => s.id === sourceId);
    if (i < 0) throw new InvalidArgument("", `no source ${sourceId}`);
    const [source] = this.sources.splice(i, 1);
    this.sourcesChanged();
    source.reader.close();
  }

  /** Ids of the attached sources, ascending. */
  get sourceIds(): number[] {
    return this.sources.map((s) => s.id);
  }

  /** The reader behind a source, or undefined. */
  reader(sourceId: number): QueueReader | undefined {
    return this.sources.find((s) => s.id === sourceId)?.reader;
  }

  /**
   * The next record across all sources, or null when none has one. The returned object and its
   * view are reused: valid until the next call.
   */
  next(): FanInMessage | null {
    this.checkOpen();
    let best: Source | null = null;
    for (const s of this.sources) {
      if (s.head === null) {
        const m = s.reader.next();
        if (m === null) continue;
        s.head = m;
        s.tsHi = m.timestampHi;
        s.tsLo = m.timestampLo;
      }
      if (best === null || s.tsHi < best.tsHi || (s.tsHi === best.tsHi && s.tsLo < best.tsLo)) best = s;
    }
    if (best === null) return null;
    this.out.sourceId = best.id;
    this.out.message = best.head!;
    best.head = null;
    best.deliveredSegment = best.reader.positionSegment;
    best.deliveredOffset = best.reader.positionOffset;
    return this.out;
  }

  /** Persists a source's position after its last delivered record. */
  commit(sourceId: number): void {
    this.checkOpen();
    const s = this.sources.find((x) => x.id === sourceId);
    if (s === undefined) throw new InvalidArgument("", `no source ${sourceId}`);
    s.reader.commitAt(s.deliveredSegment, s.deliveredOffset);
  }

  /** Persists every source's position after its last delivered record. */
  commitAll(): void {
    this.checkOpen();
    for (const s of this.sources) s.reader.commitAt(s.deliveredSegment, s.deliveredOffset);
  }

  /** True when some source has a record ready. */
  hasNext(): boolean {
    this.checkOpen();
    return this.sources.some((s) => s.head !== null || s.reader.hasNext());
  }

  /**
   * Blocks until any source has a record (true) or `timeoutMs` passes (false): spins for
   * `spinMicros`, then sleeps on all sources' futex words at once (FUTEX_WAITV).
   */
  wait(timeoutMs = Infinity): boolean {
    this.checkOpen();
    timeoutMs = checkTimeout(timeoutMs, "");
    if (this.spin(timeoutMs)) return true;
    const deadline = performance.now() + timeoutMs;
    const set = (this.futexes ??= this.buildFutexSet());
    const sources = this.sources;
    for (const s of sources) s.reader.controlBlock.addWaiter();
    try {
      for (;;) {
        for (let i = 0; i < sources.length; i++) set.expect(i, sources[i].reader.controlBlock.notifySeq);
        if (this.hasNext()) return true;
        const remaining = deadline - performance.now();
        if (remaining <= 0) return false;
        if (sources.length === 0) {
          Bun.sleepSync(Math.min(remaining, SLEEP_SLICE_MS));
          continue;
        }
        set.wait(Math.min(remaining, SLEEP_SLICE_MS));
      }
    } finally {
      for (const s of sources) s.reader.controlBlock.removeWaiter();
    }
  }

  /**
   * Resolves true when any source has a record, false at the timeout or when the fan-in is
   * closed meanwhile. Holds the event loop for at most `spinMicros` (one spin over all sources);
   * then one helper thread sleeps on every source's futex word at once (FUTEX_WAITV).
   */
  async waitAsync(opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<boolean> {
    this.checkOpen();
    const timeoutMs = checkTimeout(opts.timeoutMs ?? Infinity, "");
    if (this.hasNext()) return true;
    if (opts.signal?.aborted) throw opts.signal.reason;
    if (this.spin(timeoutMs)) return true;
    this.asyncWaiter ??= new AsyncWaiter({
      controls: () => this.sources.map((s) => s.reader.controlBlock),
      probe: this.ready,
      heartbeat: () => {
        for (const s of this.sources) s.reader.heartbeat();
      },
    });
    return this.asyncWaiter.wait(timeoutMs, opts.signal);
  }

  /** Yields merged records as they arrive, waiting without blocking the event loop. */
  async *[Symbol.asyncIterator](): AsyncIterator<FanInMessage> {
    while (!this.closed) {
      const m = this.next();
      if (m !== null) yield m;
      else await this.waitAsync();
    }
  }

  /** Closes every source reader. Does not commit. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.asyncWaiter?.close();
    for (const s of this.sources) s.reader.close();
    this.sources = [];
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** A pending async wait sleeps again on the new set of sources (and lets go of a removed one's words). */
  private sourcesChanged(): void {
    this.futexes = null;
    this.asyncWaiter?.refresh();
  }

  /** Checks every source until one has a record (true) or the spin window, capped by `timeoutMs`, ends. */
  private spin(timeoutMs: number): boolean {
    return this.hasNext() || spinWithin(this.spinNs, timeoutMs, this.ready);
  }

  private buildFutexSet(): FutexSet {
    const set = new FutexSet(Math.max(1, this.sources.length));
    this.sources.forEach((s, i) => set.set(i, s.reader.controlBlock.notifyAddress, 0));
    set.truncate(this.sources.length);
    return set;
  }

  private checkOpen(): void {
    if (this.closed) throw new ClosedError("", "fan-in reader");
  }
}
