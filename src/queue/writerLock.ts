/** The single-writer lock: flock on writer.lock plus an owner record for diagnostics. */
import { join } from "node:path";
import { ErrnoError, WriterAlreadyActive } from "../errors.ts";
import {
  closeFd, fchmodFd, flockFd, ftruncateFd, pwriteAll, processStartTime, isProcessAlive, O_RDWR, O_CREAT, O_EXCL, LOCK_EX, LOCK_NB,
} from "../ffi/index.ts";
import { WRITER_LOCK_FILE, formatWriterLock, parseWriterLock, type WriterLockRecord } from "./layout/index.ts";
import { openRegular, readRegular } from "./regularFile.ts";

export class WriterLock {
  readonly path: string;
  private fd: number;

  private constructor(path: string, fd: number) {
    this.path = path;
    this.fd = fd;
  }

  /**
   * Takes the lock or throws WriterAlreadyActive. flock locks belong to the open file
   * description, so a second writer in the same process conflicts too, and the kernel
   * releases the lock when the owner dies, even by kill -9.
   */
  static acquire(dir: string, mode: number): WriterLock {
    const path = join(dir, WRITER_LOCK_FILE);
    const fd = openLockFile(path, mode);
    let locked = false;
    try {
      locked = flockFd(fd, LOCK_EX | LOCK_NB, path);
    } finally {
      if (!locked) closeFd(fd);
    }
    if (!locked) throw new WriterAlreadyActive(path, (readWriterLock(dir)?.text ?? "").trim());
    return new WriterLock(path, fd);
  }

  /** Records this process as the owner of writer epoch `epoch`. */
  writeOwner(epoch: number): void {
    const pid = process.pid;
    const text = formatWriterLock({ pid, startTime: processStartTime(pid) ?? "0", epoch });
    ftruncateFd(this.fd, 0, this.path);
    pwriteAll(this.fd, Buffer.from(text), 0, this.path);
  }

  /**
   * Clears the owner record, then unlocks: an empty record tells inspectors the last writer
   * closed cleanly, while a record whose process is gone means it crashed.
   */
  release(): void {
    if (this.fd < 0) return;
    try {
      ftruncateFd(this.fd, 0, this.path);
    } catch {
      // Only a diagnostic; the unlock below is what matters.
    }
    closeFd(this.fd);
    this.fd = -1;
  }
}

/**
 * Opens writer.lock, creating it with exactly `mode` when absent. Never through a link: O_EXCL
 * refuses one (EEXIST), and the open of the existing file is O_NOFOLLOW (UnsafePath).
 */
function openLockFile(path: string, mode: number): number {
  let fd: number;
  try {
    fd = openRegular(path, O_RDWR | O_CREAT | O_EXCL, mode);
  } catch (e) {
    if (e instanceof ErrnoError && e.errnoName === "EEXIST") return openRegular(path, O_RDWR);
    throw e;
  }
  try {
    fchmodFd(fd, mode, path);
  } catch (e) {
    closeFd(fd);
    throw e;
  }
  return fd;
}

/**
 * The owner record of a queue's writer lock, with a liveness verdict; null when there is none
 * (no lock file, or an empty one: the last writer closed cleanly). CorruptMetadata when
 * writer.lock is not a regular file.
 */
export function readWriterLock(dir: string): (WriterLockRecord & { text: string; alive: boolean }) | null {
  const bytes = readRegular(join(dir, WRITER_LOCK_FILE));
  if (bytes === null || bytes.length === 0) return null;
  const text = Buffer.from(bytes).toString("utf8");
  const rec = parseWriterLock(text);
  if (rec === null) return { pid: 0, startTime: "", epoch: 0, text, alive: false };
  return { ...rec, text, alive: isProcessAlive(rec.pid, rec.startTime) };
}
