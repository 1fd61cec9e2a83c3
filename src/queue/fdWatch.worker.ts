/**
 * Helper thread of FdWatch: each time it is armed, poll()s the watched fds (and its interrupt
 * eventfd) until one is readable, then clears STATE, bumps the SEQ futex word and wakes whoever
 * sleeps on it. An interruption (INTERRUPT set, the eventfd written) ends a poll without a
 * report; STOP makes the thread exit.
 */
import { ptr } from "bun:ffi";
import { futexWake, PollSet } from "../ffi/index.ts";
import { FdSlot, type FdWatchInit } from "./fdWatch.ts";

declare const self: Worker;

self.onmessage = (event: MessageEvent<FdWatchInit>) => {
  const slots = new Int32Array(event.data.slots);
  const interruptFd = event.data.interruptFd;
  const seqAddress = ptr(slots) + FdSlot.SEQ * 4;
  let fds: number[] = [];
  let set = new PollSet([interruptFd]);
  let armed = 0;
  for (;;) {
    Atomics.wait(slots, FdSlot.ARM, armed);
    armed = Atomics.load(slots, FdSlot.ARM);
    if (Atomics.load(slots, FdSlot.STOP) !== 0) return;
    const count = slots[FdSlot.COUNT]!;
    if (count !== fds.length || fds.some((fd, i) => fd !== slots[FdSlot.FDS + i])) {
      fds = Array.from({ length: count }, (_, i) => slots[FdSlot.FDS + i]!);
      set = new PollSet([...fds, interruptFd]);
    }
    // -1: a signal interrupted the poll; poll again.
    while (set.poll(Infinity) < 0);
    const interrupted = Atomics.load(slots, FdSlot.INTERRUPT) !== 0;
    // STATE first: an owner that still sees 1 when it arms skips arming, and then the SEQ bump
    // below is still to come, so its sleep ends at once and it arms again.
    Atomics.store(slots, FdSlot.STATE, 0);
    Atomics.notify(slots, FdSlot.STATE);
    if (interrupted) continue;
    Atomics.add(slots, FdSlot.SEQ, 1);
    futexWake(seqAddress);
  }
};
