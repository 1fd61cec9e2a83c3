/** The shared control block (control.meta): creation, validation and typed field access. */
import { join } from "node:path";
import { CorruptMetadata, QueueNotFound, UnsupportedVersion, type ErrnoError } from "../errors.ts";
import {
  Mapping, closeFd, fchmodFd, fdSize, fallocateFd, renamePath, unlinkPath, futexWake, isDirectory,
  O_RDONLY, O_RDWR, O_CREAT, O_EXCL, Errno,
} from "../ffi/index.ts";
import {
  CONTROL_FILE, CONTROL_TMP_FILE, CONTROL_SIZE, CONTROL_MAGIC, SUPPORTED_FORMAT_VERSIONS,
  CTL_MAGIC_W, CTL_VERSION_W, CTL_INIT_STATE_W, CTL_WRITER_EPOCH_W, CTL_SEGMENT_SIZE_W,
  CTL_CURRENT_SEGMENT_W, CTL_WRITE_OFFSET_W, CTL_WRITER_HEARTBEAT_W, CTL_NOTIFY_SEQ_W,
  CTL_NOTIFY_SEQ_OFF, CTL_WAITERS_PENDING_W, CTL_WAITERS_PENDING_OFF, INIT_INITIALIZING, INIT_READY, V1_SEGMENT_SIZE,
  isValidSegmentSize, loadFence, readU64, readU64Exact, writeU64, type FormatVersion,
} from "./layout/index.ts";
import { openNoFollow, openRegular } from "./regularFile.ts";

/** How long openers wait for a control block to appear and finish initialising, by default. */
export const DEFAULT_OPEN_TIMEOUT_MS = 2000;

/** How a process opens a control block: see {@link ControlBlock.open}. */
export type ControlAccess = "write" | "read" | "inspect";

export class ControlBlock {
  readonly path: string;
  readonly map: Mapping;
  readonly version: FormatVersion;
  readonly segmentSize: number;
  /** Address of the notify_seq futex word. */
  readonly notifyAddress: number;
  /**
   * Mapped read-write: this process may write the block. A reader without write permission on
   * control.meta maps it read-only and cannot register as a sleeper (see `registers`).
   */
  readonly writable: boolean;
  private closeListeners: (() => void)[] = [];

  private constructor(path: string, map: Mapping, writable: boolean) {
    this.path = path;
    this.map = map;
    this.writable = writable;
    const u32 = map.u32;
    this.version = u32[CTL_VERSION_W] as FormatVersion;
    this.segmentSize = this.version === 1 ? V1_SEGMENT_SIZE : readU64(u32, CTL_SEGMENT_SIZE_W);
    this.notifyAddress = map.address + CTL_NOTIFY_SEQ_OFF;
  }

  /**
   * Creates control.meta through control.tmp + rename, so no opener ever sees a half-built block.
   * Only called by the holder of the writer lock.
   */
  static create(dir: string, version: FormatVersion, segmentSize: number, mode: number): ControlBlock {
    const tmp = join(dir, CONTROL_TMP_FILE);
    const path = join(dir, CONTROL_FILE);
    unlinkPath(tmp);
    const fd = openNoFollow(tmp, O_RDWR | O_CREAT | O_EXCL, 0o644);
    let map: Mapping | null = null;
    try {
      try {
        // Allocated for real before it is mapped: on a full disk a store into a sparse page
        // would be a SIGBUS, fallocate's ENOSPC is an error.
        fchmodFd(fd, mode, tmp);
        fallocateFd(fd, CONTROL_SIZE, tmp);
        map = Mapping.map(fd, CONTROL_SIZE, tmp);
      } finally {
        closeFd(fd);
      }
      const u32 = map.u32;
      u32[CTL_INIT_STATE_W] = INIT_INITIALIZING;
      u32[CTL_VERSION_W] = version;
      if (version === 2) writeU64(u32, CTL_SEGMENT_SIZE_W, segmentSize);
      u32[CTL_MAGIC_W] = CONTROL_MAGIC;
      Atomics.store(u32, CTL_INIT_STATE_W, INIT_READY);
      renamePath(tmp, path);
    } catch (e) {
      map?.unmap();
      try {
        unlinkPath(tmp);
      } catch {
        // The error that stopped the creation is the one to report.
      }
      throw e;
    }
    return new ControlBlock(path, map, true);
  }

  /**
   * Opens an existing control block, waiting up to `timeoutMs` for it to appear and finish
   * initialisation. Never guesses: a wrong size, bad magic or unknown version is an error.
   * `access`: "write" for the writer; "read" maps it read-write when this process may (a v2
   * reader then registers as a sleeper) and read-only otherwise; "inspect" always read-only.
   */
  static open(dir: string, timeoutMs: number, access: ControlAccess): ControlBlock {
    const path = join(dir, CONTROL_FILE);
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const cb = ControlBlock.tryOpen(path, access);
      if (cb instanceof ControlBlock) return cb;
      if (performance.now() >= deadline) {
        if (cb === "missing") {
          throw isDirectory(dir)
            ? new QueueNotFound(path, `no control block appeared within ${timeoutMs} ms; has a writer opened this queue?`)
            : new QueueNotFound(dir, `queue directory does not exist (waited ${timeoutMs} ms for a writer to create it)`);
        }
        throw new CorruptMetadata(path, `control block never finished initialising (init_state stayed below ${INIT_READY} for ${timeoutMs} ms)`);
      }
      Bun.sleepSync(2);
    }
  }

  private static tryOpen(path: string, access: ControlAccess): ControlBlock | "missing" | "initializing" {
    let fd: number;
    let writable = access !== "inspect";
    try {
      fd = openControl(path, writable);
    } catch (e) {
      const errno = (e as ErrnoError).errno;
      if (errno === Errno.ENOENT) return "missing";
      if (access !== "read" || (errno !== Errno.EACCES && errno !== Errno.EROFS && errno !== Errno.EPERM)) throw e;
      writable = false;
      fd = openControl(path, false);
    }
    let map: Mapping;
    try {
      const size = fdSize(fd, path);
      if (size !== CONTROL_SIZE) throw new CorruptMetadata(path, `control block is ${size} bytes, expected ${CONTROL_SIZE}`);
      map = Mapping.map(fd, CONTROL_SIZE, path, writable);
    } finally {
      closeFd(fd);
    }
    const u32 = map.u32;
    const initState = u32[CTL_INIT_STATE_W];
    loadFence();
    if (initState !== INIT_READY) {
      map.unmap();
      return "initializing";
    }
    const problem = ControlBlock.problem(u32);
    if (problem) {
      map.unmap();
      throw problem(path);
    }
    return new ControlBlock(path, map, writable);
  }

  private static problem(u32: Uint32Array): ((path: string) => Error) | null {
    if (u32[CTL_MAGIC_W] !== CONTROL_MAGIC) {
      const magic = u32[CTL_MAGIC_W]!;
      return (p) => new CorruptMetadata(p, `bad control block magic 0x${magic.toString(16)}`);
    }
    const version = u32[CTL_VERSION_W]!;
    if (!(SUPPORTED_FORMAT_VERSIONS as readonly number[]).includes(version)) {
      return (p) => new UnsupportedVersion(p, version, "control block");
    }
    if (version === 2) {
      const size = readU64(u32, CTL_SEGMENT_SIZE_W);
      if (!isValidSegmentSize(size)) return (p) => new CorruptMetadata(p, `invalid segment size ${size} in control block`);
    }
    return null;
  }

  get writerEpoch(): number {
    return readU64(this.map.u32, CTL_WRITER_EPOCH_W);
  }

  set writerEpoch(v: number) {
    writeU64(this.map.u32, CTL_WRITER_EPOCH_W, v);
  }

  /** Hint only: the segment the writer appends to. */
  get currentSegment(): number {
    return this.map.u32[CTL_CURRENT_SEGMENT_W]!;
  }

  set currentSegment(id: number) {
    this.map.u32[CTL_CURRENT_SEGMENT_W] = id;
  }

  /** Hint only: the writer's offset inside the current segment. */
  get writeOffset(): number {
    return readU64(this.map.u32, CTL_WRITE_OFFSET_W);
  }

  set writeOffset(v: number) {
    writeU64(this.map.u32, CTL_WRITE_OFFSET_W, v);
  }

  /** Last writer heartbeat (also written at close), wall clock ns, exact (0 when never written). */
  get writerHeartbeatNs(): bigint {
    return readU64Exact(this.map.u32, CTL_WRITER_HEARTBEAT_W);
  }

  setWriterHeartbeat(hi: number, lo: number): void {
    const u32 = this.map.u32;
    u32[CTL_WRITER_HEARTBEAT_W] = lo;
    u32[CTL_WRITER_HEARTBEAT_W + 1] = hi;
  }

  /** Read with acquire order: a sleeper reads it, then checks for a record. */
  get notifySeq(): number {
    const seq = this.map.u32[CTL_NOTIFY_SEQ_W]!;
    loadFence();
    return seq;
  }

  get waitersPending(): number {
    if (this.version !== 2) return 0;
    const n = this.map.u32[CTL_WAITERS_PENDING_W]!;
    loadFence();
    return n;
  }

  /**
   * True when a sleeper on this block registers in waiters_pending, so that the writer wakes it:
   * format v2, mapped writable. Otherwise (v2 read-only) it is never woken and polls instead.
   */
  get registers(): boolean {
    return this.version === 2 && this.writable;
  }

  /** True when the writer wakes sleepers on this block: v1 (always woken) or a registering v2 sleeper. */
  get wokenByWriter(): boolean {
    return this.version === 1 || this.writable;
  }

  /** Address of waiters_pending when sleepers register in it (see `registers`), else 0. */
  get waitersAddress(): number {
    return this.registers ? this.map.address + CTL_WAITERS_PENDING_OFF : 0;
  }

  /** Registers a sleeper before its final check (when `registers`; v1 writers wake regardless). */
  addWaiter(): void {
    if (this.registers) Atomics.add(this.map.u32, CTL_WAITERS_PENDING_W, 1);
  }

  removeWaiter(): void {
    if (this.registers) Atomics.sub(this.map.u32, CTL_WAITERS_PENDING_W, 1);
  }

  /** Bumps notify_seq and wakes every sleeper (cold paths; the writer's appends use SleeperWaker). */
  notifyAll(): void {
    Atomics.add(this.map.u32, CTL_NOTIFY_SEQ_W, 1);
    futexWake(this.notifyAddress);
  }

  /** True until close(). */
  get isOpen(): boolean {
    return this.map.isMapped;
  }

  /**
   * Calls `listener` in close(), before the block is unmapped: for a helper thread that watches
   * its words and must let go of them first.
   */
  onClose(listener: () => void): void {
    this.closeListeners.push(listener);
  }

  offClose(listener: () => void): void {
    this.closeListeners = this.closeListeners.filter((l) => l !== listener);
  }

  close(): void {
    for (const listener of this.closeListeners) listener();
    this.closeListeners = [];
    this.map.unmap();
  }
}

function openControl(path: string, writable: boolean): number {
  return openRegular(path, writable ? O_RDWR : O_RDONLY);
}
