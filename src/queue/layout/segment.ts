/** Segment file layout: a 64-byte header, then records from offset 64 to the end of the file. */

export const SEGMENT_HEADER_SIZE = 64;
export const SEGMENT_MAGIC = 0x53454730;
export const SEGMENT_VERSION = 1;

export const SEG_MAGIC_OFF = 0;
export const SEG_VERSION_OFF = 4;
export const SEG_ID_OFF = 8;
export const SEG_FLAGS_OFF = 12;

export const SEG_MAGIC_W = SEG_MAGIC_OFF >> 2;
export const SEG_VERSION_W = SEG_VERSION_OFF >> 2;
export const SEG_ID_W = SEG_ID_OFF >> 2;
export const SEG_FLAGS_W = SEG_FLAGS_OFF >> 2;

/** flags bit 0: the writer will never append to this segment again. */
export const SEALED_FLAG = 1;

/** Format version 1 segments are always 1 MiB. */
export const V1_SEGMENT_SIZE = 1 << 20;
export const MIN_SEGMENT_SIZE = 64 << 10;
/** Upper bound this implementation accepts (offsets stay in 31-bit integer arithmetic). */
export const MAX_SEGMENT_SIZE = 1 << 30;
export const DEFAULT_SEGMENT_SIZE = 64 << 20;

/** Largest payload a record in a segment of `segmentSize` bytes may carry. */
export function maxPayloadLength(segmentSize: number): number {
  return segmentSize - SEGMENT_HEADER_SIZE - 64;
}

/** "000000042.q": decimal id zero-padded to 9 digits (wider ids just grow). */
export function segmentFileName(id: number): string {
  return `${String(id).padStart(9, "0")}.q`;
}

const SEGMENT_NAME = /^(\d{9,})\.q$/;

/** The id of a segment file name, or -1 when the name is not a segment. */
export function parseSegmentFileName(name: string): number {
  const m = SEGMENT_NAME.exec(name);
  return m ? Number(m[1]) : -1;
}

export function isValidSegmentSize(size: number): boolean {
  return Number.isInteger(size) && size >= MIN_SEGMENT_SIZE && size <= MAX_SEGMENT_SIZE && (size & (size - 1)) === 0;
}
