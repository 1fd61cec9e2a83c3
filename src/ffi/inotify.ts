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
   * Drains pending events without blocking; returns how many were read (an overflow counts as
   * one). Callers that only need "something changed" use the count.
   */
  drain(): number {
    let events = 0;
    for (;;) {
      const n = Number(libc.read(this.fd, this.buf, this.buf.length));
      if (n < 0) {
        if (lastErrno() === Errno.EAGAIN) return events;
        if (lastErrno() === Errno.EINTR) continue;
        throw errnoError("read(inotify)", "");
      }
      // Each event: wd i32, mask u32, cookie u32, len u32, name[len].
      const view = new DataView(this.buf.buffer, 0, n);
      for (let off = 0; off + 16 <= n; off += 16 + view.getUint32(off + 12, true)) events++;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeFd(this.fd);
  }
}
