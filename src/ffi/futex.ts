/** futex(2) on a 32-bit word inside shared mapped memory (shared futexes: no FUTEX_PRIVATE_FLAG). */
import { ptr } from "bun:ffi";
import { lastErrno, errnoError, Errno } from "./errno.ts";
import { libc, SYS } from "./libc.ts";

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
