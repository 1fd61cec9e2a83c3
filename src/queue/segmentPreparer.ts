/**
 * Prepares the next segment on a background thread so that a roll costs a link and a pointer
 * switch. The writer owns two windows (address ranges of one segment each) and appends in one;
 * the worker, which shares the address space:
 *
 * 1. releases the mapping the other window held (tearing down a dirty 64 MiB mapping takes ~2 ms
 *    on the reference VM),
 * 2. creates segment N+1 under a temporary name (fallocate, header) and maps it into that window,
 * 3. stores one byte per page, so page-cache allocation (and ext4's unwritten-extent conversion,
 *    ~1.4 ms per MiB here) and the page-table faults all happen off the append path.
 *
 * It also write-faults the rest of the segment the writer opened in (`populate`), so appends
 * after an open take no page faults either.
 *
 * At the roll the writer links the file into place and switches windows. The writer's loop
 * never yields to the event loop, so the hand-over is shared memory and Atomics, not messages.
 */
import { unlinkPath, type Mapping } from "../ffi/index.ts";
import { PreparerFailed } from "../errors.ts";
import { segmentPath } from "./segment.ts";
import { PREPARED_SUFFIX } from "./layout/index.ts";


/** Slots of the Int32Array shared with the worker. */
export const PrepareSlot = { ID: 0, STATUS: 1, SIZE: 2 } as const;
export const PrepareStatus = { IDLE: 0, BUSY: 1, READY: 2, FAILED: 3 } as const;

/** A prepare request as posted to the worker. */
export interface PrepareRequest {
  kind: "prepare";
  path: string;
  id: number;
  size: number;
  windowAddress: number;
  state: SharedArrayBuffer;
}

/** Write-fault [from, size) of the window the writer appends in; changes no byte. */
export interface PopulateRequest {
  kind: "populate";
  windowAddress: number;
  size: number;
  from: number;
}

/** How long anything waits for the worker to finish one segment before giving up. */
const WORKER_DEADLINE_MS = 60_000;

export class SegmentPreparer {
  private readonly dir: string;
  private readonly state = new Int32Array(new SharedArrayBuffer(PrepareSlot.SIZE * 4));
  private readonly worker: Worker;
  private requested = -1;

  constructor(dir: string) {
    this.dir = dir;
    this.worker = new Worker(new URL("./segmentPreparer.worker.ts", import.meta.url));
    this.worker.unref();
  }

  /**
   * Write-faults `window` from offset `from` on, in the background, while the writer appends in
   * it. Runs before any later request, so it is over before the window is re-used or unmapped.
   */
  populate(window: Mapping, from: number): void {
    const msg: PopulateRequest = { kind: "populate", windowAddress: window.address, size: window.length, from };
    this.worker.postMessage(msg);
  }

  /** Starts preparing segment `id` into `window`, which the writer must not touch until take(). */
  request(id: number, window: Mapping): void {
    this.requested = id;
    Atomics.store(this.state, PrepareSlot.ID, id);
    Atomics.store(this.state, PrepareSlot.STATUS, PrepareStatus.BUSY);
    const msg: PrepareRequest = {
      kind: "prepare",
      path: preparedPath(this.dir, id),
      id,
      size: window.length,
      windowAddress: window.address,
      state: this.state.buffer as SharedArrayBuffer,
    };
    this.worker.postMessage(msg);
  }

  /**
   * Waits for the worker to finish segment `id` and returns the path of the prepared file, now
   * mapped in the requested window; null when it failed (the window is then blank and the caller
   * creates the segment itself). Throws if the worker does not report within a minute.
   */
  take(id: number): string | null {
    if (this.requested !== id) return null;
    this.requested = -1;
    const status = this.settle();
    Atomics.store(this.state, PrepareSlot.STATUS, PrepareStatus.IDLE);
    if (status === PrepareStatus.READY) return preparedPath(this.dir, id);
    unlinkPath(preparedPath(this.dir, id));
    return null;
  }

  /** Waits for any work in progress (it touches the writer's window), then stops the worker. */
  close(): void {
    this.settle();
    this.worker.terminate();
    if (this.requested >= 0) unlinkPath(preparedPath(this.dir, this.requested));
    this.requested = -1;
  }

  private settle(): number {
    const deadline = performance.now() + WORKER_DEADLINE_MS;
    let status = Atomics.load(this.state, PrepareSlot.STATUS);
    while (status === PrepareStatus.BUSY) {
      const left = deadline - performance.now();
      if (left <= 0) throw new PreparerFailed(preparedPath(this.dir, this.requested), `segment preparer did not finish segment ${this.requested} within ${WORKER_DEADLINE_MS} ms`);
      Atomics.wait(this.state, PrepareSlot.STATUS, PrepareStatus.BUSY, left);
      status = Atomics.load(this.state, PrepareSlot.STATUS);
    }
    return status;
  }
}

export function preparedPath(dir: string, id: number): string {
  return segmentPath(dir, id) + PREPARED_SUFFIX;
}
