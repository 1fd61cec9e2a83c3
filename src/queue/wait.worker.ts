/**
 * Helper thread for QueueReader.waitAsync: sleeps on the queue's futex (a blocking call that
 * would freeze the event loop on the main thread) and posts [generation, result] when a record
 * is ready, the wait times out or it is cancelled. It touches the reader's mappings only while
 * STATE is 1.
 */
import { ptr, toArrayBuffer } from "bun:ffi";
import { FutexSet } from "../ffi/index.ts";
import { AsyncResult, AsyncSlot, type AsyncWaitInit } from "./wait.ts";
import { SEG_FLAGS_W, SEALED_FLAG } from "./layout/index.ts";

declare const self: Worker;

self.onmessage = (event: MessageEvent<AsyncWaitInit>) => {
  const init = event.data;
  const slots = new Int32Array(init.shared);
  const notify = new Int32Array(toArrayBuffer(init.notifyAddress, 0, 4));
  const waiters = init.waitersAddress !== 0 ? new Int32Array(toArrayBuffer(init.waitersAddress, 0, 4)) : null;
  const segment = new Int32Array(toArrayBuffer(init.windowAddress, 0, init.windowSize));
  // Sleep on the queue's futex word and on our own CANCEL word at once, so a cancellation wakes
  // only this thread and not every reader of the queue.
  const futexes = new FutexSet(2);
  futexes.set(0, init.notifyAddress, 0);
  futexes.set(1, ptr(slots) + AsyncSlot.CANCEL * 4, 0);
  let generation = 0;
  for (;;) {
    Atomics.wait(slots, AsyncSlot.CMD, generation);
    const cmd = Atomics.load(slots, AsyncSlot.CMD);
    if (cmd < 0) return;
    generation = cmd;
    let result: number = AsyncResult.TIMEOUT;
    const offset = Atomics.load(slots, AsyncSlot.OFFSET);
    const timeoutMs = Atomics.load(slots, AsyncSlot.TIMEOUT_MS);
    const deadline = timeoutMs < 0 ? Infinity : performance.now() + timeoutMs;
    if (waiters !== null) Atomics.add(waiters, 0, 1);
    try {
      for (;;) {
        if (Atomics.load(slots, AsyncSlot.CANCEL) !== 0) {
          result = AsyncResult.CANCELLED;
          break;
        }
        const seq = Atomics.load(notify, 0);
        const committed = offset >= 0 && Atomics.load(segment, offset >> 2) !== 0;
        if (committed || (Atomics.load(segment, SEG_FLAGS_W) & SEALED_FLAG) !== 0) {
          result = AsyncResult.READY;
          break;
        }
        const remaining = deadline - performance.now();
        if (remaining <= 0) break;
        futexes.expect(0, seq);
        futexes.wait(Math.min(remaining, init.sleepSliceMs));
      }
    } finally {
      if (waiters !== null) Atomics.sub(waiters, 0, 1);
    }
    Atomics.store(slots, AsyncSlot.STATE, 0);
    Atomics.notify(slots, AsyncSlot.STATE);
    postMessage([generation, result]);
  }
};
