/**
 * Waiting for the next record: a synchronous spin-then-futex wait, and an asynchronous wait whose
 * sleeping is done by a helper thread so the event loop never blocks.
 *
 * Protocol (SPEC section 8): a sleeper reads notify_seq, checks for a record, and sleeps on the
 * futex only while notify_seq still has the value it read; the writer bumps notify_seq after
 * every commit and roll. In format v2 a sleeper first registers in waiters_pending and the writer
 * skips the wake-up syscall while nobody is registered (v1 writers always wake).
 */
import { ptr } from "bun:ffi";
import { futexWait, futexWake } from "../ffi/index.ts";
import { ChronicleError, InvalidArgument } from "../errors.ts";
import type { ControlBlock } from "./control.ts";

export type WaitStrategy = "spin" | "hybrid";

export interface WaitOptions {
  /** "hybrid" (default): spin for `spinMicros`, then sleep on the futex. "spin": never sleep (100% CPU, lowest latency). */
  strategy?: WaitStrategy;
  /** How long a hybrid wait, and any waitAsync, spins before sleeping (default 15 µs; 0 for none). */
  spinMicros?: number;
}

/**
 * Sleeps are cut into slices so a lost wake-up (e.g. a writer killed mid-append) costs at most one
 * slice; a sleeper re-checks for a record at every slice boundary.
 */
export const SLEEP_SLICE_MS = 100;
const DEFAULT_SPIN_MICROS = 15;
/** A sleeping reader refreshes its heartbeat this often, so a long idle wait does not look dead. */
const HEARTBEAT_INTERVAL_MS = 1000;

/** Indices into the Int32Array shared with the async helper thread. */
export const AsyncSlot = {
  /** Request generation; the main thread increments it to start a wait, -1 asks the thread to exit. */
  CMD: 0,
  /** 1 while the thread may touch the reader's mappings. */
  STATE: 1,
  /** Set to 1 to cancel the current wait. */
  CANCEL: 2,
  /** Byte offset of the commit word to watch in the segment window, or -1 (watch the seal only). */
  OFFSET: 3,
  /** Timeout of the current wait in ms, or -1 for none. */
  TIMEOUT_MS: 4,
  SIZE: 5,
} as const;

export const AsyncResult = { TIMEOUT: 0, READY: 1, CANCELLED: 2 } as const;

/** Everything the async helper thread needs to watch a reader; addresses are process-wide. */
export interface AsyncWaitInit {
  shared: SharedArrayBuffer;
  notifyAddress: number;
  /** 0 for format v1 (no registration). */
  waitersAddress: number;
  windowAddress: number;
  windowSize: number;
  sleepSliceMs: number;
}

/** What the waiters need from their reader. */
export interface WaitTarget {
  readonly control: ControlBlock;
  /** True when a record is ready (may move the reader to the next segment). */
  probe(): boolean;
  /** Offset of the commit word the reader is waiting on, or -1 at the end of a segment. */
  watchOffset(): number;
  /** Refreshes the reader's heartbeat. */
  heartbeat(): void;
  readonly windowAddress: number;
  readonly windowSize: number;
}

/** A spin window in µs (default 15), validated, as ns. */
export function spinNanos(spinMicros: number | undefined): number {
  const us = spinMicros ?? DEFAULT_SPIN_MICROS;
  if (typeof us !== "number" || !(us >= 0) || us === Infinity) {
    throw new InvalidArgument("", `spinMicros must be a finite number >= 0, got ${String(us)}`);
  }
  return us * 1000;
}

/** Spins until `ready()` or Bun.nanoseconds() reaches `end`; true when ready. */
export function spinUntil(end: number, ready: () => boolean): boolean {
  while (Bun.nanoseconds() < end) if (ready()) return true;
  return false;
}

export class Waiter {
  private readonly target: WaitTarget;
  private readonly strategy: WaitStrategy;
  private readonly spinNs: number;
  private readonly probe: () => boolean;
  private helper: AsyncHelper | null = null;

  constructor(target: WaitTarget, opts: WaitOptions = {}) {
    this.target = target;
    this.strategy = opts.strategy ?? "hybrid";
    if (this.strategy !== "spin" && this.strategy !== "hybrid") {
      throw new ChronicleError("INVALID_ARGUMENT", "", `wait strategy must be "spin" or "hybrid", got ${String(this.strategy)}`);
    }
    this.spinNs = spinNanos(opts.spinMicros);
    this.probe = () => target.probe();
  }

  /** Blocks until a record is ready (true) or the timeout passes (false). */
  waitSync(timeoutMs: number): boolean {
    const target = this.target;
    const start = Bun.nanoseconds();
    const deadline = timeoutMs === Infinity ? Infinity : start + Math.max(0, timeoutMs) * 1e6;
    const spinEnd = this.strategy === "spin" ? deadline : Math.min(deadline, start + this.spinNs);
    if (spinUntil(spinEnd, this.probe)) return true;
    if (this.strategy === "spin") return target.probe();
    const control = target.control;
    let lastBeat = Bun.nanoseconds();
    control.addWaiter();
    try {
      for (;;) {
        const seq = control.notifySeq;
        if (target.probe()) return true;
        const now = Bun.nanoseconds();
        const remainingMs = (deadline - now) / 1e6;
        if (remainingMs <= 0) return false;
        if (now - lastBeat > HEARTBEAT_INTERVAL_MS * 1e6) {
          target.heartbeat();
          lastBeat = now;
        }
        futexWait(control.notifyAddress, seq, Math.min(remainingMs, SLEEP_SLICE_MS));
      }
    } finally {
      control.removeWaiter();
    }
  }

  /**
   * Spins on the calling thread for up to `spinNs` (default: the reader's `spinMicros`, any
   * strategy) first: a record that lands within microseconds, like a ping-pong reply, then costs
   * no hand-off to the helper thread and back (~40 µs). The event loop is held no longer than that.
   */
  waitAsync(timeoutMs: number, signal: AbortSignal | undefined, spinNs = this.spinNs): Promise<boolean> {
    if (spinNs > 0 && this.helper?.idle !== false && signal?.aborted !== true) {
      const end = Bun.nanoseconds() + Math.min(spinNs, Math.max(0, timeoutMs) * 1e6);
      if (spinUntil(end, this.probe)) return Promise.resolve(true);
    }
    this.helper ??= new AsyncHelper(this.target);
    return this.helper.wait(timeoutMs, signal);
  }

  /** Stops the helper thread; it no longer touches the reader's mappings when this returns. */
  close(): void {
    this.helper?.close();
    this.helper = null;
  }
}

/** Main-thread side of the helper thread that sleeps on the futex for waitAsync. */
class AsyncHelper {
  private readonly target: WaitTarget;
  private readonly slots = new Int32Array(new SharedArrayBuffer(AsyncSlot.SIZE * 4));
  private readonly worker: Worker;
  private generation = 0;
  private pending: {
    generation: number;
    /** performance.now() by which the wait ends (Infinity for none). */
    deadline: number;
    resolve: (ready: boolean) => void;
    reject: (e: unknown) => void;
    heartbeat: ReturnType<typeof setInterval>;
    /** Resolves when the helper has reported on this wait. */
    done: Promise<void>;
    finish: () => void;
    cancelled: boolean;
    signal?: AbortSignal;
    onAbort?: () => void;
  } | null = null;

  constructor(target: WaitTarget) {
    this.target = target;
    this.worker = new Worker(new URL("./wait.worker.ts", import.meta.url));
    this.worker.unref();
    const control = target.control;
    const init: AsyncWaitInit = {
      shared: this.slots.buffer as SharedArrayBuffer,
      notifyAddress: control.notifyAddress,
      waitersAddress: control.waitersAddress,
      windowAddress: target.windowAddress,
      windowSize: target.windowSize,
      sleepSliceMs: SLEEP_SLICE_MS,
    };
    this.worker.postMessage(init);
    this.worker.onmessage = (e: MessageEvent<[number, number]>) => this.settle(e.data[0], e.data[1]);
  }

  /** True when no wait is pending on the helper. */
  get idle(): boolean {
    return this.pending === null;
  }

  wait(timeoutMs: number, signal: AbortSignal | undefined): Promise<boolean> {
    const previous = this.pending;
    if (previous !== null) {
      // A cancelled wait ends as soon as the helper reports; queue behind it.
      if (previous.cancelled) return previous.done.then(() => this.wait(timeoutMs, signal));
      return Promise.reject(new ChronicleError("WAIT_PENDING", "", "a waitAsync is already pending on this reader"));
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    const generation = ++this.generation;
    const deadline = timeoutMs === Infinity ? Infinity : performance.now() + Math.max(0, timeoutMs);
    return new Promise<boolean>((resolve, reject) => {
      const heartbeat = setInterval(() => this.target.heartbeat(), HEARTBEAT_INTERVAL_MS);
      heartbeat.unref();
      let finish = (): void => {};
      const done = new Promise<void>((r) => (finish = r));
      this.pending = { generation, deadline, resolve, reject, signal, heartbeat, done, finish, cancelled: false };
      if (signal) {
        const onAbort = (): void => this.cancel();
        this.pending.onAbort = onAbort;
        signal.addEventListener("abort", onAbort, { once: true });
      }
      this.start(generation, timeoutMs);
      this.worker.ref();
    });
  }

  /** Hands a wait on the reader's current position to the helper thread. */
  private start(generation: number, timeoutMs: number): void {
    const slots = this.slots;
    Atomics.store(slots, AsyncSlot.CANCEL, 0);
    Atomics.store(slots, AsyncSlot.OFFSET, this.target.watchOffset());
    Atomics.store(slots, AsyncSlot.TIMEOUT_MS, timeoutMs === Infinity ? -1 : Math.max(0, Math.ceil(timeoutMs)));
    Atomics.store(slots, AsyncSlot.STATE, 1);
    Atomics.store(slots, AsyncSlot.CMD, generation);
    Atomics.notify(slots, AsyncSlot.CMD);
  }

  /** Interrupts the current wait: the helper wakes on its CANCEL word and reports CANCELLED. */
  private cancel(): void {
    if (this.pending !== null) this.pending.cancelled = true;
    Atomics.store(this.slots, AsyncSlot.CANCEL, 1);
    futexWake(ptr(this.slots) + AsyncSlot.CANCEL * 4);
  }

  private settle(generation: number, result: number): void {
    const p = this.pending;
    if (p === null || p.generation !== generation) return;
    if (result === AsyncResult.READY) {
      // The helper also reports a sealed segment, possibly before the record in the next one is
      // committed. Only this thread may move the reader there: check, and keep waiting if needed.
      let ready: boolean;
      try {
        ready = this.target.probe();
      } catch (e) {
        this.pending = null;
        this.worker.unref();
        release(p);
        p.reject(e);
        return;
      }
      if (!ready) {
        const remainingMs = p.deadline - performance.now();
        if (p.cancelled) result = AsyncResult.CANCELLED;
        else if (remainingMs > 0) {
          p.generation = ++this.generation;
          this.start(p.generation, remainingMs);
          return;
        } else result = AsyncResult.TIMEOUT;
      }
    }
    this.pending = null;
    this.worker.unref();
    release(p);
    if (result === AsyncResult.CANCELLED && p.signal?.aborted) p.reject(p.signal.reason);
    else p.resolve(result === AsyncResult.READY);
  }

  close(): void {
    const slots = this.slots;
    if (Atomics.load(slots, AsyncSlot.STATE) === 1) {
      this.cancel();
      // The helper reads the reader's mappings while waiting; they are unmapped after we return.
      Atomics.wait(slots, AsyncSlot.STATE, 1, 5000);
    }
    Atomics.store(slots, AsyncSlot.CMD, -1);
    Atomics.notify(slots, AsyncSlot.CMD);
    this.worker.terminate();
    const p = this.pending;
    this.pending = null;
    if (p !== null) {
      release(p);
      p.resolve(false);
    }
  }
}

function release(p: { heartbeat: ReturnType<typeof setInterval>; finish: () => void; signal?: AbortSignal; onAbort?: () => void }): void {
  clearInterval(p.heartbeat);
  p.finish();
  if (p.onAbort) p.signal!.removeEventListener("abort", p.onAbort);
}
