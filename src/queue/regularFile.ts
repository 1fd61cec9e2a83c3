/**
 * A queue's own files (control.meta, segments, index.meta, writer.lock, reader metas) are regular
 * files. Anything else in their place (a FIFO, a device, a directory) is damage, reported as
 * CorruptMetadata; it is opened O_NONBLOCK, so it cannot block the opener before it is checked
 * (opening a FIFO waits for the other end). A symbolic link in their place is never followed
 * (O_NOFOLLOW): it is UnsafePath, so a planted `writer.lock -> <victim>` cannot truncate the victim.
 */
import { CorruptMetadata, ErrnoError, UnsafePath } from "../errors.ts";
import { closeFd, fdKind, isSymlink, openFd, readSmallFile, O_NOFOLLOW, O_NONBLOCK, type FileKind } from "../ffi/index.ts";

function notRegular(path: string, kind: FileKind): CorruptMetadata {
  return new CorruptMetadata(path, `expected a regular file, found a ${kind}; move it out of the queue directory`);
}

function symlinked(path: string): UnsafePath {
  return new UnsafePath(path, "is a symbolic link; a queue's files and readers/ must be real files and directories (remove the link)");
}

/** ELOOP from an O_NOFOLLOW open means the last component is a symbolic link. */
function mapLoop(path: string, e: unknown): unknown {
  return e instanceof ErrnoError && e.errnoName === "ELOOP" ? symlinked(path) : e;
}

/**
 * Opens `path` (O_NONBLOCK and O_NOFOLLOW added); throws CorruptMetadata unless it is a regular
 * file and UnsafePath when it is a symbolic link.
 */
export function openRegular(path: string, flags: number, mode?: number): number {
  let fd: number;
  try {
    fd = openFd(path, flags | O_NONBLOCK | O_NOFOLLOW, mode);
  } catch (e) {
    throw mapLoop(path, e);
  }
  try {
    const kind = fdKind(fd, path);
    if (kind !== "regular file") throw notRegular(path, kind);
  } catch (e) {
    closeFd(fd);
    throw e;
  }
  return fd;
}

/** Opens a file of the queue directory (never through a symbolic link: UnsafePath). */
export function openNoFollow(path: string, flags: number, mode?: number): number {
  try {
    return openFd(path, flags | O_NOFOLLOW, mode);
  } catch (e) {
    throw mapLoop(path, e);
  }
}

/** Whole content of a small regular file; null when it does not exist; CorruptMetadata when it is not a regular file. */
export function readRegular(path: string): Uint8Array | null {
  let file;
  try {
    file = readSmallFile(path, O_NOFOLLOW);
  } catch (e) {
    throw mapLoop(path, e);
  }
  if (file === null) return null;
  if (file.kind !== "regular file") throw notRegular(path, file.kind);
  return file.bytes;
}

/** Throws UnsafePath when `path` (a queue component such as readers/) is a symbolic link. */
export function refuseSymlink(path: string): void {
  if (isSymlink(path)) throw symlinked(path);
}
