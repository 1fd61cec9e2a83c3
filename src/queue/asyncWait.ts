/**
 * The sleeping half of the asynchronous wait: a helper thread sleeps on the futex words (a
 * blocking call that would freeze the event loop on the main thread) and posts to the event loop
 * when one of them moves, when its sleep slice ends or when it is interrupted. The helper knows
 * nothing about queues: the wait loop (Waiter, wait.ts) reads the words' values, checks for
 * records and decides whether to sleep again. One helper watches many words at once (a fan-in's
 * queues, a router's discovery word), with FUTEX_WAITV.
 *
 * Lost wake-ups: the loop has every expected value read (expect()) *before* it checks for a
 * record, and the helper sleeps only while each word still holds the value read. A record
 * committed after the check has bumped its queue's word by then, so the helper returns at once.
 *
 * Helpers are kept: a released one parks its thread for the next waiter (a few at most), so
 * readers that come and go neither pay a thread start each nor leave threads winding down.
 */
import { ptr } from "bun:ffi";
import { InvalidArgument } from "../errors.ts";
import { futexWake, FUTEX_WAITV_MAX } from "../ffi/index.ts";
import type { ControlBlock } from "./control.ts";

/** Indices into the Int32Array shared with the helper thread. */
export const AsyncSlot = {
  /** Request generation; the main thread increments it to start a sleep, -1 asks the thread to exit. */
  CMD: 0,
  /** 1 while the thread may touch the watched words. */
  STATE: 1,
  /** Set to 1 to interrupt the current sleep. */
  CANCEL: 2,
  /** Length of this sleep in ms. */
  SLICE_MS: 3,
  /** How many words to watch. */
  COUNT: 4,
  /** The value read for each word (COUNT of them). */
  EXPECTED: 5,
} as const;

/** Words one helper can watch: FUTEX_WAITV's limit, less the helper's own cancel word. */
export const MAX_ASYNC_QUEUES = FUTEX_WAITV_MAX - 1;

/** Longest sleep the helper takes in one go (its slice is an i32 of ms). */
const MAX_SLICE_MS = 0x7fffffff;
/** Parked helpers kept for later waiters. */
const MAX_IDLE = 4;

/** What the helper thread gets once: the shared slots and, per word, its addresses. */
export interface AsyncWaitInit {
  slots: SharedArrayBuffer;
  /** [word address, waiters_pending address or 0 (v1, or not a queue)] per word. */
  addresses: SharedArrayBuffer;
}

/** A futex word that is not a queue's notify_seq (e.g. an FdWatch's): where it is and what it holds now. */
export interface WakeWord {
  readonly address: number;
  readonly seq: number;
}

const idle: AsyncWaiter[] = [];

/** Main-thread side of the helper thread. One sleep at a time; one owner from acquire() to release(). */
export class AsyncWaiter {
  private readonly slots = new Int32Array(new SharedArrayBuffer((AsyncSlot.EXPECTED + MAX_ASYNC_QUEUES) * 4));
  private readonly addresses = new Float64Array(new SharedArrayBuffer(MAX_ASYNC_QUEUES * 2 * 8));
  private readonly worker: Worker;
  private generation = 0;
  private count = 0;
  /** The sleep in progress: its generation and how to end it. */
  private sleeping: { generation: number; resolve: () => void } | null = null;
  /** Control blocks whose close() stops the helper first (they may be closed under a sleep), with their listeners. */
  private readonly hooked = new Map<ControlBlock, () => void>();

  /** A helper, on a parked thread when there is one. */
  static acquire(): AsyncWaiter {
    return idle.pop() ?? new AsyncWaiter();
  }

  private constructor() {
    this.worker = new Worker(new URL("./asyncWait.worker.ts", import.meta.url));
    this.worker.unref();
    const init: AsyncWaitInit = { slots: this.slots.buffer as SharedArrayBuffer, addresses: this.addresses.buffer as SharedArrayBuffer };
    this.worker.postMessage(init);
    this.worker.onmessage = (e: MessageEvent<number>) => this.settle(e.data);
  }

  /** Keeps the process alive while a wait is pending (ref) or not (unref). */
  hold(pending: boolean): void {
    if (pending) this.worker.ref();
    else this.worker.unref();
  }

  /**
   * Reads the notify_seq of every block in `controls` (all open) and the value of `extra`, as
   * what the next sleep expects. Call before checking for records.
   */
  expect(controls: readonly ControlBlock[], extra: WakeWord | null): void {
    const words = controls.length + (extra !== null ? 1 : 0);
    if (words > MAX_ASYNC_QUEUES) throw new InvalidArgument("", `an async wait watches at most ${MAX_ASYNC_QUEUES} words, got ${words}`);
    const slots = this.slots;
    const addresses = this.addresses;
    for (let i = 0; i < controls.length; i++) {
      const control = controls[i]!;
      if (!this.hooked.has(control)) {
        const listener = (): void => {
          this.hooked.delete(control);
          this.refresh();
        };
        control.onClose(listener);
        this.hooked.set(control, listener);
      }
      slots[AsyncSlot.EXPECTED + i] = control.notifySeq;
      addresses[2 * i] = control.notifyAddress;
      addresses[2 * i + 1] = control.waitersAddress;
    }
    let n = controls.length;
    if (extra !== null) {
      slots[AsyncSlot.EXPECTED + n] = extra.seq;
      addresses[2 * n] = extra.address;
      addresses[2 * n + 1] = 0;
      n++;
    }
    this.count = n;
  }

  /**
   * Sleeps in the helper thread on the expected words (and its CANCEL word) until one moves,
   * `sliceMs` passes, or the sleep is interrupted (cancel, refresh, release). Resolves then,
   * whatever the reason: the caller checks again.
   */
  sleep(sliceMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const slots = this.slots;
      const generation = ++this.generation;
      this.sleeping = { generation, resolve };
      Atomics.store(slots, AsyncSlot.CANCEL, 0);
      Atomics.store(slots, AsyncSlot.COUNT, this.count);
      Atomics.store(slots, AsyncSlot.SLICE_MS, Math.max(1, Math.ceil(Math.min(sliceMs, MAX_SLICE_MS))));
      Atomics.store(slots, AsyncSlot.STATE, 1);
      Atomics.store(slots, AsyncSlot.CMD, generation);
      Atomics.notify(slots, AsyncSlot.CMD);
    });
  }

  /** Ends the current sleep soon (an abort): wakes only the helper's CANCEL word, not the queue's other sleepers. */
  cancel(): void {
    if (this.sleeping === null) return;
    Atomics.store(this.slots, AsyncSlot.CANCEL, 1);
    futexWake(ptr(this.slots) + AsyncSlot.CANCEL * 4);
  }

  /**
   * Call after the watched words changed (a source added or removed): ends the current sleep,
   * and on return the helper no longer touches the previous words, so their mappings may go.
   */
  refresh(): void {
    if (Atomics.load(this.slots, AsyncSlot.STATE) !== 1) return;
    this.interrupt();
  }

  /**
   * Ends the current sleep (it resolves) and gives the helper up: it no longer touches any word
   * on return, and its thread is parked for a later waiter (or ends, when enough are parked).
   * The caller must not use this object afterwards.
   */
  release(): void {
    for (const [control, listener] of this.hooked) control.offClose(listener);
    this.hooked.clear();
    if (Atomics.load(this.slots, AsyncSlot.STATE) === 1) this.interrupt();
    const s = this.sleeping;
    this.sleeping = null;
    this.worker.unref();
    s?.resolve();
    if (idle.length < MAX_IDLE) {
      idle.push(this);
      return;
    }
    Atomics.store(this.slots, AsyncSlot.CMD, -1);
    Atomics.notify(this.slots, AsyncSlot.CMD);
    this.worker.terminate();
  }

  /** Wakes the helper and waits (briefly, synchronously) until it has let go of the words. */
  private interrupt(): void {
    Atomics.store(this.slots, AsyncSlot.CANCEL, 1);
    futexWake(ptr(this.slots) + AsyncSlot.CANCEL * 4);
    Atomics.wait(this.slots, AsyncSlot.STATE, 1, 5000);
  }

  /** The helper reported the end of sleep `generation`. */
  private settle(generation: number): void {
    const s = this.sleeping;
    if (s === null || s.generation !== generation) return;
    this.sleeping = null;
    s.resolve();
  }
}
