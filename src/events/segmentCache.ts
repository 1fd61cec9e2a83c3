/**
 * Random access to log records for readStream: segments stay mapped read-only once read, up to
 * a budget of address space (the least recently used one is replaced beyond it). A stream's
 * batches are spread over the whole log, so a small cache would map and unmap on nearly every
 * batch; address space is cheap, and the pages are the page cache's, shared with the writer.
 */
import { Mapping } from "../ffi/index.ts";
import { Segment } from "../queue/segment.ts";

/** Address space the cache may keep mapped. */
const MAPPED_BYTES = 4 * 2 ** 30;
const MIN_SLOTS = 4;
const MAX_SLOTS = 1024;

/** The log's segments mapped read-only for random access, least recently used replaced. */
export class SegmentCache implements Disposable {
  private readonly dir: string;
  private readonly segmentSize: number;
  private readonly slots: number;
  /** Mapped segments by id, least recently used first (a Map keeps insertion order). */
  private readonly mapped = new Map<number, Mapping>();
  private lastId = -1;
  private last: Mapping | null = null;
  private closed = false;

  constructor(dir: string, segmentSize: number) {
    this.dir = dir;
    this.segmentSize = segmentSize;
    this.slots = Math.min(MAX_SLOTS, Math.max(MIN_SLOTS, Math.floor(MAPPED_BYTES / segmentSize)));
  }

  /** The mapping holding segment `id`, or null when the file does not exist (deleted or never written). */
  get(id: number): Mapping | null {
    // Consecutive batches of a stream are often in one segment: skip the reordering then.
    if (id === this.lastId && this.last !== null) return this.last;
    const hit = this.mapped.get(id);
    if (hit !== undefined) {
      this.mapped.delete(id);
      this.mapped.set(id, hit);
      return this.remember(id, hit);
    }
    let window: Mapping;
    if (this.mapped.size < this.slots) {
      window = Mapping.reserve(this.segmentSize);
    } else {
      const [oldest, w] = this.mapped.entries().next().value as [number, Mapping];
      this.mapped.delete(oldest);
      window = w;
    }
    let seg: Segment | null;
    try {
      seg = Segment.open(this.dir, id, window, "read");
    } catch (e) {
      window.unmap();
      throw e;
    }
    if (seg === null) {
      window.unmap();
      return null;
    }
    this.mapped.set(id, window);
    return this.remember(id, window);
  }

  private remember(id: number, window: Mapping): Mapping {
    this.lastId = id;
    this.last = window;
    return window;
  }

  /** Forgets every mapping (after the index was rebuilt, say). */
  clear(): void {
    this.last = null;
    this.lastId = -1;
    for (const w of this.mapped.values()) w.unmap();
    this.mapped.clear();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.clear();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
