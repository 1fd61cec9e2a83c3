/**
 * Raw libc bindings through bun:ffi. One symbol per call, no policy: callers in this folder turn
 * return codes into errors. Nothing here knows about queues.
 */
import { dlopen, FFIType } from "bun:ffi";

const { i32, u32, i64, u64, ptr, cstring } = FFIType;

export const libc = dlopen("libc.so.6", {
  __errno_location: { args: [], returns: ptr },
  open: { args: [cstring, i32, u32], returns: i32 },
  fchmod: { args: [i32, u32], returns: i32 },
  close: { args: [i32], returns: i32 },
  ftruncate: { args: [i32, i64], returns: i32 },
  fallocate: { args: [i32, i32, i64, i64], returns: i32 },
  mmap: { args: [ptr, u64, i32, i32, i32, i64], returns: ptr },
  munmap: { args: [ptr, u64], returns: i32 },
  msync: { args: [ptr, u64, i32], returns: i32 },
  madvise: { args: [ptr, u64, i32], returns: i32 },
  flock: { args: [i32, i32], returns: i32 },
  fsync: { args: [i32], returns: i32 },
  fdatasync: { args: [i32], returns: i32 },
  rename: { args: [cstring, cstring], returns: i32 },
  link: { args: [cstring, cstring], returns: i32 },
  unlink: { args: [cstring], returns: i32 },
  pread: { args: [i32, ptr, u64, i64], returns: i64 },
  pwrite: { args: [i32, ptr, u64, i64], returns: i64 },
  read: { args: [i32, ptr, u64], returns: i64 },
  write: { args: [i32, ptr, u64], returns: i64 },
  clock_gettime: { args: [i32, ptr], returns: i32 },
  inotify_init1: { args: [i32], returns: i32 },
  inotify_add_watch: { args: [i32, cstring, u32], returns: i32 },
  inotify_rm_watch: { args: [i32, i32], returns: i32 },
  eventfd: { args: [u32, i32], returns: i32 },
  poll: { args: [ptr, u64, i32], returns: i32 },
  getpid: { args: [], returns: i32 },
  sysconf: { args: [i32], returns: i64 },
  // syscall(2) is variadic; integer and pointer arguments pass in registers on x86_64 and aarch64.
  syscall: { args: [i64, ptr, i32, u32, ptr, ptr, u32], returns: i32 },
}).symbols;

/** open(2) flags (identical on x86_64 and aarch64 except O_DIRECTORY/O_NOFOLLOW, see below). */
export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_TRUNC = 0o1000;
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;
export const O_DIRECTORY = process.arch === "arm64" ? 0o40000 : 0o200000;
/** open(2) fails with ELOOP when the last component is a symbolic link. */
export const O_NOFOLLOW = process.arch === "arm64" ? 0o100000 : 0o400000;

export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 1;
export const MAP_PRIVATE = 2;
export const MAP_FIXED = 0x10;
export const MAP_ANONYMOUS = 0x20;

export const MS_ASYNC = 1;
export const MS_SYNC = 4;

/** madvise(2): write-fault a range without changing its contents (Linux 5.14+). */
export const MADV_WILLNEED = 3;
export const MADV_POPULATE_READ = 22;
export const MADV_POPULATE_WRITE = 23;

export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

export const CLOCK_REALTIME = 0;
export const CLOCK_MONOTONIC = 1;

/** Syscall numbers differ per architecture. */
export const SYS = process.arch === "arm64"
  ? { futex: 98, futex_waitv: 449 }
  : { futex: 202, futex_waitv: 449 };

export const SC_PAGESIZE = 30;
