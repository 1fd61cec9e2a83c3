/**
 * readers/<name>.meta layout: two 40-byte slots, each protected by a CRC, so a torn write
 * always leaves the other slot valid. Legacy 8- and 16-byte forms are read only.
 */

export const READER_META_SIZE = 80;
export const READER_SLOT_SIZE = 40;
export const READER_SLOT_COUNT = 2;
/** Bytes of a slot covered by its CRC. */
export const READER_SLOT_CRC_SPAN = 32;

export const SLOT_SEGMENT_OFF = 0;
export const SLOT_OFFSET_OFF = 8;
export const SLOT_HEARTBEAT_OFF = 16;
export const SLOT_GENERATION_OFF = 24;
export const SLOT_CRC_OFF = 32;
export const SLOT_ZERO_OFF = 36;

/** Legacy: offset u64 in segment 0. */
export const LEGACY_OFFSET_ONLY_SIZE = 8;
/** Legacy: segment u64, offset u64. */
export const LEGACY_SEGMENT_OFFSET_SIZE = 16;

/** Byte offset of slot `i` in the file. */
export function slotOffset(i: number): number {
  return i * READER_SLOT_SIZE;
}

/** The slot a store of generation `generation` goes to. */
export function slotForGeneration(generation: number): number {
  return generation % READER_SLOT_COUNT;
}
