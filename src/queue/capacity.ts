/**
 * The writer's capacity limit (maxSegments / maxBytes) and backpressure. Checked at rolls only,
 * so appends never read reader files.
 */
import { InvalidArgument, QueueFull } from "../errors.ts";
import { listSegmentIds } from "./segment.ts";
import type { WriterOptions } from "./writerOptions.ts";

export class Capacity {
  /** Most segment files on disk (Infinity when unlimited). */
  readonly maxSegments: number;
  private readonly dir: string;
  private readonly backpressureMs: number;
  /** Segment files on disk, refreshed at each roll and cleanup (never per append). */
  private segments: number;

  constructor(dir: string, segmentSize: number, opts: WriterOptions) {
    this.dir = dir;
    this.maxSegments = Math.min(opts.maxSegments ?? Infinity, Math.floor((opts.maxBytes ?? Infinity) / segmentSize));
    this.backpressureMs = opts.backpressure?.timeoutMs ?? 0;
    if (this.maxSegments < 2) throw new InvalidArgument(dir, `capacity must allow at least 2 segments of ${segmentSize} bytes`);
    this.segments = listSegmentIds(dir).length;
  }

  /** Re-counts the segment files (after a cleanup deleted some). */
  recount(): void {
    this.segments = listSegmentIds(this.dir).length;
  }

  /** A segment was created. */
  added(): void {
    this.segments++;
  }

  /**
   * Makes room for one more segment, running `cleanup` (which must recount), or throws QueueFull
   * after waiting up to the backpressure timeout for readers to advance.
   */
  ensureRoom(cleanup: () => void): void {
    if (this.segments < this.maxSegments) return;
    const deadline = performance.now() + this.backpressureMs;
    for (;;) {
      cleanup();
      if (this.segments < this.maxSegments) return;
      if (performance.now() >= deadline) {
        throw new QueueFull(this.dir, `queue holds ${this.segments} segments (limit ${this.maxSegments}) and live readers still need them${this.backpressureMs > 0 ? ` after waiting ${this.backpressureMs} ms` : ""}`);
      }
      Bun.sleepSync(Math.min(10, Math.max(1, deadline - performance.now())));
    }
  }
}
