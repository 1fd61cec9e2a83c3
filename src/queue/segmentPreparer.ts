/**
 * Prepares the next segment on a background thread so a roll is cheap: the worker creates the
 * file (fallocate, header) under a temporary name and touches every page, which is where most of
 * a new segment's cost lies (page-cache allocation and, on ext4, unwritten-extent conversion:
 * ~1.4 ms per MiB on the reference machine). The writer then only links the file into place.
 *
 * The writer's hot loop never yields to the event loop, so the hand-over uses shared memory and
 * Atomics, not messages, in the worker-to-writer direction.
 */
import { unlinkPath } from "../ffi/index.ts";
import { segmentPath } from "./segment.ts";

const ID = 0;
const STATUS = 1;
const IDLE = 0;
const BUSY = 1;
const READY = 2;
const FAILED = 3;

export const PREPARED_SUFFIX = ".prep";

/** A prepare request as posted to the worker. */
export interface PrepareRequest {
  path: string;
  id: number;
  size: number;
  state: SharedArrayBuffer;
}

export class SegmentPreparer {
  private readonly dir: string;
  private readonly size: number;
  private readonly shared = new SharedArrayBuffer(8);
  private readonly state = new Int32Array(this.shared);
  private readonly worker: Worker;
  private requested = -1;

  constructor(dir: string, size: number) {
    this.dir = dir;
    this.size = size;
    this.worker = new Worker(new URL("./segmentPreparer.worker.ts", import.meta.url));
    this.worker.unref();
  }

  /** Starts preparing segment `id` in the background. */
  request(id: number): void {
    this.requested = id;
    Atomics.store(this.state, ID, id);
    Atomics.store(this.state, STATUS, BUSY);
    const msg: PrepareRequest = { path: preparedPath(this.dir, id), id, size: this.size, state: this.shared };
    this.worker.postMessage(msg);
  }

  /**
   * The path of the prepared file for segment `id`, waiting up to `waitMs` if the worker is still
   * at it (finishing is cheaper than starting over); null when it was not requested, failed or
   * is late, and then the caller creates the segment itself.
   */
  take(id: number, waitMs: number): string | null {
    if (this.requested !== id) return null;
    this.requested = -1;
    if (Atomics.load(this.state, STATUS) === BUSY) Atomics.wait(this.state, STATUS, BUSY, waitMs);
    const ready = Atomics.load(this.state, STATUS) === READY;
    Atomics.store(this.state, STATUS, IDLE);
    if (ready) return preparedPath(this.dir, id);
    unlinkPath(preparedPath(this.dir, id));
    return null;
  }

  /** Stops the worker and removes a prepared file nobody will use. */
  close(): void {
    this.worker.terminate();
    if (this.requested >= 0) unlinkPath(preparedPath(this.dir, this.requested));
    this.requested = -1;
  }
}

export function preparedPath(dir: string, id: number): string {
  return segmentPath(dir, id) + PREPARED_SUFFIX;
}

export const PrepareStatus = { IDLE, BUSY, READY, FAILED, ID, STATUS } as const;
