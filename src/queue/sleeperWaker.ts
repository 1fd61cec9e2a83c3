/**
 * The writer's wake-up policy: after every commit and roll, bump notify_seq and wake the readers
 * asleep on it. v1 always wakes (Rust v1 readers do not register as sleepers); v2 only when a
 * reader registered in waiters_pending, and not for registrations judged stale.
 *
 * A reader killed while asleep never deregisters, and its registration would make the writer
 * pay a futex syscall on every append for good. A live sleeper is in the kernel's queue all but
 * microseconds of each sleep slice, so FUTEX_WAKE finds it; when every wake-up for longer than a
 * few slices found nobody, the registrations present are dead ones, and later wake-ups are issued
 * only for registrations above that count. Judging a live sleeper stale by mistake costs it one
 * slice of latency: it re-checks at every slice boundary. The judgement is this writer's own: a
 * new writer trusts waiters_pending again.
 */
import { futexWake } from "../ffi/index.ts";
import type { ControlBlock } from "./control.ts";
import { CTL_NOTIFY_SEQ_W, CTL_WAITERS_PENDING_W, SLEEP_SLICE_MS } from "./layout/index.ts";

/** Wake-ups that find nobody for this long (several sleep slices) mark the registrations stale. */
const STALE_WAITER_NS = 3 * SLEEP_SLICE_MS * 1e6;

export class SleeperWaker {
  private readonly u32: Uint32Array;
  private readonly notifyAddress: number;
  private readonly alwaysWake: boolean;
  /** Registrations judged stale, and since when wake-ups have found nobody (-1: they have not). */
  private staleWaiters = 0;
  private idleWakesSince = -1;

  constructor(control: ControlBlock) {
    this.u32 = control.map.u32;
    this.notifyAddress = control.notifyAddress;
    this.alwaysWake = control.version === 1;
  }

  /** Bumps notify_seq and wakes the sleepers that need it. */
  notify(): void {
    const u32 = this.u32;
    Atomics.add(u32, CTL_NOTIFY_SEQ_W, 1);
    if (this.alwaysWake) {
      futexWake(this.notifyAddress);
      return;
    }
    const pending = Atomics.load(u32, CTL_WAITERS_PENDING_W);
    if (pending <= this.staleWaiters) {
      this.staleWaiters = pending;
      return;
    }
    if (futexWake(this.notifyAddress) > 0) {
      this.idleWakesSince = -1;
      return;
    }
    const now = Bun.nanoseconds();
    if (this.idleWakesSince < 0) this.idleWakesSince = now;
    else if (now - this.idleWakesSince > STALE_WAITER_NS) {
      this.staleWaiters = pending;
      this.idleWakesSince = -1;
    }
  }
}
