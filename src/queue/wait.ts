/**
 * Waiting for the next record: a synchronous spin-then-futex wait, and the entry to the
 * asynchronous wait (asyncWait.ts), whose sleeping is done by a helper thread.
 *
 * Protocol (SPEC section 8): a sleeper reads notify_seq, checks for a record, and sleeps on the
 * futex only while notify_seq still has the value it read; the writer bumps notify_seq after
 * every commit and roll. In format v2 a sleeper first registers in waiters_pending and the writer
 * skips the wake-up syscall while nobody is registered (v1 writers always wake).
 */
import { futexWait } from "../ffi/index.ts";
import { InvalidArgument } from "../errors.ts";
import { AsyncWaiter } from "./asyncWait.ts";
import type { ControlBlock } from "./control.ts";
import { SLEEPER_HEARTBEAT_MS, SLEEP_SLICE_MS } from "./layout/index.ts";

export type WaitStrategy = "spin" | "hybrid";

export interface WaitOptions {
  /** "hybrid" (default): spin for `spinMicros`, then sleep on the futex. "spin": never sleep (100% CPU, lowest latency). */
  strategy?: WaitStrategy;
  /** How long a hybrid wait, and any waitAsync, spins before sleeping (default 15 µs; 0 for none). */
  spinMicros?: number;
}

const DEFAULT_SPIN_MICROS = 15;

/** What the waits need from their reader. */
export interface WaitTarget {
  readonly control: ControlBlock;
  /** True when a record is ready (may move the reader to the next segment). */
  probe(): boolean;
  /** Refreshes the reader's heartbeat. */
  heartbeat(): void;
}

/** A wait timeout in ms: a number (negative counts as 0) or Infinity for none; NaN and non-numbers are refused. */
export function checkTimeout(timeoutMs: unknown, path: string): number {
  if (typeof timeoutMs !== "number" || Number.isNaN(timeoutMs)) {
    throw new InvalidArgument(path, `timeoutMs must be a number of milliseconds (or Infinity), got ${String(timeoutMs)}`);
  }
  return Math.max(0, timeoutMs);
}

/** A spin window in µs (default 15), validated, as ns. */
export function spinNanos(spinMicros: number | undefined): number {
  const us = spinMicros ?? DEFAULT_SPIN_MICROS;
  if (typeof us !== "number" || !(us >= 0) || us === Infinity) {
    throw new InvalidArgument("", `spinMicros must be a finite number >= 0, got ${String(us)}`);
  }
  return us * 1000;
}

/** Spins until `ready()`, for at most `spinNs` and at most `timeoutMs` (checked); true when ready. */
export function spinWithin(spinNs: number, timeoutMs: number, ready: () => boolean): boolean {
  const end = Bun.nanoseconds() + Math.min(spinNs, timeoutMs * 1e6);
  while (Bun.nanoseconds() < end) if (ready()) return true;
  return false;
}

export class Waiter {
  private readonly target: WaitTarget;
  private readonly strategy: WaitStrategy;
  private readonly spinNs: number;
  private readonly probe: () => boolean;
  private helper: AsyncWaiter | null = null;

  constructor(target: WaitTarget, opts: WaitOptions = {}) {
    this.target = target;
    this.strategy = opts.strategy ?? "hybrid";
    if (this.strategy !== "spin" && this.strategy !== "hybrid") {
      throw new InvalidArgument("", `wait strategy must be "spin" or "hybrid", got ${String(this.strategy)}`);
    }
    this.spinNs = spinNanos(opts.spinMicros);
    this.probe = () => target.probe();
  }

  /** Blocks until a record is ready (true) or the (checked) timeout passes (false). */
  waitSync(timeoutMs: number): boolean {
    const target = this.target;
    const deadline = Bun.nanoseconds() + timeoutMs * 1e6;
    if (spinWithin(this.strategy === "spin" ? Infinity : this.spinNs, timeoutMs, this.probe)) return true;
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
        if (now - lastBeat > SLEEPER_HEARTBEAT_MS * 1e6) {
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
    if (spinNs > 0 && this.helper?.idle !== false && signal?.aborted !== true && spinWithin(spinNs, timeoutMs, this.probe)) {
      return Promise.resolve(true);
    }
    const target = this.target;
    const controls = [target.control];
    this.helper ??= new AsyncWaiter({ controls: () => controls, probe: this.probe, heartbeat: () => target.heartbeat() });
    return this.helper.wait(timeoutMs, signal);
  }

  /** Stops the helper thread; it no longer touches the reader's mappings when this returns. */
  close(): void {
    this.helper?.close();
    this.helper = null;
  }
}
