/**
 * Waiting: one loop for every waiter (a reader, a fan-in, a router), synchronous or
 * asynchronous. A wait spins for a short window, then sleeps on a set of wake sources until one
 * of them moves: the notify_seq word of each of N queues (a reader is N = 1, a fan-in N > 1, with
 * FUTEX_WAITV) and, optionally, file descriptors (a router's inotify fd), which a helper thread
 * (fdWatch.ts) turns into one more futex word. The asynchronous wait has its sleeping done by
 * another helper thread (asyncWait.ts) and keeps the event loop free.
 *
 * Protocol (docs/FORMAT.md, Protocols: Wait): a sleeper reads notify_seq, checks for a record, and sleeps on the
 * futex only while notify_seq still has the value it read; the writer bumps notify_seq after
 * every commit and roll. In format v2 a sleeper first registers in waiters_pending and the writer
 * skips the wake-up syscall while nobody is registered (v1 writers always wake). Every wake
 * source works the same way: its word is read before the check, the sleep is on that value.
 */
import { futexWait, FutexSet } from "../ffi/index.ts";
import { InvalidArgument, WaitPending } from "../errors.ts";
import { checkOptions, checkSignal, describe } from "./args.ts";
import { AsyncWaiter } from "./asyncWait.ts";
import type { ControlBlock } from "./control.ts";
import { FdWatch } from "./fdWatch.ts";
import { SLEEPER_HEARTBEAT_MS, SLEEP_SLICE_MS, UNREGISTERED_POLL_MS } from "./layout/index.ts";

/** "hybrid": spin, then sleep on the futex; "spin": never sleep. */
export type WaitStrategy = "spin" | "hybrid";

/** How a reader waits for records. */
export interface WaitOptions {
  /** "hybrid" (default): spin for `spinMicros`, then sleep on the futex. "spin": never sleep (100% CPU, lowest latency). */
  strategy?: WaitStrategy | undefined;
  /** How long a hybrid wait, and any waitAsync, spins before sleeping (default 15 µs; 0 for none). */
  spinMicros?: number | undefined;
}

const DEFAULT_SPIN_MICROS = 15;

/**
 * Internal accessor (the symbol is not exported by src/index.ts): a reader's control block, for
 * the waits that sleep on it from outside the reader (fan-in, router).
 */
export const CONTROL_BLOCK: unique symbol = Symbol("chronicle.controlBlock");

/** Internal accessor: the wait target of a fan-in, which a router extends with its discovery. */
export const WAIT_TARGET: unique symbol = Symbol("chronicle.waitTarget");

/** What a wait sleeps on and how it checks. */
export interface WaitTarget {
  /** What waits, for errors: "reader", "fan-in", "router", "discovery". */
  readonly what: string;
  /** The path errors name ("" when none applies). */
  readonly path: string;
  /**
   * The queues whose notify_seq ends a sleep. The same array object until the set changes; a
   * change under a pending async wait must be followed by {@link Waiter.refresh}.
   */
  controls(): readonly ControlBlock[];
  /** True when the wait is over (a record is ready, ...). Runs before every sleep; must consume the fds' readiness. */
  probe(): boolean;
  /** What the spin window polls, if not probe(): must be cheap (no syscall). */
  spinProbe?(): boolean;
  /** Refreshes the waiting readers' heartbeats. */
  heartbeat(): void;
  /**
   * Checks too costly for every probe (syscalls: is the queue still there, is a segment end
   * stalled for good); runs with the heartbeat (at the first sleep, then about once a second)
   * and may throw, which ends the wait with that error.
   */
  coldCheck?(): void;
  /** File descriptors whose readability ends a sleep (fixed for the target's life). */
  readonly fds?: readonly number[];
  /**
   * The longest sleep before probing anyway, in ms (default SLEEP_SLICE_MS, the lost wake-up
   * bound). A router returns the time to its next discovery rescan instead.
   */
  sliceMs?(): number;
  /** Calls `listener` once the target is closed: a wait that extends it from outside (a router's) must check again then. */
  onClose?(listener: () => void): void;
}

/** A wait timeout in ms: a number (negative counts as 0) or Infinity for none; NaN and non-numbers are refused. */
export function checkTimeout(timeoutMs: unknown, path: string): number {
  if (typeof timeoutMs !== "number" || Number.isNaN(timeoutMs)) {
    throw new InvalidArgument(path, `timeoutMs must be a number of milliseconds (or Infinity), got ${describe(timeoutMs)}`);
  }
  return Math.max(0, timeoutMs);
}

/** A spin window in µs (default 15), validated, as ns. */
export function spinNanos(spinMicros: number | undefined, path = ""): number {
  const us = spinMicros ?? DEFAULT_SPIN_MICROS;
  if (typeof us !== "number" || !(us >= 0) || us === Infinity) {
    throw new InvalidArgument(path, `spinMicros must be a finite number >= 0, got ${describe(us)}`);
  }
  return us * 1000;
}

/** The wait options, checked. */
export function checkWaitOptions(options: WaitOptions | undefined, path: string): WaitOptions {
  const opts = checkOptions(options, "wait options", path);
  if (opts.strategy !== undefined && opts.strategy !== "spin" && opts.strategy !== "hybrid") {
    throw new InvalidArgument(path, `wait strategy must be "spin" or "hybrid", got ${describe(opts.strategy)}`);
  }
  spinNanos(opts.spinMicros, path);
  return opts;
}

/** What a waitAsync call may pass: a timeout in ms, or these options. */
export type AsyncWaitArg = number | { timeoutMs?: number | undefined; signal?: AbortSignal | undefined; spinMicros?: number | undefined };

/**
 * A waitAsync argument, checked: a number is the timeout (so that `waitAsync(100)` means what it
 * says instead of waiting with no limit), an object holds the options. `spinNs` is undefined when
 * the call does not set its own spin window.
 */
export function asyncWaitArgs(arg: AsyncWaitArg | undefined, path: string): { timeoutMs: number; signal: AbortSignal | undefined; spinNs: number | undefined } {
  if (typeof arg === "number") return { timeoutMs: checkTimeout(arg, path), signal: undefined, spinNs: undefined };
  const opts = checkOptions(arg, "waitAsync options (or a timeout in ms)", path);
  return {
    timeoutMs: checkTimeout(opts.timeoutMs ?? Infinity, path),
    signal: checkSignal(opts.signal, path),
    spinNs: opts.spinMicros === undefined ? undefined : spinNanos(opts.spinMicros, path),
  };
}

/** Spins until `ready()`, for at most `spinNs` and at most `timeoutMs` (checked); true when ready. */
export function spinWithin(spinNs: number, timeoutMs: number, ready: () => boolean): boolean {
  const end = Bun.nanoseconds() + Math.min(spinNs, timeoutMs * 1e6);
  while (Bun.nanoseconds() < end) if (ready()) return true;
  return false;
}

const HALF_BEAT_NS = (SLEEPER_HEARTBEAT_MS / 2) * 1e6;

/** The controls of a target that sleeps on no queue. */
export const NO_CONTROLS: readonly ControlBlock[] = Object.freeze([]);

/** The async wait in progress: cancelled by an abort or close() (a later wait queues behind it). */
interface Pending {
  cancelled: boolean;
  done: Promise<void>;
}

export class Waiter {
  private readonly target: WaitTarget;
  private readonly strategy: WaitStrategy;
  private readonly spinNs: number;
  private readonly spinProbe: () => boolean;
  private helper: AsyncWaiter | null = null;
  /** The target's fds as a futex word (created at the first sleep; null when it has none). */
  private fdWatch: FdWatch | null | undefined = undefined;
  /** The sync wait's FUTEX_WAITV set, and the controls array it was built for. */
  private futexes: FutexSet | null = null;
  private futexesFor: readonly ControlBlock[] | null = null;
  private pending: Pending | null = null;
  /**
   * Bun.nanoseconds() by which the next heartbeat is due (0: at the first sleep). Kept across
   * waits: a process that waits often refreshes the heartbeats at most every half period.
   */
  private nextBeatNs = 0;
  private closed = false;

  constructor(target: WaitTarget, options?: WaitOptions) {
    this.target = target;
    const opts = checkWaitOptions(options, target.path);
    this.strategy = opts.strategy ?? "hybrid";
    this.spinNs = spinNanos(opts.spinMicros, target.path);
    this.spinProbe = target.spinProbe ? () => target.spinProbe!() : () => target.probe();
  }

  /** Blocks until the target is ready (true) or the (checked) timeout passes (false). */
  waitSync(timeoutMs: number): boolean {
    const target = this.target;
    const deadline = Bun.nanoseconds() + timeoutMs * 1e6;
    if (this.strategy === "spin") return this.spinWait(deadline);
    if (spinWithin(this.spinNs, timeoutMs, this.spinProbe)) return true;
    const controls = target.controls();
    const fd = this.fds();
    // One queue and nothing else: plain FUTEX_WAIT on its word.
    const single = controls.length === 1 && fd === null ? controls[0]! : null;
    const set = single === null && (controls.length > 0 || fd !== null) ? this.futexSet(controls, fd) : null;
    for (const c of controls) c.addWaiter();
    try {
      for (;;) {
        let seq = 0;
        if (single !== null) seq = single.notifySeq;
        else if (set !== null) {
          for (let i = 0; i < controls.length; i++) set.expect(i, controls[i]!.notifySeq);
          if (fd !== null) set.expect(controls.length, fd.seq);
        }
        if (target.probe()) return true;
        const slice = this.slice(deadline, controls);
        if (slice <= 0) return false;
        fd?.arm();
        if (single !== null) futexWait(single.notifyAddress, seq, slice);
        else if (set !== null) set.wait(slice);
        else Bun.sleepSync(slice);
      }
    } finally {
      for (const c of controls) c.removeWaiter();
    }
  }

  /**
   * Resolves true when the target is ready, false at the timeout or when the waiter is closed
   * meanwhile; rejects with the signal's reason when `signal` aborts, and with whatever a check
   * throws. Spins on the calling thread for up to `spinNs` (default: the `spinMicros` option,
   * any strategy) first: a record that lands within microseconds, like a ping-pong reply, then
   * costs no hand-off to the helper thread and back (~40 µs). The event loop is held no longer
   * than that.
   */
  waitAsync(timeoutMs: number, signal: AbortSignal | undefined, spinNs = this.spinNs): Promise<boolean> {
    if (spinNs > 0 && this.pending === null && signal?.aborted !== true && spinWithin(spinNs, timeoutMs, this.spinProbe)) {
      return Promise.resolve(true);
    }
    return this.sleepAsync(Bun.nanoseconds() + timeoutMs * 1e6, signal);
  }

  /**
   * Call after the target's control blocks changed: a pending async wait sleeps again on the new
   * set. On return the helper no longer touches the previous words, so their mappings may go.
   */
  refresh(): void {
    this.helper?.refresh();
  }

  /** Ends a pending async wait (false) and stops the helper threads; they no longer touch the target's words or fds on return. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.pending !== null) this.pending.cancelled = true;
    this.helper?.release();
    this.helper = null;
    this.fdWatch?.release();
    this.fdWatch = null;
  }

  /** The async loop: the same steps as waitSync's, with each sleep taken by the helper thread. */
  private async sleepAsync(deadline: number, signal: AbortSignal | undefined): Promise<boolean> {
    // A cancelled wait ends as soon as its helper reports; queue behind it.
    while (this.pending !== null) {
      if (!this.pending.cancelled) throw new WaitPending(this.target.path, this.target.what);
      await this.pending.done;
    }
    if (signal?.aborted) throw signal.reason;
    if (this.closed) return false;
    const target = this.target;
    const helper = (this.helper ??= AsyncWaiter.acquire());
    const fd = this.fds();
    let finish = (): void => {};
    const p: Pending = { cancelled: false, done: new Promise<void>((r) => (finish = r)) };
    this.pending = p;
    const onAbort = (): void => {
      p.cancelled = true;
      // Not after close(): the helper may serve another waiter by then.
      if (this.helper === helper) helper.cancel();
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    helper.hold(true);
    try {
      for (;;) {
        // A block closed under the wait is skipped here; probe() then reports its reader closed.
        let controls = target.controls();
        if (!controls.every((c) => c.isOpen)) controls = controls.filter((c) => c.isOpen);
        helper.expect(controls, fd);
        if (target.probe()) return true;
        const slice = this.slice(deadline, controls);
        if (slice <= 0) return false;
        fd?.arm();
        await helper.sleep(slice);
        if (p.cancelled) {
          if (signal?.aborted) throw signal.reason;
          return false;
        }
      }
    } finally {
      signal?.removeEventListener("abort", onAbort);
      if (this.pending === p) this.pending = null;
      if (!this.closed) helper.hold(false);
      finish();
    }
  }

  /**
   * How long the next sleep may last, in ms (0: the deadline has passed): the time left, at most
   * the target's slice (UNREGISTERED_POLL_MS when a queue's writer will not wake this sleeper),
   * and, while readers wait, at most the time to their next heartbeat. The
   * heartbeats are refreshed here once at least half due, so that they ride along on the other
   * wake-ups (a router's rescans) instead of adding their own.
   */
  private slice(deadline: number, controls: readonly ControlBlock[]): number {
    const now = Bun.nanoseconds();
    const remaining = (deadline - now) / 1e6;
    if (remaining <= 0) return 0;
    let slice = Math.min(remaining, Math.max(1, this.target.sliceMs?.() ?? SLEEP_SLICE_MS));
    if (!controls.every((c) => c.wokenByWriter)) slice = Math.min(slice, UNREGISTERED_POLL_MS);
    if (controls.length > 0) {
      if (now >= this.nextBeatNs - HALF_BEAT_NS) {
        this.target.heartbeat();
        this.nextBeatNs = now + SLEEPER_HEARTBEAT_MS * 1e6;
        this.target.coldCheck?.();
      }
      slice = Math.min(slice, (this.nextBeatNs - now) / 1e6);
    }
    return slice;
  }

  /** The "spin" strategy: never sleeps, and refreshes the heartbeats as a sleeper would. */
  private spinWait(deadline: number): boolean {
    for (;;) {
      const leftMs = (deadline - Bun.nanoseconds()) / 1e6;
      if (spinWithin(Infinity, Math.min(leftMs, SLEEPER_HEARTBEAT_MS), this.spinProbe)) return true;
      if (leftMs <= SLEEPER_HEARTBEAT_MS) return this.target.probe();
      this.target.heartbeat();
      this.target.coldCheck?.();
    }
  }

  private fds(): FdWatch | null {
    if (this.fdWatch === undefined) {
      const fds = this.target.fds ?? [];
      this.fdWatch = fds.length > 0 && !this.closed ? FdWatch.acquire(fds) : null;
    }
    return this.fdWatch;
  }

  /** The FUTEX_WAITV set for `controls` (then the fd word), rebuilt when the controls changed. */
  private futexSet(controls: readonly ControlBlock[], fd: FdWatch | null): FutexSet {
    if (this.futexes === null || this.futexesFor !== controls) {
      const n = controls.length + (fd !== null ? 1 : 0);
      const set = new FutexSet(n);
      controls.forEach((c, i) => set.set(i, c.notifyAddress, 0));
      if (fd !== null) set.set(controls.length, fd.address, 0);
      set.truncate(n);
      this.futexes = set;
      this.futexesFor = controls;
    }
    return this.futexes;
  }
}
