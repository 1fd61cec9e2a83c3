/**
 * File descriptors as futex wake sources. One syscall cannot sleep on futex words and on fds at
 * once, so a helper thread bridges them: it poll()s the fds and, when one is readable, bumps a
 * private futex word that the waits put in their FUTEX_WAITV set, and wakes it. An eventfd in
 * the poll set interrupts the thread. The helper knows nothing about what the fds are.
 *
 * Readiness is level-triggered: an fd stays readable until its owner reads it, so after each
 * report the thread waits to be armed again, which the waiter does after its check consumed the
 * fds. No event is lost between that check and the sleep: the waiter reads the word *before* it
 * checks, and a thread armed after the check reports at once an fd that became readable
 * meanwhile, so the word has moved by the time the waiter sleeps on it.
 *
 * Threads are kept: a released watch parks its thread for the next one (a few at most), so
 * waiters that come and go neither pay a thread start each nor leave threads winding down.
 */
import { ptr } from "bun:ffi";
import { InvalidArgument } from "../errors.ts";
import { closeFd, eventFd, eventFdRead, eventFdWrite } from "../ffi/index.ts";

/** Indices into the Int32Array shared with the helper thread. */
export const FdSlot = {
  /** The futex word: +1 at every report. */
  SEQ: 0,
  /** Arm generation; the owner increments it to have the thread poll (again). */
  ARM: 1,
  /** 1 from arming until the thread has reported or been interrupted: it may be inside poll(). */
  STATE: 2,
  /** Set to 1 (then the eventfd written) to end a poll without a report. */
  INTERRUPT: 3,
  /** Set to 1 (then the eventfd written, ARM bumped) to make the thread exit. */
  STOP: 4,
  /** How many fds to poll, then the fds. */
  COUNT: 5,
  FDS: 6,
} as const;

/** Most fds one watch polls. */
export const MAX_WATCHED_FDS = 16;
/** Parked threads kept for later watches. */
const MAX_IDLE = 4;
/** How long the owner waits for the thread to leave poll() (it is woken at once; a safety bound). */
const LEAVE_POLL_MS = 5000;

/** What the helper thread gets once: the shared slots and the eventfd that interrupts it. */
export interface FdWatchInit {
  slots: SharedArrayBuffer;
  interruptFd: number;
}

const idle: FdWatch[] = [];

export class FdWatch {
  /** Address of the futex word that moves when a watched fd is readable. */
  readonly address: number;
  private readonly slots = new Int32Array(new SharedArrayBuffer((FdSlot.FDS + MAX_WATCHED_FDS) * 4));
  private readonly interruptFd: number;
  private readonly worker: Worker;
  private watching = false;

  private constructor() {
    this.address = ptr(this.slots) + FdSlot.SEQ * 4;
    this.interruptFd = eventFd();
    this.worker = new Worker(new URL("./fdWatch.worker.ts", import.meta.url));
    // A watch never keeps the process alive (a pending async wait refs its own helper).
    this.worker.unref();
    const init: FdWatchInit = { slots: this.slots.buffer as SharedArrayBuffer, interruptFd: this.interruptFd };
    this.worker.postMessage(init);
  }

  /** A watch on `fds`, on a parked thread when there is one. Nothing is polled before {@link arm}. */
  static acquire(fds: readonly number[]): FdWatch {
    if (fds.length > MAX_WATCHED_FDS) throw new InvalidArgument("", `a wait watches at most ${MAX_WATCHED_FDS} file descriptors, got ${fds.length}`);
    const watch = idle.pop() ?? new FdWatch();
    // The thread is not polling: it reads the set at the next arm.
    watch.slots[FdSlot.COUNT] = fds.length;
    fds.forEach((fd, i) => (watch.slots[FdSlot.FDS + i] = fd));
    watch.watching = true;
    return watch;
  }

  /** The word's value; read it before checking the fds. */
  get seq(): number {
    return Atomics.load(this.slots, FdSlot.SEQ);
  }

  /**
   * Has the thread poll the fds unless it is polling already. Call after the fds were consumed:
   * an fd still readable is reported at once.
   */
  arm(): void {
    const slots = this.slots;
    if (!this.watching || Atomics.load(slots, FdSlot.STATE) === 1) return;
    Atomics.store(slots, FdSlot.STATE, 1);
    Atomics.add(slots, FdSlot.ARM, 1);
    Atomics.notify(slots, FdSlot.ARM);
  }

  /**
   * Stops watching: on return the thread no longer polls the fds, so their owner may close them.
   * The thread is parked for a later watch (or ends, when enough are parked). Idempotent.
   */
  release(): void {
    if (!this.watching) return;
    this.watching = false;
    const slots = this.slots;
    if (Atomics.load(slots, FdSlot.STATE) === 1) {
      Atomics.store(slots, FdSlot.INTERRUPT, 1);
      eventFdWrite(this.interruptFd);
      Atomics.wait(slots, FdSlot.STATE, 1, LEAVE_POLL_MS);
      // The thread is idle now: clear the interruption for the next watch.
      eventFdRead(this.interruptFd);
      Atomics.store(slots, FdSlot.INTERRUPT, 0);
    }
    if (idle.length < MAX_IDLE) {
      idle.push(this);
      return;
    }
    Atomics.store(slots, FdSlot.STOP, 1);
    Atomics.add(slots, FdSlot.ARM, 1);
    Atomics.notify(slots, FdSlot.ARM);
    this.worker.terminate();
    closeFd(this.interruptFd);
  }
}
