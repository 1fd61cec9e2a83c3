/** A reader's persisted position (readers/<name>.meta): two CRC-protected slots, mapped. */
import { dirname, join } from "node:path";
import { CorruptMetadata, ReaderAlreadyActive, type ErrnoError } from "../errors.ts";
import {
  Mapping, closeFd, fdSize, flockFd, linkPath, unlinkPath, writeFileAtomic, preadFd,
  O_RDWR, LOCK_EX, LOCK_NB, WallClock, Errno,
} from "../ffi/index.ts";
import { crc32Words } from "./crc32.ts";
import { queueFileMode } from "./access.ts";
import { openRegular } from "./regularFile.ts";
import {
  READERS_DIR, READER_META_EXT, READER_META_SIZE, READER_SLOT_COUNT, READER_SLOT_CRC_SPAN,
  SLOT_SEGMENT_OFF, SLOT_OFFSET_OFF, SLOT_HEARTBEAT_OFF, SLOT_GENERATION_OFF, SLOT_CRC_OFF, SLOT_ZERO_OFF,
  LEGACY_OFFSET_ONLY_SIZE, LEGACY_SEGMENT_OFFSET_SIZE, slotOffset, slotForGeneration, readU64, readU64Exact, writeU64, tempPath,
} from "./layout/index.ts";

/** A decoded reader position. */
export interface ReaderPosition {
  segment: number;
  offset: number;
  /** Wall-clock ns of the last store or heartbeat (0 when never written). */
  heartbeatNs: bigint;
  generation: number;
}

export function readerMetaPath(queueDir: string, name: string): string {
  return join(queueDir, READERS_DIR, name + READER_META_EXT);
}

/**
 * Decodes reader meta bytes (80-byte two-slot form or the legacy 8/16-byte forms). Returns null
 * when no slot is valid. Used by readers, by retention and by tools, so it never throws.
 */
export function decodeReaderMeta(bytes: Uint8Array): ReaderPosition | null {
  if (bytes.length === LEGACY_OFFSET_ONLY_SIZE || bytes.length === LEGACY_SEGMENT_OFFSET_SIZE) {
    const u32 = new Uint32Array(bytes.slice().buffer);
    const legacyTwo = bytes.length === LEGACY_SEGMENT_OFFSET_SIZE;
    return { segment: legacyTwo ? readU64(u32, 0) : 0, offset: readU64(u32, legacyTwo ? 2 : 0), heartbeatNs: 0n, generation: 0 };
  }
  if (bytes.length !== READER_META_SIZE) return null;
  const copy = bytes.slice();
  const u32 = new Uint32Array(copy.buffer);
  let best: ReaderPosition | null = null;
  for (let i = 0; i < READER_SLOT_COUNT; i++) {
    const base = slotOffset(i);
    const w = base >> 2;
    if (crc32Words(u32, copy, base, READER_SLOT_CRC_SPAN) !== u32[w + (SLOT_CRC_OFF >> 2)]) continue;
    const slot: ReaderPosition = {
      segment: readU64(u32, w + (SLOT_SEGMENT_OFF >> 2)),
      offset: readU64(u32, w + (SLOT_OFFSET_OFF >> 2)),
      heartbeatNs: readU64Exact(u32, w + (SLOT_HEARTBEAT_OFF >> 2)),
      generation: readU64(u32, w + (SLOT_GENERATION_OFF >> 2)),
    };
    if (best === null || slot.generation > best.generation) best = slot;
  }
  return best;
}

/** Encodes one store of `generation` into its slot of an 80-byte meta image. */
function encodeSlot(
  u32: Uint32Array, u8: Uint8Array, generation: number, segment: number, offset: number, hbHi: number, hbLo: number,
): void {
  const base = slotOffset(slotForGeneration(generation));
  const w = base >> 2;
  writeU64(u32, w + (SLOT_SEGMENT_OFF >> 2), segment);
  writeU64(u32, w + (SLOT_OFFSET_OFF >> 2), offset);
  u32[w + (SLOT_HEARTBEAT_OFF >> 2)] = hbLo;
  u32[w + (SLOT_HEARTBEAT_OFF >> 2) + 1] = hbHi;
  writeU64(u32, w + (SLOT_GENERATION_OFF >> 2), generation);
  u32[w + (SLOT_ZERO_OFF >> 2)] = 0;
  u32[w + (SLOT_CRC_OFF >> 2)] = crc32Words(u32, u8, base, READER_SLOT_CRC_SPAN);
}

/**
 * The meta file of one open, named reader. It holds an exclusive flock on the file for its whole
 * life (a second reader with the same name fails fast) and stores positions through a shared
 * mapping, so a commit costs a few stores and no syscall yet survives a process crash.
 */
export class ReaderMetaFile {
  readonly path: string;
  /** The position found on open, or null for a new reader. */
  readonly initial: ReaderPosition | null;
  private readonly fd: number;
  private readonly map: Mapping;
  private generation: number;
  private segment: number;
  private offset: number;
  private readonly clock = new WallClock();

  private constructor(path: string, fd: number, map: Mapping, initial: ReaderPosition | null) {
    this.path = path;
    this.fd = fd;
    this.map = map;
    this.initial = initial;
    this.generation = initial?.generation ?? 0;
    this.segment = initial?.segment ?? 0;
    this.offset = initial?.offset ?? 0;
  }

  /**
   * Opens (creating when absent) the meta of reader `name`. `start` gives the position written
   * for a new reader and is called only then. Throws CorruptMetadata when both slots are invalid.
   */
  static open(queueDir: string, name: string, start: () => { segment: number; offset: number }): ReaderMetaFile {
    const path = readerMetaPath(queueDir, name);
    let fd = ReaderMetaFile.openExisting(path);
    if (fd < 0) fd = ReaderMetaFile.createNew(path, start());
    try {
      if (!flockFd(fd, LOCK_EX | LOCK_NB, path)) throw new ReaderAlreadyActive(path);
      const size = fdSize(fd, path);
      const position = decodeReaderMeta(preadFd(fd, size, 0, path));
      if (position === null) {
        throw new CorruptMetadata(path, size === READER_META_SIZE
          ? "both reader meta slots fail their CRC; delete the file to restart this reader from the oldest segment"
          : `reader meta is ${size} bytes; expected ${READER_META_SIZE} (or legacy 8/16)`);
      }
      if (size !== READER_META_SIZE) {
        // Legacy form: rewrite as the two-slot form in place of the old file, then lock that.
        closeFd(fd);
        fd = -1;
        const image = new Uint8Array(READER_META_SIZE);
        const u32 = new Uint32Array(image.buffer);
        encodeSlot(u32, image, 1, position.segment, position.offset, 0, 0);
        writeFileAtomic(path, tempPath(path), image, false, queueFileMode(queueDir));
        return ReaderMetaFile.open(queueDir, name, start);
      }
      const map = Mapping.map(fd, READER_META_SIZE, path);
      return new ReaderMetaFile(path, fd, map, position);
    } catch (e) {
      if (fd >= 0) closeFd(fd);
      throw e;
    }
  }

  private static openExisting(path: string): number {
    try {
      return openRegular(path, O_RDWR);
    } catch (e) {
      if ((e as ErrnoError).errno === Errno.ENOENT) return -1;
      throw e;
    }
  }

  /** Creates the file complete (temp + link), so no opener sees a partial meta. */
  private static createNew(path: string, start: { segment: number; offset: number }): number {
    const image = new Uint8Array(READER_META_SIZE);
    const u32 = new Uint32Array(image.buffer);
    const clock = new WallClock();
    clock.read();
    encodeSlot(u32, image, 1, start.segment, start.offset, clock.hi, clock.lo);
    // A per-process name: two openers of a new name must not build the same file.
    const tmp = tempPath(`${path}.${process.pid}`);
    writeFileAtomic(tmp, tempPath(tmp), image, false, queueFileMode(dirname(dirname(path))));
    // link() never replaces: if another process created the meta meanwhile, theirs wins.
    linkPath(tmp, path);
    unlinkPath(tmp);
    return openRegular(path, O_RDWR);
  }

  /** Persists `segment`/`offset` with a fresh heartbeat into the older slot. */
  store(segment: number, offset: number): void {
    this.segment = segment;
    this.offset = offset;
    this.clock.read();
    this.generation++;
    encodeSlot(this.map.u32, this.map.u8, this.generation, segment, offset, this.clock.hi, this.clock.lo);
  }

  /** Refreshes the heartbeat, keeping the stored position. */
  touch(): void {
    this.store(this.segment, this.offset);
  }

  close(): void {
    this.map.unmap();
    closeFd(this.fd);
  }
}
