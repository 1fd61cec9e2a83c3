/** File and directory calls with errno turned into ErrnoError carrying the path. No policy. */
import * as fs from "node:fs";
import { dirname as dirnamePath, resolve as resolvePath } from "node:path";
import type { ErrnoError } from "../errors.ts";
import { errnoError, fromNodeError, lastErrno, Errno } from "./errno.ts";
import {
  libc, O_CLOEXEC, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_RDONLY, O_WRONLY, LOCK_NB,
} from "./libc.ts";

/** A NUL-terminated copy of a path for libc. */
export function cPath(path: string): Buffer {
  return Buffer.from(path + "\0", "utf8");
}

/** open(2) with O_CLOEXEC; returns the fd. */
export function openFd(path: string, flags: number, mode = 0o644): number {
  const fd = libc.open(cPath(path), flags | O_CLOEXEC, mode);
  if (fd < 0) throw errnoError("open", path);
  return fd;
}

/** fchmod(2): sets the mode exactly, whatever the umask was at creation. */
export function fchmodFd(fd: number, mode: number, path: string): void {
  if (libc.fchmod(fd, mode) !== 0) throw errnoError("fchmod", path);
}

export function closeFd(fd: number): void {
  // close(2) releases the fd even when it reports an error; nothing useful to do with one here.
  libc.close(fd);
}

export function ftruncateFd(fd: number, length: number, path: string): void {
  if (libc.ftruncate(fd, length) !== 0) throw errnoError("ftruncate", path);
}

/**
 * Allocates disk blocks for [0, length) so that later stores through a mapping cannot fault
 * with SIGBUS on a full disk. Filesystems without fallocate get explicit zero writes instead.
 */
export function fallocateFd(fd: number, length: number, path: string): void {
  if (libc.fallocate(fd, 0, 0, length) === 0) return;
  if (lastErrno() !== Errno.EOPNOTSUPP) throw errnoError("fallocate", path);
  ftruncateFd(fd, length, path);
  const zeros = new Uint8Array(Math.min(length, 1 << 20));
  for (let off = 0; off < length; off += zeros.length) {
    pwriteAll(fd, zeros.subarray(0, Math.min(zeros.length, length - off)), off, path);
  }
}

/** flock(2). With LOCK_NB, returns false instead of throwing when the lock is held elsewhere. */
export function flockFd(fd: number, op: number, path: string): boolean {
  if (libc.flock(fd, op) === 0) return true;
  if ((op & LOCK_NB) !== 0 && lastErrno() === Errno.EAGAIN) return false;
  throw errnoError("flock", path);
}

const PROC_LOCKS = "/proc/locks";

/**
 * True when an open file description holds a flock on `path` (false when it does not exist).
 * Looked up in /proc/locks by device and inode rather than by trying the lock: a probe that took
 * it, even shared and for a moment, made the owner's own LOCK_EX | LOCK_NB fail meanwhile.
 * /proc/locks hides locks of processes outside this process's pid namespace.
 */
export function isFlockHeld(path: string): boolean {
  let st: fs.BigIntStats;
  try {
    st = fs.statSync(path, { bigint: true });
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "ENOENT" || code === "ENOTDIR") return false;
    throw fromNodeError("stat", path, e);
  }
  // glibc's major()/minor(); /proc/locks prints them as %02x:%02x, then the inode in decimal.
  const major = ((st.dev >> 8n) & 0xfffn) | ((st.dev >> 32n) & ~0xfffn);
  const minor = (st.dev & 0xffn) | ((st.dev >> 12n) & ~0xffn);
  const id = `${major.toString(16).padStart(2, "0")}:${minor.toString(16).padStart(2, "0")}:${st.ino}`;
  let locks: string;
  try {
    locks = fs.readFileSync(PROC_LOCKS, "utf8");
  } catch (e) {
    throw fromNodeError("read", PROC_LOCKS, e);
  }
  // "1: FLOCK  ADVISORY  WRITE <pid> <maj>:<min>:<ino> 0 EOF"; a waiter's line has "->" second.
  for (const line of locks.split("\n")) {
    const fields = line.split(/\s+/);
    if (fields[1] === "FLOCK" && fields[5] === id) return true;
  }
  return false;
}

export function fsyncFd(fd: number, path: string): void {
  if (libc.fsync(fd) !== 0) throw errnoError("fsync", path);
}

export function fdatasyncFd(fd: number, path: string): void {
  if (libc.fdatasync(fd) !== 0) throw errnoError("fdatasync", path);
}

/** fsync of a directory, which makes created, renamed and removed entries durable. */
export function fsyncDir(path: string): void {
  const fd = openFd(path, O_RDONLY | O_DIRECTORY);
  try {
    fsyncFd(fd, path);
  } finally {
    closeFd(fd);
  }
}

export function renamePath(from: string, to: string): void {
  if (libc.rename(cPath(from), cPath(to)) !== 0) throw errnoError("rename", from, `to ${to}`);
}

/** link(2): returns false when `to` already exists (never replaces it). */
export function linkPath(from: string, to: string): boolean {
  if (libc.link(cPath(from), cPath(to)) === 0) return true;
  if (lastErrno() === Errno.EEXIST) return false;
  throw errnoError("link", to, `from ${from}`);
}

/** unlink(2); a missing file is not an error when `missingOk`. */
export function unlinkPath(path: string, missingOk = true): void {
  if (libc.unlink(cPath(path)) === 0) return;
  if (missingOk && lastErrno() === Errno.ENOENT) return;
  throw errnoError("unlink", path);
}

export function pwriteAll(fd: number, data: Uint8Array, offset: number, path: string): void {
  let done = 0;
  while (done < data.length) {
    const n = Number(libc.pwrite(fd, data.subarray(done), data.length - done, offset + done));
    if (n < 0) {
      if (lastErrno() === Errno.EINTR) continue;
      throw errnoError("pwrite", path);
    }
    done += n;
  }
}

/** Reads up to `length` bytes at `offset`; returns the bytes actually read (short at EOF). */
export function preadFd(fd: number, length: number, offset: number, path: string): Uint8Array {
  const buf = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const n = Number(libc.pread(fd, buf.subarray(done), length - done, offset + done));
    if (n < 0) {
      if (lastErrno() === Errno.EINTR) continue;
      throw errnoError("pread", path);
    }
    if (n === 0) break;
    done += n;
  }
  return buf.subarray(0, done);
}

/**
 * Writes a whole file atomically: the temp file `tmp` beside it, fsync'd when `durable`, then rename.
 * Readers see either the old or the new content, never a torn one. Callers are the file's only
 * writer, so a temp file already there was left by one that crashed before its rename.
 */
export function writeFileAtomic(path: string, tmp: string, data: Uint8Array, durable = false, mode = 0o644): void {
  unlinkPath(tmp);
  const fd = openFd(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
  try {
    fchmodFd(fd, mode, tmp);
    pwriteAll(fd, data, 0, tmp);
    if (durable) fdatasyncFd(fd, tmp);
  } catch (e) {
    closeFd(fd);
    unlinkPath(tmp);
    throw e;
  }
  closeFd(fd);
  renamePath(tmp, path);
}

/** Size of a file, or -1 when it does not exist. */
export function fileSize(path: string): number {
  try {
    return fs.statSync(path).size;
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") return -1;
    throw fromNodeError("stat", path, e);
  }
}

/** What an open file is (fstat's S_IFMT). */
export type FileKind = "regular file" | "directory" | "FIFO" | "socket" | "character device" | "block device" | "special file";

export function fdKind(fd: number, path: string): FileKind {
  let st: fs.Stats;
  try {
    st = fs.fstatSync(fd);
  } catch (e) {
    throw fromNodeError("fstat", path, e);
  }
  if (st.isFile()) return "regular file";
  if (st.isDirectory()) return "directory";
  if (st.isFIFO()) return "FIFO";
  if (st.isSocket()) return "socket";
  if (st.isCharacterDevice()) return "character device";
  if (st.isBlockDevice()) return "block device";
  return "special file";
}

/** Size of an open file. */
export function fdSize(fd: number, path: string): number {
  try {
    return fs.fstatSync(fd).size;
  } catch (e) {
    throw fromNodeError("fstat", path, e);
  }
}

/** stat(2) (`follow`) or lstat(2) of `path`; null when it, or a directory on the way, does not exist. */
function statIfExists(path: string, follow: boolean): fs.Stats | null {
  try {
    return follow ? fs.statSync(path) : fs.lstatSync(path);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "ENOENT" || code === "ENOTDIR") return null;
    throw fromNodeError(follow ? "stat" : "lstat", path, e);
  }
}

/** lstat(2): true when `path` itself is a symbolic link (false when it does not exist). */
export function isSymlink(path: string): boolean {
  return statIfExists(path, false)?.isSymbolicLink() ?? false;
}

/** lstat(2): true when `path` itself is a directory (a symbolic link to one is not). */
export function isRealDirectory(path: string): boolean {
  return statIfExists(path, false)?.isDirectory() ?? false;
}

export function isDirectory(path: string): boolean {
  return statIfExists(path, true)?.isDirectory() ?? false;
}

/** Directory entry names; [] when the directory does not exist. */
export function listDir(path: string): string[] {
  try {
    return fs.readdirSync(path);
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") return [];
    throw fromNodeError("readdir", path, e);
  }
}

/** mkdir -p; every directory it creates gets exactly `mode` (chmod after mkdir: no umask). */
export function mkdirp(path: string, mode = 0o700): void {
  let first: string | undefined;
  try {
    first = fs.mkdirSync(path, { recursive: true, mode });
  } catch (e) {
    throw fromNodeError("mkdir", path, e);
  }
  if (first === undefined) return;
  const created = resolvePath(first);
  for (let at = resolvePath(path); ; at = dirnamePath(at)) {
    chmodPath(at, mode);
    if (at === created || at === dirnamePath(at)) break;
  }
}

/** chmod(2) of a path (follows a link: callers pass directories they just created). */
export function chmodPath(path: string, mode: number): void {
  try {
    fs.chmodSync(path, mode);
  } catch (e) {
    throw fromNodeError("chmod", path, e);
  }
}

/** stat(2) (follows links): owner uid and mode bits; null when it does not exist. */
export function statOwner(path: string): { uid: number; mode: number; isDirectory: boolean } | null {
  try {
    const st = fs.statSync(path);
    return { uid: st.uid, mode: st.mode & 0o7777, isDirectory: st.isDirectory() };
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT" || (e as { code?: string }).code === "ENOTDIR") return null;
    throw fromNodeError("stat", path, e);
  }
}

/**
 * Creates one directory (its parent must exist); an existing one is fine. Unlike mkdirp it never
 * re-creates a parent that someone has just deleted.
 */
export function mkdirOne(path: string, mode = 0o700): void {
  try {
    fs.mkdirSync(path, { mode });
  } catch (e) {
    if ((e as { code?: string }).code === "EEXIST") return;
    throw fromNodeError("mkdir", path, e);
  }
  chmodPath(path, mode);
}

/** A small file's content, or the kind of file found in its place when it is not a regular file. */
export type SmallFile = { kind: "regular file"; bytes: Uint8Array } | { kind: Exclude<FileKind, "regular file"> };

/**
 * Whole content of a small file; null when it does not exist. It is opened O_NONBLOCK and read
 * only when it is a regular file, so a FIFO or device in its place never blocks the caller.
 */
export function readSmallFile(path: string, flags = 0): SmallFile | null {
  let fd: number;
  try {
    fd = openFd(path, O_RDONLY | O_NONBLOCK | flags);
  } catch (e) {
    if ((e as ErrnoError).errno === Errno.ENOENT) return null;
    throw e;
  }
  try {
    const kind = fdKind(fd, path);
    if (kind !== "regular file") return { kind };
    return { kind, bytes: preadFd(fd, fdSize(fd, path), 0, path) };
  } finally {
    closeFd(fd);
  }
}
