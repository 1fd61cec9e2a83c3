/** The checkpoint (index.meta). A hint for tools and recovery; never trusted blindly. */
import { join } from "node:path";
import { writeFileAtomic } from "../ffi/index.ts";
import { queueFileMode } from "./access.ts";
import { readRegular } from "./regularFile.ts";
import { CHECKPOINT_FILE, CHECKPOINT_SIZE, CHECKPOINT_SEGMENT_OFF, CHECKPOINT_WRITE_OFFSET_OFF, readU64, writeU64, tempPath } from "./layout/index.ts";

export interface Checkpoint {
  segment: number;
  writeOffset: number;
}

/**
 * Reads index.meta; null when missing or not exactly 16 bytes (a truncated file is ignored).
 * Something other than a regular file there is CorruptMetadata.
 */
export function readCheckpoint(dir: string): Checkpoint | null {
  const bytes = readRegular(join(dir, CHECKPOINT_FILE));
  if (bytes === null || bytes.length !== CHECKPOINT_SIZE) return null;
  const u32 = new Uint32Array(bytes.slice().buffer);
  return { segment: readU64(u32, CHECKPOINT_SEGMENT_OFF >> 2), writeOffset: readU64(u32, CHECKPOINT_WRITE_OFFSET_OFF >> 2) };
}

/** Writes index.meta atomically (temp + rename). */
export function writeCheckpoint(dir: string, cp: Checkpoint, durable = false): void {
  const image = new Uint8Array(CHECKPOINT_SIZE);
  const u32 = new Uint32Array(image.buffer);
  writeU64(u32, CHECKPOINT_SEGMENT_OFF >> 2, cp.segment);
  writeU64(u32, CHECKPOINT_WRITE_OFFSET_OFF >> 2, cp.writeOffset);
  const path = join(dir, CHECKPOINT_FILE);
  writeFileAtomic(path, tempPath(path), image, durable, queueFileMode(dir));
}
