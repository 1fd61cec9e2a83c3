/** Following the whole store: a named QueueReader of the log, handing out the events of whole batches. */
import { ClosedError } from "../errors.ts";
import { QueueReader, type ReaderOptions } from "../queue/reader.ts";
import type { EventCodec } from "./codec.ts";
import { decodeRecord } from "./batch.ts";
import type { StoredEvent } from "./types.ts";

/** Options for {@link EventStore.subscribe}: those of the underlying reader. */
export type SubscriptionOptions = Pick<ReaderOptions, "start" | "verifyCrc" | "wait">;

/**
 * Events of the store in log order (globalSeq order), from the reader's persisted position.
 * Each log record is one append, decoded whole: a batch is delivered complete or not yet.
 * `commit()` persists the position after the last batch whose every event was handed out, so
 * a projection restarted after a crash resumes at a batch boundary. Not thread-safe.
 */
export class Subscription implements Disposable, AsyncIterable<StoredEvent> {
  /** The reader under the subscription (its name is the subscription's). */
  readonly reader: QueueReader;
  private readonly codec: EventCodec;
  private readonly logDir: string;
  private batch: StoredEvent[] = [];
  private broken: unknown = null;
  private next = 0;
  private deliveredSegment: number;
  private deliveredOffset: number;

  constructor(logDir: string, name: string, codec: EventCodec, opts?: SubscriptionOptions) {
    this.logDir = logDir;
    this.codec = codec;
    this.reader = QueueReader.open(logDir, name, opts);
    this.deliveredSegment = this.reader.positionSegment;
    this.deliveredOffset = this.reader.positionOffset;
  }

  /** The next event, or null when the log holds no further batch yet. Never blocks. */
  poll(): StoredEvent | null {
    if (this.next === this.batch.length) {
      if (this.reader.isClosed) throw new ClosedError(this.logDir, "subscription");
      // The reader has moved past a record that did not decode: report it at every call, never skip it.
      if (this.broken !== null) throw this.broken;
      const m = this.reader.next();
      if (m === null) return null;
      try {
        this.batch = decodeRecord(this.logDir, this.codec, m);
      } catch (e) {
        this.broken = e;
        throw e;
      }
      this.next = 0;
    }
    const e = this.batch[this.next++]!;
    if (this.next === this.batch.length) {
      this.deliveredSegment = this.reader.positionSegment;
      this.deliveredOffset = this.reader.positionOffset;
    }
    return e;
  }

  /** Calls `handler` for every event available now (whole batches); returns how many. */
  drain(handler: (e: StoredEvent) => void): number {
    let n = 0;
    for (let e = this.poll(); e !== null; e = this.poll()) {
      handler(e);
      n++;
    }
    return n;
  }

  /** Persists the position after the last batch fully handed out. */
  commit(): void {
    this.reader.commitAt(this.deliveredSegment, this.deliveredOffset);
  }

  /** Resolves true when an event is ready, false after `timeoutMs`. */
  async waitAsync(timeoutMs?: number): Promise<boolean> {
    if (this.next < this.batch.length) return true;
    return this.reader.waitAsync(timeoutMs === undefined ? undefined : { timeoutMs });
  }

  /** Yields events as batches arrive, waiting (without blocking the event loop) in between. */
  async *[Symbol.asyncIterator](): AsyncIterator<StoredEvent> {
    while (!this.reader.isClosed) {
      const e = this.poll();
      if (e !== null) yield e;
      else await this.reader.waitAsync();
    }
  }

  /** Closes the reader (without committing). */
  close(): void {
    this.reader.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
