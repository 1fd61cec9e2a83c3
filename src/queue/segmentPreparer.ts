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
/**
 * A request is BUSY until the worker takes it (compare-and-swap to WORKING) or the writer gives
 * up on it (compare-and-swap to ABANDONED): exactly one of them wins, so a worker that starts late
 * never touches a window the writer has used meanwhile.
 */
export const PrepareStatus = { IDLE: 0, BUSY: 1, READY: 2, FAILED: 3, WORKING: 4, ABANDONED: 5 } as const;

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

/**
 * How long a roll waits for the worker to take up a request it has not started. A live worker
 * takes it within milliseconds (a fresh one within its start-up, some 20 ms); one that never does
 * could not start at all (no file descriptor left to load its module, say) and reports nothing.
 * The writer then creates the segment itself, and the preparer is off for good.
 */
const WORKER_START_MS = 2_000;
/** How long anything waits for the worker to finish a segment it has started (fallocate of a big one on a slow disk). */
const WORKER_DEADLINE_MS = 60_000;
/** How long close() waits for a segment the worker is building, before it stops the worker anyway. */
const CLOSE_DEADLINE_MS = 5_000;

export class SegmentPreparer {
  private readonly dir: string;
  private readonly state = new Int32Array(new SharedArrayBuffer(PrepareSlot.SIZE * 4));
  private readonly worker: Worker;
  private requested = -1;
  /** The worker failed to start or to take a request: every segment is created by the writer from now on. */
  private broken = false;

  constructor(dir: string) {
    this.dir = dir;
    this.worker = new Worker(new URL("./segmentPreparer.worker.ts", import.meta.url));
    // Reported when the event loop runs (a worker that cannot load its module); a roll before
    // then finds out by the request not being taken.
    this.worker.addEventListener("error", () => {
      this.broken = true;
    });
    this.worker.unref();
  }

  /** False once the worker has failed to start or to take a request (the writer creates segments itself). */
  get working(): boolean {
    return !this.broken;
  }

  /**
   * Write-faults `window` from offset `from` on, in the background, while the writer appends in
   * it. Runs before any later request, so it is over before the window is re-used or unmapped.
   */
  populate(window: Mapping, from: number): void {
    if (this.broken) return;
    const msg: PopulateRequest = { kind: "populate", windowAddress: window.address, size: window.length, from };
    this.worker.postMessage(msg);
  }

  /** Starts preparing segment `id` into `window`, which the writer must not touch until take(). */
  request(id: number, window: Mapping): void {
    if (this.broken) return;
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
   * mapped in the requested window; null when it failed or never took the request (the window is
   * then blank and the caller creates the segment itself). Throws PreparerFailed only if the worker
   * took the request and did not finish it within a minute.
   */
  take(id: number): string | null {
    if (this.requested !== id) return null;
    const status = this.settle(id, WORKER_DEADLINE_MS, true);
    this.requested = -1;
    Atomics.store(this.state, PrepareSlot.STATUS, PrepareStatus.IDLE);
    if (status === PrepareStatus.READY) return preparedPath(this.dir, id);
    unlinkPath(preparedPath(this.dir, id));
    return null;
  }

  /**
   * Stops the worker, quickly and without throwing: a request it has not taken is abandoned, one
   * it is working on (it touches the writer's window) is waited for a few seconds at most.
   */
  close(): void {
    try {
      if (this.requested >= 0) this.settle(this.requested, CLOSE_DEADLINE_MS, false);
    } finally {
      this.worker.terminate();
      if (this.requested >= 0) unlinkPath(preparedPath(this.dir, this.requested));
      this.requested = -1;
    }
  }

  /**
   * Waits until request `id` is over: READY, FAILED, or ABANDONED when the worker did not take it
   * within WORKER_START_MS (at once when the worker is known to be broken). A request the worker
   * took and did not finish within `deadlineMs` throws PreparerFailed when `strict`, else is left.
   */
  private settle(id: number, deadlineMs: number, strict: boolean): number {
    const start = performance.now();
    let status = Atomics.load(this.state, PrepareSlot.STATUS);
    while (status === PrepareStatus.BUSY || status === PrepareStatus.WORKING) {
      const elapsed = performance.now() - start;
      if (status === PrepareStatus.BUSY && (this.broken || elapsed >= WORKER_START_MS)) {
        status = Atomics.compareExchange(this.state, PrepareSlot.STATUS, PrepareStatus.BUSY, PrepareStatus.ABANDONED);
        if (status === PrepareStatus.BUSY) {
          this.broken = true;
          return PrepareStatus.ABANDONED;
        }
        continue;
      }
      if (elapsed >= deadlineMs) {
        if (!strict) return status;
        this.broken = true;
        throw new PreparerFailed(preparedPath(this.dir, id), `segment preparer did not finish segment ${id} within ${deadlineMs} ms`);
      }
      const left = status === PrepareStatus.BUSY ? WORKER_START_MS - elapsed : deadlineMs - elapsed;
      Atomics.wait(this.state, PrepareSlot.STATUS, status, Math.max(1, left));
      status = Atomics.load(this.state, PrepareSlot.STATUS);
    }
    return status;
  }
}

export function preparedPath(dir: string, id: number): string {
  return segmentPath(dir, id) + PREPARED_SUFFIX;
}
