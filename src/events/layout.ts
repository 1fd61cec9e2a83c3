/**
 * The batch descriptor: the payload of one log record, which holds every event of one append.
 * All integers little-endian; no alignment (read through a DataView).
 *
 *   batch header (24 bytes): u32 magic, u32 section count, u32 event count, u32 reserved (0),
 *                            u64 globalSeq of the batch's first event
 *   per stream, a section:   u32 section length (bytes, header included), u32 version of its
 *                            first event, u32 event count, u16 stream id length, the id (UTF-8)
 *   per event:               u16 type length, u32 data length, u32 metadata length + 1 (0: no
 *                            metadata), then the type (UTF-8), the data and the metadata bytes
 *
 * Nothing else in src/events knows these offsets as numbers.
 */

/** Queue record type id of a batch; the store's log holds no other type. */
export const BATCH_TYPE_ID = 0xe5e5;
/** "CEB1" read as a little-endian u32. */
export const BATCH_MAGIC = 0x31424543;

/** Batch header fields (byte offsets from the payload start). */
export const BATCH_MAGIC_OFF = 0;
export const BATCH_SECTIONS_OFF = 4;
export const BATCH_EVENTS_OFF = 8;
export const BATCH_RESERVED_OFF = 12;
export const BATCH_FIRST_GLOBAL_OFF = 16;
export const BATCH_HEADER_SIZE = 24;

/** Section header fields (byte offsets from the section start). */
export const SECTION_LENGTH_OFF = 0;
export const SECTION_FIRST_VERSION_OFF = 4;
export const SECTION_EVENTS_OFF = 8;
export const SECTION_ID_LENGTH_OFF = 12;
export const SECTION_ID_OFF = 14;

/** Event header fields (byte offsets from the event start). */
export const EVENT_TYPE_LENGTH_OFF = 0;
export const EVENT_DATA_LENGTH_OFF = 2;
export const EVENT_META_LENGTH_OFF = 6;
export const EVENT_HEADER_SIZE = 10;

/** Longest stream id, in UTF-8 bytes. */
export const MAX_STREAM_ID_BYTES = 1024;
/** Longest event type name, in UTF-8 bytes. */
export const MAX_EVENT_TYPE_BYTES = 255;
/** Highest version a stream can reach (the u32 of a section's first version). */
export const MAX_VERSION = 0xffffffff;

const TWO32 = 2 ** 32;

/** Bytes of a section header for an id of `idBytes` bytes. */
export function sectionHeaderSize(idBytes: number): number {
  return SECTION_ID_OFF + idBytes;
}

/** Bytes of an event with the given part lengths (metadata -1: none). */
export function eventSize(typeBytes: number, dataBytes: number, metaBytes: number): number {
  return EVENT_HEADER_SIZE + typeBytes + dataBytes + Math.max(0, metaBytes);
}

/** Writes the batch header (first globalSeq left for setFirstGlobalSeq). */
export function writeBatchHeader(dv: DataView, base: number, sections: number, events: number): void {
  dv.setUint32(base + BATCH_MAGIC_OFF, BATCH_MAGIC, true);
  dv.setUint32(base + BATCH_SECTIONS_OFF, sections, true);
  dv.setUint32(base + BATCH_EVENTS_OFF, events, true);
  dv.setUint32(base + BATCH_RESERVED_OFF, 0, true);
}

/** Sets the globalSeq of the batch's first event. */
export function setFirstGlobalSeq(dv: DataView, base: number, seq: number): void {
  dv.setUint32(base + BATCH_FIRST_GLOBAL_OFF, seq % TWO32, true);
  dv.setUint32(base + BATCH_FIRST_GLOBAL_OFF + 4, Math.floor(seq / TWO32), true);
}

/** The globalSeq of the batch's first event. */
export function firstGlobalSeq(dv: DataView, base: number): number {
  return dv.getUint32(base + BATCH_FIRST_GLOBAL_OFF + 4, true) * TWO32 + dv.getUint32(base + BATCH_FIRST_GLOBAL_OFF, true);
}

/** Number of sections (streams with events) in the batch. */
export function batchSections(dv: DataView, base: number): number {
  return dv.getUint32(base + BATCH_SECTIONS_OFF, true);
}

/** Number of events in the batch. */
export function batchEvents(dv: DataView, base: number): number {
  return dv.getUint32(base + BATCH_EVENTS_OFF, true);
}

/** Why the batch header at `base` (payload of `length` bytes) is not one the store wrote, or null. */
export function batchHeaderProblem(dv: DataView, base: number, length: number): string | null {
  if (length < BATCH_HEADER_SIZE) return `payload of ${length} bytes is shorter than a batch header`;
  const magic = dv.getUint32(base + BATCH_MAGIC_OFF, true);
  if (magic !== BATCH_MAGIC) return `bad batch magic 0x${magic.toString(16)}`;
  if (dv.getUint32(base + BATCH_RESERVED_OFF, true) !== 0) return "batch reserved word is not zero";
  return null;
}

/** Writes a section header (first version left 0 for setSectionFirstVersion). */
export function writeSectionHeader(dv: DataView, at: number, length: number, events: number, idBytes: number): void {
  dv.setUint32(at + SECTION_LENGTH_OFF, length, true);
  dv.setUint32(at + SECTION_FIRST_VERSION_OFF, 0, true);
  dv.setUint32(at + SECTION_EVENTS_OFF, events, true);
  dv.setUint16(at + SECTION_ID_LENGTH_OFF, idBytes, true);
}

/** Sets the version of the section's first event. */
export function setSectionFirstVersion(dv: DataView, at: number, version: number): void {
  dv.setUint32(at + SECTION_FIRST_VERSION_OFF, version, true);
}

/** Bytes of the section, header included. */
export function sectionLength(dv: DataView, at: number): number {
  return dv.getUint32(at + SECTION_LENGTH_OFF, true);
}

/** Version of the section's first event. */
export function sectionFirstVersion(dv: DataView, at: number): number {
  return dv.getUint32(at + SECTION_FIRST_VERSION_OFF, true);
}

/** Number of events in the section. */
export function sectionEvents(dv: DataView, at: number): number {
  return dv.getUint32(at + SECTION_EVENTS_OFF, true);
}

/** Bytes of the section's stream id. */
export function sectionIdLength(dv: DataView, at: number): number {
  return dv.getUint16(at + SECTION_ID_LENGTH_OFF, true);
}

/** Writes an event header (metadata length -1: none). */
export function writeEventHeader(dv: DataView, at: number, typeBytes: number, dataBytes: number, metaBytes: number): void {
  dv.setUint16(at + EVENT_TYPE_LENGTH_OFF, typeBytes, true);
  dv.setUint32(at + EVENT_DATA_LENGTH_OFF, dataBytes, true);
  dv.setUint32(at + EVENT_META_LENGTH_OFF, metaBytes + 1, true);
}

/** Bytes of the event's type name. */
export function eventTypeLength(dv: DataView, at: number): number {
  return dv.getUint16(at + EVENT_TYPE_LENGTH_OFF, true);
}

/** Bytes of the event's data. */
export function eventDataLength(dv: DataView, at: number): number {
  return dv.getUint32(at + EVENT_DATA_LENGTH_OFF, true);
}

/** Metadata length, -1 when the event has none. */
export function eventMetaLength(dv: DataView, at: number): number {
  return dv.getUint32(at + EVENT_META_LENGTH_OFF, true) - 1;
}
