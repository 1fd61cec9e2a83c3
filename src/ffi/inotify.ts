/** inotify(7): directory change notifications, read without blocking. */
import { errnoError, lastErrno, Errno } from "./errno.ts";
import { cPath, closeFd } from "./files.ts";
import { libc, O_NONBLOCK, O_CLOEXEC } from "./libc.ts";

export const IN_MODIFY = 0x2;
export const IN_ATTRIB = 0x4;
export const IN_CLOSE_WRITE = 0x8;
export const IN_MOVED_FROM = 0x40;
export const IN_MOVED_TO = 0x80;
export const IN_CREATE = 0x100;
export const IN_DELETE = 0x200;
export const IN_DELETE_SELF = 0x400;
export const IN_MOVE_SELF = 0x800;
export const IN_Q_OVERFLOW = 0x4000;
export const IN_IGNORED = 0x8000;
export const IN_ONLYDIR = 0x1000000;

/** Changes to the entries of a directory, and the directory itself going away. */
export const DIR_CHANGES = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;

export type InotifyHandler = (wd: number, mask: number, name: string) => void;

const decoder = new TextDecoder();

/**
 * Decodes a buffer of inotify events as read(2) returns them (whole events only), calling
 * `onEvent` for each. Returns the number of events.
 */
export function parseInotifyEvents(bytes: Uint8Array, onEvent: InotifyHandler): number {
  // Each event: wd i32, mask u32, cookie u32, len u32, then a NUL-padded name of len bytes.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let events = 0;
  for (let off = 0; off + 16 <= bytes.length; ) {
    const len = view.getUint32(off + 12, true);
    const raw = bytes.subarray(off + 16, off + 16 + len);
    const end = raw.indexOf(0);
    onEvent(view.getInt32(off, true), view.getUint32(off + 4, true), decoder.decode(end >= 0 ? raw.subarray(0, end) : raw));
    events++;
    off += 16 + len;
  }
  return events;
}

export class Inotify {
  readonly fd: number;
  private readonly buf = new Uint8Array(64 * 1024);
  private closed = false;

  constructor() {
    const fd = libc.inotify_init1(O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) throw errnoError("inotify_init1", "");
    this.fd = fd;
  }

  /** Adds (or updates) a watch on `path`; returns the watch descriptor, or -1 when the path is gone. */
  watch(path: string, mask: number): number {
    const wd = libc.inotify_add_watch(this.fd, cPath(path), mask);
    if (wd >= 0) return wd;
    const e = lastErrno();
    if (e === Errno.ENOENT || e === 20 /* ENOTDIR */) return -1;
    throw errnoError("inotify_add_watch", path);
  }

  /**
   * Drains pending events without blocking, calling `onEvent` for each (`name` is "" for events
   * about the watched directory itself). Returns how many were read.
   */
  drain(onEvent: InotifyHandler): number {
    let events = 0;
    for (;;) {
      const n = Number(libc.read(this.fd, this.buf, this.buf.length));
      if (n < 0) {
        if (lastErrno() === Errno.EAGAIN) return events;
        if (lastErrno() === Errno.EINTR) continue;
        throw errnoError("read(inotify)", "");
      }
      events += parseInotifyEvents(this.buf.subarray(0, n), onEvent);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeFd(this.fd);
  }
}
