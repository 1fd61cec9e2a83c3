/**
 * The writer's flush tiers beyond append: flushAsync (msync MS_ASYNC) and flushSync (msync
 * MS_SYNC of what was written since the last one, fdatasync of the segments finished since, the
 * checkpoint, and an fsync of the directory for the files created).
 */
import { fileSize, fsyncDir, fdatasyncFd, openFd, closeFd, O_NOFOLLOW, O_RDONLY, type Mapping } from "../ffi/index.ts";
import { writeCheckpoint } from "./checkpoint.ts";

export class Durability {
  private readonly dir: string;
  /** Start of the range of the current segment not yet msync'd with MS_SYNC. */
  private syncedTo: number;
  /** Segments rolled away from since the last flushSync (need fdatasync). */
  private unsyncedSegments: string[] = [];

  constructor(dir: string, offset: number) {
    this.dir = dir;
    this.syncedTo = offset;
  }

  /** Schedules write-back of `window` up to `offset` (segment file `path`). */
  flushAsync(window: Mapping, offset: number, path: string): void {
    window.flush(this.syncedTo, offset, false, path);
  }

  /** Makes everything up to `offset` of segment `segment` (in `window`) durable against power loss. */
  flushSync(window: Mapping, segment: number, offset: number, path: string): void {
    window.flush(this.syncedTo, offset, true, path);
    this.syncedTo = offset;
    for (const p of this.unsyncedSegments) syncFile(p);
    this.unsyncedSegments = [];
    writeCheckpoint(this.dir, { segment, writeOffset: offset }, true);
    fsyncDir(this.dir);
  }

  /**
   * The writer leaves a segment written up to `offset` for a new one starting at `start`: its
   * write-back starts now, so that a later flushSync has less to wait for.
   */
  rolled(window: Mapping, offset: number, path: string, start: number): void {
    if (this.syncedTo < offset) {
      window.flush(this.syncedTo, offset, false, path);
      this.unsyncedSegments.push(path);
    }
    this.syncedTo = start;
  }
}

function syncFile(path: string): void {
  if (fileSize(path) < 0) return;
  const fd = openFd(path, O_RDONLY | O_NOFOLLOW);
  try {
    fdatasyncFd(fd, path);
  } finally {
    closeFd(fd);
  }
}
