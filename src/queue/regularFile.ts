/**
 * A queue's own files (control.meta, segments, index.meta, writer.lock, reader metas) are regular
 * files. Anything else in their place (a FIFO, a device, a directory) is damage, reported as
 * CorruptMetadata; it is opened O_NONBLOCK, so it cannot block the opener before it is checked
 * (opening a FIFO waits for the other end).
 */
import { CorruptMetadata } from "../errors.ts";
import { closeFd, fdKind, openFd, readSmallFile, O_NONBLOCK, type FileKind } from "../ffi/index.ts";

function notRegular(path: string, kind: FileKind): CorruptMetadata {
  return new CorruptMetadata(path, `expected a regular file, found a ${kind}; move it out of the queue directory`);
}

/** Opens `path` (O_NONBLOCK added, which regular files ignore); throws CorruptMetadata unless it is a regular file. */
export function openRegular(path: string, flags: number, mode?: number): number {
  const fd = openFd(path, flags | O_NONBLOCK, mode);
  try {
    const kind = fdKind(fd, path);
    if (kind !== "regular file") throw notRegular(path, kind);
  } catch (e) {
    closeFd(fd);
    throw e;
  }
  return fd;
}

/** Whole content of a small regular file; null when it does not exist; CorruptMetadata when it is not a regular file. */
export function readRegular(path: string): Uint8Array | null {
  const file = readSmallFile(path);
  if (file === null) return null;
  if (file.kind !== "regular file") throw notRegular(path, file.kind);
  return file.bytes;
}
