/** eventfd(2): a counter in the kernel that poll(2) sees as readable while it is non-zero. */
import { ptr } from "bun:ffi";
import { errnoError, lastErrno, Errno } from "./errno.ts";
import { libc, O_CLOEXEC, O_NONBLOCK } from "./libc.ts";

export const EFD_CLOEXEC = O_CLOEXEC;
export const EFD_NONBLOCK = O_NONBLOCK;

// One 8-byte counter buffer per thread (module instance), reused by every read and write.
const counter = new BigUint64Array(1);
const counterPtr = ptr(counter);

/** eventfd(initval, flags); returns the fd (default flags: close-on-exec, non-blocking). */
export function eventFd(initval = 0, flags = EFD_CLOEXEC | EFD_NONBLOCK): number {
  const fd = libc.eventfd(initval, flags);
  if (fd < 0) throw errnoError("eventfd", "");
  return fd;
}

/** write(2) of `value` (>= 1) to an eventfd: adds it to the counter, making the fd readable. */
export function eventFdWrite(fd: number, value = 1): void {
  counter[0] = BigInt(value);
  for (;;) {
    if (Number(libc.write(fd, counterPtr, 8)) === 8) return;
    if (lastErrno() !== Errno.EINTR) throw errnoError("write(eventfd)", "");
  }
}

/** read(2) of a non-blocking eventfd: the counter, which it resets to 0; 0 when it was 0 already (EAGAIN). */
export function eventFdRead(fd: number): number {
  for (;;) {
    if (Number(libc.read(fd, counterPtr, 8)) === 8) return Number(counter[0]);
    const e = lastErrno();
    if (e === Errno.EAGAIN) return 0;
    if (e !== Errno.EINTR) throw errnoError("read(eventfd)", "");
  }
}
