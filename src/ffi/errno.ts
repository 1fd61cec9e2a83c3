/** errno access and naming. errno is thread-local; bun:ffi gives each Worker its own module copy. */
import { toArrayBuffer } from "bun:ffi";
import { ErrnoError } from "../errors.ts";
import { libc } from "./libc.ts";

const errnoCell = new Int32Array(toArrayBuffer(libc.__errno_location()!, 0, 4));

/** Reads errno; call it right after the failing libc call, before any other FFI call. */
export function lastErrno(): number {
  return errnoCell[0]!;
}

const NAMES: Record<number, string> = {
  1: "EPERM", 2: "ENOENT", 3: "ESRCH", 4: "EINTR", 5: "EIO", 6: "ENXIO", 7: "E2BIG", 9: "EBADF",
  11: "EAGAIN", 12: "ENOMEM", 13: "EACCES", 14: "EFAULT", 16: "EBUSY", 17: "EEXIST", 18: "EXDEV",
  19: "ENODEV", 20: "ENOTDIR", 21: "EISDIR", 22: "EINVAL", 23: "ENFILE", 24: "EMFILE", 26: "ETXTBSY",
  27: "EFBIG", 28: "ENOSPC", 29: "ESPIPE", 30: "EROFS", 31: "EMLINK", 32: "EPIPE", 36: "ENAMETOOLONG",
  38: "ENOSYS", 39: "ENOTEMPTY", 40: "ELOOP", 95: "EOPNOTSUPP", 110: "ETIMEDOUT", 122: "EDQUOT",
};

/** The symbolic name of an errno value ("ENOSPC"), or "E<n>" for unlisted values. */
export function errnoName(errno: number): string {
  return NAMES[errno] ?? `E${errno}`;
}

/** errno value for a name, for callers that compare against a specific error. */
export const Errno = {
  EPERM: 1, ENOENT: 2, EINTR: 4, ENXIO: 6, EAGAIN: 11, EACCES: 13, EEXIST: 17, EINVAL: 22, ENOSPC: 28, EROFS: 30,
  EPIPE: 32, ENOSYS: 38, EOPNOTSUPP: 95, ETIMEDOUT: 110,
} as const;

/** Builds an ErrnoError from the current errno. */
export function errnoError(call: string, path: string, detail?: string): ErrnoError {
  const e = lastErrno();
  return new ErrnoError(call, e, errnoName(e), path, detail);
}

/** Converts a node:fs error (which carries `code` and `errno`) into an ErrnoError. */
export function fromNodeError(call: string, path: string, err: unknown): ErrnoError {
  const e = err as { code?: string; errno?: number };
  const code = typeof e?.code === "string" ? e.code : "EIO";
  const no = typeof e?.errno === "number" ? Math.abs(e.errno) : 0;
  return new ErrnoError(call, no, code, path);
}
