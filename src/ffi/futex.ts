/** futex(2) on a 32-bit word inside shared mapped memory (shared futexes: no FUTEX_PRIVATE_FLAG). */
import { ptr } from "bun:ffi";
import { lastErrno, errnoError, Errno } from "./errno.ts";
import { dlopen, FFIType } from "bun:ffi";
import { libc, SYS, CLOCK_MONOTONIC } from "./libc.ts";

// futex_waitv(waiters, nr, flags, timeout, clockid): a second view of syscall(2) with the
// argument types this call needs.
const waitv = dlopen("libc.so.6", {
  syscall: { args: [FFIType.i64, FFIType.ptr, FFIType.u32, FFIType.u32, FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
}).symbols.syscall;

const FUTEX_WAIT = 0;
const FUTEX_WAKE = 1;

// Reused timespec for FUTEX_WAIT's relative timeout; one per thread (module instance).
const timespec = new BigInt64Array(2);
const timespecPtr = ptr(timespec);

/** Calls made by this thread (module instance): lets tests assert that a path makes no syscall. */
export const futexCalls = { wait: 0, wake: 0 };

export type FutexWaitResult = "woken" | "timeout" | "changed";

/**
 * Sleeps while the u32 at `address` equals `expected`, at most `timeoutMs` (fractions allowed).
 * "changed" means the word already differed (EAGAIN) or a signal interrupted the sleep.
 */
export function futexWait(address: number, expected: number, timeoutMs: number): FutexWaitResult {
  const ns = Math.max(0, Math.round(timeoutMs * 1e6));
  timespec[0] = BigInt(Math.floor(ns / 1e9));
  timespec[1] = BigInt(ns % 1e9);
  futexCalls.wait++;
  const r = libc.syscall(SYS.futex, address, FUTEX_WAIT, expected >>> 0, timespecPtr, null, 0);
  if (r === 0) return "woken";
  const e = lastErrno();
  if (e === Errno.ETIMEDOUT) return "timeout";
  if (e === Errno.EAGAIN || e === Errno.EINTR) return "changed";
  throw errnoError("futex(FUTEX_WAIT)", "");
}

/** Wakes up to `count` sleepers on the word at `address`; returns how many were woken. */
export function futexWake(address: number, count = 0x7fffffff): number {
  futexCalls.wake++;
  const r = libc.syscall(SYS.futex, address, FUTEX_WAKE, count, null, null, 0);
  if (r < 0) throw errnoError("futex(FUTEX_WAKE)", "");
  return r;
}

/** Size of `struct futex_waitv`: u64 val, u64 uaddr, u32 flags, u32 reserved. */
const WAITV_ENTRY = 24;
const FUTEX2_SIZE_U32 = 2;
/** FUTEX_WAITV accepts at most this many words. */
export const FUTEX_WAITV_MAX = 128;

/**
 * A reusable set of futex words for futexWaitMany: set each entry's address once, then the
 * expected value before every wait.
 */
export class FutexSet {
  private readonly buf: BigUint64Array;
  private readonly words: Uint32Array;
  private readonly ptr: number;
  private readonly deadline = new BigInt64Array(2);
  private readonly deadlinePtr: number;
  private count = 0;

  constructor(capacity: number) {
    if (capacity > FUTEX_WAITV_MAX) throw new RangeError(`futex_waitv takes at most ${FUTEX_WAITV_MAX} words`);
    this.buf = new BigUint64Array((capacity * WAITV_ENTRY) / 8);
    this.words = new Uint32Array(this.buf.buffer);
    this.ptr = ptr(this.buf);
    this.deadlinePtr = ptr(this.deadline);
  }

  /** Sets entry `i` (shared futex on a u32 at `address`) and the number of entries in use. */
  set(i: number, address: number, expected: number): void {
    const w = (i * WAITV_ENTRY) >> 2;
    this.words[w] = expected >>> 0;
    this.words[w + 1] = 0;
    this.buf[(i * WAITV_ENTRY) / 8 + 1] = BigInt(address);
    this.words[w + 4] = FUTEX2_SIZE_U32;
    this.words[w + 5] = 0;
    if (i >= this.count) this.count = i + 1;
  }

  /** Updates the expected value of entry `i`. */
  expect(i: number, expected: number): void {
    this.words[(i * WAITV_ENTRY) >> 2] = expected >>> 0;
  }

  truncate(count: number): void {
    this.count = count;
  }

  /**
   * Sleeps until one of the words changes from its expected value (or is woken), at most
   * `timeoutMs` (Infinity: no limit). Returns the index of the woken word, -1 on timeout, -2
   * when a word already differed or a signal interrupted.
   */
  wait(timeoutMs: number): number {
    let deadline: number | null = null;
    if (timeoutMs !== Infinity) {
      const until = clockMonotonicNs() + BigInt(Math.max(0, Math.round(timeoutMs * 1e6)));
      this.deadline[0] = until / 1_000_000_000n;
      this.deadline[1] = until % 1_000_000_000n;
      deadline = this.deadlinePtr;
    }
    futexCalls.wait++;
    const r = waitv(SYS.futex_waitv, this.ptr, this.count, 0, deadline, CLOCK_MONOTONIC);
    if (r >= 0) return r;
    const e = lastErrno();
    if (e === Errno.ETIMEDOUT) return -1;
    if (e === Errno.EAGAIN || e === Errno.EINTR) return -2;
    throw errnoError("futex_waitv", "");
  }
}

const monoTs = new BigInt64Array(2);
const monoTsPtr = ptr(monoTs);

function clockMonotonicNs(): bigint {
  libc.clock_gettime(CLOCK_MONOTONIC, monoTsPtr);
  return monoTs[0]! * 1_000_000_000n + monoTs[1]!;
}
