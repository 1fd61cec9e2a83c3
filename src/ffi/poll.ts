/** poll(2) over a reusable array of `struct pollfd`. */
import { ptr } from "bun:ffi";
import { errnoError, lastErrno, Errno } from "./errno.ts";
import { libc } from "./libc.ts";

export const POLLIN = 0x1;
export const POLLERR = 0x8;
export const POLLHUP = 0x10;
export const POLLNVAL = 0x20;

/** Size of `struct pollfd`: int fd, short events, short revents. */
const POLLFD_SIZE = 8;

/** A reusable set of fds for poll(2): set each entry once, then poll as often as needed. */
export class PollSet {
  private readonly i32: Int32Array;
  private readonly i16: Int16Array;
  private readonly ptr: number;
  private readonly count: number;

  constructor(fds: readonly number[], events = POLLIN) {
    this.count = fds.length;
    this.i32 = new Int32Array((Math.max(1, fds.length) * POLLFD_SIZE) / 4);
    this.i16 = new Int16Array(this.i32.buffer);
    this.ptr = ptr(this.i32);
    fds.forEach((fd, i) => {
      this.i32[2 * i] = fd;
      this.i16[4 * i + 2] = events;
    });
  }

  /**
   * Blocks until an fd is ready, at most `timeoutMs` (Infinity or a negative value: no limit).
   * Returns how many fds are ready, 0 on timeout, -1 when a signal interrupted (EINTR).
   */
  poll(timeoutMs: number): number {
    const timeout = timeoutMs === Infinity || timeoutMs < 0 ? -1 : Math.min(0x7fffffff, Math.ceil(timeoutMs));
    const r = libc.poll(this.ptr, this.count, timeout);
    if (r >= 0) return r;
    if (lastErrno() === Errno.EINTR) return -1;
    throw errnoError("poll", "");
  }

  /** The events poll reported for entry `i` (POLLIN, POLLERR, POLLHUP, POLLNVAL), 0 for none. */
  revents(i: number): number {
    return this.i16[4 * i + 3]! & 0xffff;
  }
}
