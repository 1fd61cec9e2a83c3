/**
 * The asynchronous wait: a helper thread sleeps on the futex words (a blocking call that would
 * freeze the event loop on the main thread) and posts to the event loop when one of them moves,
 * when its sleep slice ends or when it is cancelled. The helper knows nothing about queues: the
 * main thread reads the notify_seq values, checks for records and decides whether to sleep
 * again. One helper can watch many queues at once (a fan-in), with FUTEX_WAITV.
 *
 * Lost wake-ups: the main thread reads every notify_seq *before* it checks for a record, and the
 * helper sleeps only while each word still holds the value read. A record committed after the
 * check has bumped its queue's word by then, so the helper returns at once.
 */
import { ptr } from "bun:ffi";
import { futexWake, FUTEX_WAITV_MAX } from "../ffi/index.ts";
import { WaitPending } from "../errors.ts";
import type { ControlBlock } from "./control.ts";
import { SLEEPER_HEARTBEAT_MS, SLEEP_SLICE_MS } from "./layout/index.ts";

/** Indices into the Int32Array shared with the helper thread. */
export const AsyncSlot = {
  /** Request generation; the main thread increments it to start a wait, -1 asks the thread to exit. */
  CMD: 0,
  /** 1 while the thread may touch the watched words. */
  STATE: 1,
  /** Set to 1 to interrupt the current wait. */
  CANCEL: 2,
  /** Length of this sleep in ms. */
  SLICE_MS: 3,
  /** How many queues to watch. */
  COUNT: 4,
  /** The notify_seq value read for each queue (COUNT of them). */
  EXPECTED: 5,
} as const;

/** Queues one helper can watch: FUTEX_WAITV's limit, less the helper's own cancel word. */
export const MAX_ASYNC_QUEUES = FUTEX_WAITV_MAX - 1;

/** What the helper thread gets once: the shared slots and, per queue, the addresses of its words. */
export interface AsyncWaitInit {
  slots: SharedArrayBuffer;
  /** [notify_seq address, waiters_pending address or 0 (v1)] per queue. */
  addresses: SharedArrayBuffer;
}

/** What an asynchronous wait watches and how it checks. */
export interface AsyncWaitTarget {
  /** The control blocks whose notify_seq to watch now (closing one under a wait is safe: see `hooked`). */
  controls(): readonly ControlBlock[];
  /** True when a record is ready. */
  probe(): boolean;
  /** Refreshes the waiting readers' heartbeats. */
  heartbeat(): void;
}

interface Pending {
  generation: number;
  /** performance.now() by which the wait ends (Infinity for none). */
  deadline: number;
  resolve: (ready: boolean) => void;
  reject: (e: unknown) => void;
  heartbeat: ReturnType<typeof setInterval>;
  /** Resolves when the wait has ended. */
  done: Promise<void>;
  finish: () => void;
  /** Cancelled by the caller (abort) or by close(), as opposed to refresh(). */
  cancelled: boolean;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/** Main-thread side of the helper thread. */
export class AsyncWaiter {
  private readonly target: AsyncWaitTarget;
  private readonly slots = new Int32Array(new SharedArrayBuffer((AsyncSlot.EXPECTED + MAX_ASYNC_QUEUES) * 4));
  private readonly addresses = new Float64Array(new SharedArrayBuffer(MAX_ASYNC_QUEUES * 2 * 8));
  private readonly worker: Worker;
  private generation = 0;
  private pending: Pending | null = null;
  /** Control blocks whose close() stops the helper first (they may be closed under a pending wait), with their listeners. */
  private readonly hooked = new Map<ControlBlock, () => void>();

  constructor(target: AsyncWaitTarget) {
    this.target = target;
    this.worker = new Worker(new URL("./asyncWait.worker.ts", import.meta.url));
    this.worker.unref();
    const init: AsyncWaitInit = { slots: this.slots.buffer as SharedArrayBuffer, addresses: this.addresses.buffer as SharedArrayBuffer };
    this.worker.postMessage(init);
    this.worker.onmessage = (e: MessageEvent<number>) => this.settle(e.data);
  }

  /** True when no wait is pending. */
  get idle(): boolean {
    return this.pending === null;
  }

  /** Resolves true when the target has a record, false at the timeout; rejects when `signal` aborts. */
  wait(timeoutMs: number, signal: AbortSignal | undefined): Promise<boolean> {
    const previous = this.pending;
    if (previous !== null) {
      // A cancelled wait ends as soon as the helper reports; queue behind it.
      if (previous.cancelled) return previous.done.then(() => this.wait(timeoutMs, signal));
      return Promise.reject(new WaitPending("", "reader"));
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    const deadline = timeoutMs === Infinity ? Infinity : performance.now() + Math.max(0, timeoutMs);
    return new Promise<boolean>((resolve, reject) => {
      const heartbeat = setInterval(() => {
        try {
          this.target.heartbeat();
        } catch {
          // A reader closed under the wait: the next check reports it.
        }
      }, SLEEPER_HEARTBEAT_MS);
      heartbeat.unref();
      let finish = (): void => {};
      const done = new Promise<void>((r) => (finish = r));
      const p: Pending = { generation: -1, deadline, resolve, reject, signal, heartbeat, done, finish, cancelled: false };
      this.pending = p;
      if (signal) {
        p.onAbort = () => this.cancel();
        signal.addEventListener("abort", p.onAbort, { once: true });
      }
      this.worker.ref();
      this.arm(p);
    });
  }

  /**
   * Call after the target's control blocks changed: interrupts a pending wait, which then sleeps
   * again on the new set. On return the helper no longer touches the previous words, so their
   * mappings may be released.
   */
  refresh(): void {
    if (Atomics.load(this.slots, AsyncSlot.STATE) !== 1) return;
    this.interrupt();
  }

  /** Ends a pending wait (false) and stops the helper; it no longer touches any word on return. */
  close(): void {
    for (const [control, listener] of this.hooked) control.offClose(listener);
    this.hooked.clear();
    if (this.pending !== null) this.pending.cancelled = true;
    if (Atomics.load(this.slots, AsyncSlot.STATE) === 1) this.interrupt();
    Atomics.store(this.slots, AsyncSlot.CMD, -1);
    Atomics.notify(this.slots, AsyncSlot.CMD);
    this.worker.terminate();
    const p = this.pending;
    if (p !== null) this.end(p, () => p.resolve(false));
  }

  /**
   * Reads every notify_seq, then checks for a record; sleeps on the helper only when there is
   * none and time is left. The order matters: see the module comment.
   */
  private arm(p: Pending): void {
    // A closed block is skipped here; probe() then reports its reader closed.
    const controls = this.target.controls().filter((c) => c.isOpen);
    const slots = this.slots;
    for (let i = 0; i < controls.length; i++) {
      const control = controls[i];
      if (!this.hooked.has(control)) {
        const listener = (): void => {
          this.hooked.delete(control);
          this.refresh();
        };
        control.onClose(listener);
        this.hooked.set(control, listener);
      }
      slots[AsyncSlot.EXPECTED + i] = control.notifySeq;
      this.addresses[2 * i] = control.notifyAddress;
      this.addresses[2 * i + 1] = control.waitersAddress;
    }
    let ready: boolean;
    try {
      ready = this.target.probe();
    } catch (e) {
      this.end(p, () => p.reject(e));
      return;
    }
    const remainingMs = p.deadline - performance.now();
    if (ready || remainingMs <= 0) {
      this.end(p, () => p.resolve(ready));
      return;
    }
    p.generation = ++this.generation;
    Atomics.store(slots, AsyncSlot.CANCEL, 0);
    Atomics.store(slots, AsyncSlot.COUNT, controls.length);
    Atomics.store(slots, AsyncSlot.SLICE_MS, Math.max(1, Math.ceil(Math.min(remainingMs, SLEEP_SLICE_MS))));
    Atomics.store(slots, AsyncSlot.STATE, 1);
    Atomics.store(slots, AsyncSlot.CMD, p.generation);
    Atomics.notify(slots, AsyncSlot.CMD);
  }

  /** A caller's cancellation (abort): the helper wakes on its CANCEL word and reports. */
  private cancel(): void {
    if (this.pending === null) return;
    this.pending.cancelled = true;
    Atomics.store(this.slots, AsyncSlot.CANCEL, 1);
    futexWake(ptr(this.slots) + AsyncSlot.CANCEL * 4);
  }

  /** Wakes the helper and waits (briefly, synchronously) until it has let go of the words. */
  private interrupt(): void {
    Atomics.store(this.slots, AsyncSlot.CANCEL, 1);
    futexWake(ptr(this.slots) + AsyncSlot.CANCEL * 4);
    Atomics.wait(this.slots, AsyncSlot.STATE, 1, 5000);
  }

  /**
   * The helper reported: a word moved, its slice ended, or it was interrupted. A caller's
   * cancellation wins even over a report that crossed it; anything else (including a refresh)
   * means check and, if need be, sleep again.
   */
  private settle(generation: number): void {
    const p = this.pending;
    if (p === null || p.generation !== generation) return;
    if (p.cancelled) this.end(p, () => (p.signal?.aborted ? p.reject(p.signal.reason) : p.resolve(false)));
    else this.arm(p);
  }

  private end(p: Pending, outcome: () => void): void {
    if (this.pending === p) this.pending = null;
    this.worker.unref();
    clearInterval(p.heartbeat);
    if (p.onAbort) p.signal!.removeEventListener("abort", p.onAbort);
    outcome();
    p.finish();
  }
}
