/**
 * Helper thread of AsyncWaiter: for each request, registers as a sleeper on every watched queue
 * (format v2), sleeps until one watched word differs from the value the main thread read, the
 * slice ends or the sleep is interrupted, deregisters, and posts the request's generation. It
 * touches the watched words only while STATE is 1.
 */
import { ptr, toArrayBuffer } from "bun:ffi";
import { FutexSet } from "../ffi/index.ts";
import { AsyncSlot, MAX_ASYNC_QUEUES, type AsyncWaitInit } from "./asyncWait.ts";
import { loadFence } from "./layout/index.ts";

declare const self: Worker;

/** A one-word view of process memory at `address`, cached: the same words are watched again and again. */
const words = new Map<number, Int32Array>();
/** Sources come and go (a router's strategies): forget old addresses past this many. */
const MAX_CACHED_WORDS = 4096;
function word(address: number): Int32Array {
  let view = words.get(address);
  if (view === undefined) {
    if (words.size >= MAX_CACHED_WORDS) words.clear();
    view = new Int32Array(toArrayBuffer(address, 0, 4));
    words.set(address, view);
  }
  return view;
}

self.onmessage = (event: MessageEvent<AsyncWaitInit>) => {
  const slots = new Int32Array(event.data.slots);
  const addresses = new Float64Array(event.data.addresses);
  // Entry 0 is our own CANCEL word, so a cancellation wakes only this thread.
  const futexes = new FutexSet(MAX_ASYNC_QUEUES + 1);
  futexes.set(0, ptr(slots) + AsyncSlot.CANCEL * 4, 0);
  let generation = 0;
  for (;;) {
    Atomics.wait(slots, AsyncSlot.CMD, generation);
    const cmd = Atomics.load(slots, AsyncSlot.CMD);
    if (cmd < 0) return;
    generation = cmd;
    const count = Atomics.load(slots, AsyncSlot.COUNT);
    const sliceMs = Atomics.load(slots, AsyncSlot.SLICE_MS);
    for (let i = 0; i < count; i++) futexes.set(i + 1, addresses[2 * i]!, slots[AsyncSlot.EXPECTED + i]!);
    futexes.truncate(count + 1);
    const waiters: Int32Array[] = [];
    for (let i = 0; i < count; i++) if (addresses[2 * i + 1] !== 0) waiters.push(word(addresses[2 * i + 1]!));
    // Register before the last check: a writer that commits after it sees us and wakes us.
    for (const w of waiters) Atomics.add(w, 0, 1);
    try {
      let moved = false;
      // Plain loads (the words may be mapped read-only), ordered after the registration above.
      loadFence();
      for (let i = 0; i < count && !moved; i++) moved = word(addresses[2 * i]!)[0] !== slots[AsyncSlot.EXPECTED + i];
      // Whatever ends the sleep (a word moved, the slice ended, CANCEL), the main thread decides.
      if (!moved) futexes.wait(sliceMs);
    } finally {
      for (const w of waiters) Atomics.sub(w, 0, 1);
    }
    Atomics.store(slots, AsyncSlot.STATE, 0);
    Atomics.notify(slots, AsyncSlot.STATE);
    postMessage(generation);
  }
};
