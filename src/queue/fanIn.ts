/**
 * Merges several queue readers into one stream ordered by (timestampNs, sourceId). Each source
 * is read one record ahead (its "head"); the smallest head is delivered. Ordering is among the
 * records available at the time of the call: a slower writer's older record that is not yet
 * committed cannot be waited for.
 */
import { ClosedError, InvalidArgument } from "../errors.ts";
import { MAX_ASYNC_QUEUES } from "./asyncWait.ts";
import type { ControlBlock } from "./control.ts";
import { batchPoll } from "./batchPoll.ts";
import type { MessageView } from "./messageView.ts";
import { QueueReader } from "./reader.ts";
import { asyncWaitArgs, checkTimeout, CONTROL_BLOCK, Waiter, WAIT_TARGET, type AsyncWaitArg, type WaitTarget } from "./wait.ts";
import { checkOptions } from "./args.ts";

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
  spinMicros?: number | undefined;
}

/** Merges several readers into one stream ordered by (timestamp, source id), with commits that never pass an undelivered record. */
export class FanInReader implements Disposable {
  private sources: Source[] = [];
  /** The sources' control blocks, a new array at every change (the waits rebuild their futex sets on that). */
  private controls: readonly ControlBlock[] = [];
  private nextId = 0;
  private readonly out: FanInMessage = { sourceId: -1, message: null as unknown as MessageView };
  private readonly target: WaitTarget = {
    what: "fan-in",
    path: "",
    controls: () => this.controls,
    probe: () => this.hasNext(),
    heartbeat: () => {
      for (const s of this.sources) s.reader.heartbeat();
    },
    onClose: (listener) => this.closeListeners.push(listener),
  };
  private readonly closeListeners: (() => void)[] = [];
  private readonly waiter: Waiter;
  private closed = false;

  constructor(opts?: FanInOptions) {
    this.waiter = new Waiter(this.target, { spinMicros: checkOptions(opts, "fan-in options", "").spinMicros });
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
    const source = this.sources.splice(i, 1)[0]!;
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
   * Calls `handler` for each merged record ready now, at most `limit` (default: all), in merge
   * order; returns how many. commit()/commitAll() afterwards persist past the records handed over.
   */
  poll(handler: (m: FanInMessage) => void, limit = Infinity): number {
    return batchPoll(this, handler, limit, "");
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
    // An indexed loop: this runs in every spin and on the hot path, and a closure per call would allocate.
    const sources = this.sources;
    for (let i = 0; i < sources.length; i++) if (sources[i]!.head !== null || sources[i]!.reader.hasNext()) return true;
    return false;
  }

  /**
   * Blocks until any source has a record (true) or `timeoutMs` passes (false): spins for
   * `spinMicros`, then sleeps on all sources' futex words at once (FUTEX_WAITV), refreshing
   * their heartbeats as a sleeping reader does.
   */
  wait(timeoutMs = Infinity): boolean {
    this.checkOpen();
    timeoutMs = checkTimeout(timeoutMs, "");
    if (this.hasNext()) return true;
    return this.waiter.waitSync(timeoutMs);
  }

  /**
   * Resolves true when any source has a record, false at the timeout or when the fan-in is
   * closed meanwhile. Holds the event loop for at most `spinMicros` (one spin over all sources);
   * then one helper thread sleeps on every source's futex word at once (FUTEX_WAITV). A number
   * as the argument is the timeout, as on a reader.
   */
  async waitAsync(opts?: AsyncWaitArg): Promise<boolean> {
    this.checkOpen();
    const { timeoutMs, signal, spinNs } = asyncWaitArgs(opts, "");
    if (this.hasNext()) return true;
    if (signal?.aborted) throw signal.reason;
    return this.waiter.waitAsync(timeoutMs, signal, spinNs);
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
    this.waiter.close();
    for (const s of this.sources) s.reader.close();
    this.sources = [];
    this.controls = [];
    for (const listener of this.closeListeners) listener();
  }

  /** Same as close(), for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** What the fan-in's waits sleep on, for a router that adds its discovery to it. @internal */
  get [WAIT_TARGET](): WaitTarget {
    return this.target;
  }

  /** A pending async wait sleeps again on the new set of sources (and lets go of a removed one's words). */
  private sourcesChanged(): void {
    this.controls = this.sources.map((s) => s.reader[CONTROL_BLOCK]);
    this.waiter.refresh();
  }

  private checkOpen(): void {
    if (this.closed) throw new ClosedError("", "fan-in reader");
  }
}
