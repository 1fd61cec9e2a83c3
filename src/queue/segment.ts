/** Segment files: creation, validation, and mapping into a reusable window. */
import { dirname, join } from "node:path";
import { CorruptMetadata, SegmentExists, type ErrnoError } from "../errors.ts";
import {
  Mapping, closeFd, fchmodFd, fallocateFd, fdSize, linkPath, unlinkPath, listDir, preadFd, pwriteAll,
  O_RDONLY, O_RDWR, O_CREAT, O_EXCL, Errno,
} from "../ffi/index.ts";
import {
  SEGMENT_HEADER_SIZE, SEGMENT_MAGIC, SEGMENT_VERSION, SEG_MAGIC_W, SEG_VERSION_W, SEG_ID_W, SEG_FLAGS_W, SEALED_FLAG,
  segmentFileName, parseSegmentFileName, tempPath, loadFence,
} from "./layout/index.ts";
import { queueFileMode } from "./access.ts";
import { openNoFollow, openRegular } from "./regularFile.ts";

/** How a segment is mapped: readers only ever read. */
export type SegmentAccess = "read" | "write";

/**
 * A segment mapped into a window (see Mapping). The window belongs to the writer or reader and
 * is re-pointed at the next segment on a roll, so the segment needs no close of its own; the
 * file descriptor is closed right after mapping.
 */
export class Segment {
  readonly id: number;
  readonly path: string;
  readonly window: Mapping;

  private constructor(id: number, path: string, window: Mapping) {
    this.id = id;
    this.path = path;
    this.window = window;
  }

  /**
   * Validates segment `id` (size, magic, version, id) and maps it into `window`, replacing what
   * the window held: read-only for readers ("read": the file is opened O_RDONLY and mapped
   * PROT_READ, so a reader can never change it), read-write for the writer and recovery.
   * Returns null, leaving the window alone, when the file does not exist.
   */
  static open(dir: string, id: number, window: Mapping, access: SegmentAccess): Segment | null {
    const path = segmentPath(dir, id);
    const writable = access === "write";
    let fd: number;
    try {
      fd = openRegular(path, writable ? O_RDWR : O_RDONLY);
    } catch (e) {
      if ((e as ErrnoError).errno === Errno.ENOENT) return null;
      throw e;
    }
    try {
      const size = fdSize(fd, path);
      if (size !== window.length) throw new CorruptMetadata(path, `segment file is ${size} bytes, expected ${window.length}`);
      const problem = headerProblem(new Uint32Array(preadFd(fd, SEGMENT_HEADER_SIZE, 0, path).slice().buffer), id);
      if (problem) throw new CorruptMetadata(path, problem);
      window.mapFile(fd, path, writable);
    } finally {
      closeFd(fd);
    }
    return new Segment(id, path, window);
  }

  /** A segment already mapped into `window` (by the preparer); checks its header in memory. */
  static adopt(dir: string, id: number, window: Mapping): Segment {
    const path = segmentPath(dir, id);
    const problem = headerProblem(window.u32.subarray(0, SEGMENT_HEADER_SIZE >> 2), id);
    if (problem) throw new CorruptMetadata(path, problem);
    return new Segment(id, path, window);
  }

  /**
   * Creates segment `id` of `size` bytes, fully allocated (fallocate: a full disk is an error
   * now, not a SIGBUS on a later store), header written, as a temp file linked into place. An
   * existing file is never truncated or replaced. Does not map it.
   */
  static create(dir: string, id: number, size: number): void {
    const tmp = tempPath(segmentPath(dir, id));
    unlinkPath(tmp);
    writeSegmentFile(tmp, id, size);
    Segment.install(dir, id, tmp);
  }

  /** Links a complete segment file built under `tmp` into place as segment `id`, never replacing one. */
  static install(dir: string, id: number, tmp: string): void {
    const path = segmentPath(dir, id);
    try {
      if (!linkPath(tmp, path)) {
        throw new SegmentExists(path, id);
      }
    } finally {
      unlinkPath(tmp);
    }
  }

  get size(): number {
    return this.window.length;
  }

  /** Read with acquire order (a reader that sees SEALED then re-checks the commit word after it). */
  get sealed(): boolean {
    const flags = this.window.u32[SEG_FLAGS_W]!;
    loadFence();
    return (flags & SEALED_FLAG) !== 0;
  }

  /** Marks the segment sealed; sequentially consistent, so ordered after every earlier commit. */
  seal(): void {
    Atomics.or(this.window.u32, SEG_FLAGS_W, SEALED_FLAG);
  }
}

/** Writes a new, fully allocated segment file with its header at `path` (which must not exist). */
export function writeSegmentFile(path: string, id: number, size: number): void {
  const mode = queueFileMode(dirname(path));
  const fd = openNoFollow(path, O_RDWR | O_CREAT | O_EXCL, mode);
  try {
    fchmodFd(fd, mode, path);
    fallocateFd(fd, size, path);
    const header = new Uint32Array(SEGMENT_HEADER_SIZE >> 2);
    header[SEG_MAGIC_W] = SEGMENT_MAGIC;
    header[SEG_VERSION_W] = SEGMENT_VERSION;
    header[SEG_ID_W] = id;
    pwriteAll(fd, new Uint8Array(header.buffer), 0, path);
  } catch (e) {
    closeFd(fd);
    unlinkPath(path);
    throw e;
  }
  closeFd(fd);
}

export function segmentPath(dir: string, id: number): string {
  return join(dir, segmentFileName(id));
}

function headerProblem(u32: Uint32Array, id: number): string | null {
  if (u32.length < SEGMENT_HEADER_SIZE >> 2) return "segment header is truncated";
  if (u32[SEG_MAGIC_W] !== SEGMENT_MAGIC) return `bad segment magic 0x${u32[SEG_MAGIC_W]!.toString(16)}`;
  if (u32[SEG_VERSION_W] !== SEGMENT_VERSION) return `unsupported segment version ${u32[SEG_VERSION_W]}`;
  if (u32[SEG_ID_W] !== id) return `header says segment ${u32[SEG_ID_W]} but the file name says ${id}`;
  return null;
}

/**
 * Runs `fn` on segment `id` mapped in a temporary window (read-only unless `access` is
 * "write"); returns `missing` when the file does not exist. For cold paths (scans at open time,
 * tools).
 */
export function withSegment<T, M>(dir: string, id: number, size: number, missing: M, fn: (seg: Segment) => T, access: SegmentAccess = "read"): T | M {
  const window = Mapping.reserve(size);
  try {
    const seg = Segment.open(dir, id, window, access);
    return seg === null ? missing : fn(seg);
  } finally {
    window.unmap();
  }
}

/** Ids of the segment files in `dir`, ascending. */
export function listSegmentIds(dir: string): number[] {
  const ids: number[] = [];
  for (const name of listDir(dir)) {
    const id = parseSegmentFileName(name);
    if (id >= 0) ids.push(id);
  }
  return ids.sort((a, b) => a - b);
}
