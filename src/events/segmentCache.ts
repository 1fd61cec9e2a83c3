/** Random access to log records for readStream: a few segments kept mapped read-only, least recently used replaced. */
import { Mapping } from "../ffi/index.ts";
import { Segment } from "../queue/segment.ts";

/** Segments kept mapped at once. */
const SLOTS = 4;

export class SegmentCache implements Disposable {
  private readonly dir: string;
  private readonly segmentSize: number;
  private readonly windows: Mapping[] = [];
  private readonly ids: number[] = [];
  private closed = false;

  constructor(dir: string, segmentSize: number) {
    this.dir = dir;
    this.segmentSize = segmentSize;
  }

  /** The mapping holding segment `id`, or null when the file does not exist (deleted or never written). */
  get(id: number): Mapping | null {
    const at = this.ids.indexOf(id);
    if (at >= 0) {
      // Move to the front: the most recently used is kept longest.
      if (at > 0) {
        const w = this.windows[at]!;
        this.ids.splice(at, 1);
        this.windows.splice(at, 1);
        this.ids.unshift(id);
        this.windows.unshift(w);
      }
      return this.windows[0]!;
    }
    const window = this.windows.length < SLOTS ? Mapping.reserve(this.segmentSize) : this.windows.pop()!;
    if (this.ids.length === SLOTS) this.ids.pop();
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
    this.ids.unshift(id);
    this.windows.unshift(window);
    return window;
  }

  /** Forgets every mapping (after the index was rebuilt, say). */
  clear(): void {
    for (const w of this.windows) w.unmap();
    this.windows.length = 0;
    this.ids.length = 0;
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
