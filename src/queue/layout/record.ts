/**
 * The record descriptor. Layout: a 64-byte header, the payload, zero padding to a multiple of
 * 64. Byte offsets are named `*_OFF`, word indices (byte offset / 4) `*_W`. Besides the layout,
 * the small functions here answer every question about a record (is it committed, is it valid,
 * is it a PAD, what are its fields) and perform every write of one (header, commit, PAD): no
 * other module decodes or writes a record header. Functions take the segment's Uint32Array view
 * and the record's byte offset in it.
 */
import { TWO32, loadFence } from "./common.ts";

export const RECORD_HEADER_SIZE = 64;
export const RECORD_ALIGN = 64;

/** u32 commit word: 0 = not committed, n > 0 = committed with payload length n - 1. */
export const COMMIT_OFF = 0;
/** u32 that must stay zero. */
export const RESERVED_OFF = 4;
export const SEQ_OFF = 8;
export const TIMESTAMP_OFF = 16;
/** u16 type id and u16 flags share one word: type in the low half. */
export const TYPE_ID_OFF = 24;
export const FLAGS_OFF = 26;
/** CRC-32/ISO-HDLC of the payload bytes only (0 for PAD). */
export const CRC_OFF = 28;
export const PAYLOAD_OFF = RECORD_HEADER_SIZE;

export const COMMIT_W = COMMIT_OFF >> 2;
export const RESERVED_W = RESERVED_OFF >> 2;
export const SEQ_LO_W = SEQ_OFF >> 2;
export const SEQ_HI_W = SEQ_LO_W + 1;
export const TS_LO_W = TIMESTAMP_OFF >> 2;
export const TS_HI_W = TS_LO_W + 1;
export const TYPE_FLAGS_W = TYPE_ID_OFF >> 2;
export const CRC_W = CRC_OFF >> 2;
export const HEADER_WORDS = RECORD_HEADER_SIZE >> 2;

/** type_id reserved for padding records, which readers skip. */
export const PAD_TYPE_ID = 0xffff;
/** Largest type id an application may use. */
export const MAX_TYPE_ID = 0xfffe;

/** Bytes a record with `payloadLength` bytes of payload occupies. */
export function recordLength(payloadLength: number): number {
  return (payloadLength + RECORD_HEADER_SIZE + RECORD_ALIGN - 1) & ~(RECORD_ALIGN - 1);
}

/** The commit word that publishes a payload of `payloadLength` bytes. */
export function commitWord(payloadLength: number): number {
  return payloadLength + 1;
}

/** {@link committedLength}: the commit word is 0 (or no header fits here): nothing is committed yet. */
export const NOT_COMMITTED = -1;
/** {@link committedLength}: the commit word is set, but the header breaks the format's rules. */
export const CORRUPT = -2;

/**
 * The one validity rule for the record at byte `offset` of a segment of `segmentSize` bytes.
 * Returns its payload length (>= 0) when it is a committed record, application or PAD;
 * {@link NOT_COMMITTED} when its commit word is 0 or no header fits before the segment end;
 * {@link CORRUPT} when the commit word is set but the record cannot be one the writer made:
 * the length does not fit in the segment, the reserved word is not zero, or a PAD breaks the
 * PAD invariants (seq 0, CRC 0, running to the segment end). Readers report CORRUPT as
 * CorruptRecord, and recovery never treats it as free space. The commit word is loaded first,
 * with acquire ordering (a plain load and {@link loadFence}); nothing else of the record is read
 * unless it is set.
 */
export function committedLength(u32: Uint32Array, offset: number, segmentSize: number): number {
  if (offset + RECORD_HEADER_SIZE > segmentSize) return NOT_COMMITTED;
  const w = offset >> 2;
  const c = u32[w + COMMIT_W]!;
  // A plain load, so that readers can map segments read-only; the fence gives it acquire order.
  loadFence();
  if (c === 0) return NOT_COMMITTED;
  const length = c - 1;
  if (!fits(offset, length, segmentSize) || u32[w + RESERVED_W] !== 0) return CORRUPT;
  const end = offset + recordLength(length);
  if ((u32[w + TYPE_FLAGS_W]! & 0xffff) === PAD_TYPE_ID && !padInvariantsHold(u32, w, end, segmentSize)) return CORRUPT;
  return length;
}

/** recordLength is 32-bit arithmetic: a length past any segment is refused before it is rounded. */
function fits(offset: number, length: number, segmentSize: number): boolean {
  return length <= segmentSize && offset + recordLength(length) <= segmentSize;
}

function padInvariantsHold(u32: Uint32Array, w: number, end: number, segmentSize: number): boolean {
  return end === segmentSize && u32[w + SEQ_LO_W] === 0 && u32[w + SEQ_HI_W] === 0 && u32[w + CRC_W] === 0;
}

/** Why {@link committedLength} said CORRUPT for the record at `offset` (for error messages). */
export function corruptionReason(u32: Uint32Array, offset: number, segmentSize: number): string {
  const w = offset >> 2;
  const c = u32[w + COMMIT_W]!;
  if (!fits(offset, c - 1, segmentSize)) {
    return `impossible commit word ${c}: a ${c - 1}-byte payload does not fit in the segment`;
  }
  if (u32[w + RESERVED_W] !== 0) return `reserved header word (bytes 4..8) is 0x${u32[w + RESERVED_W]!.toString(16)}, not 0`;
  return "PAD record breaks the PAD invariants (seq 0, CRC 0, runs to the segment end)";
}

/**
 * The payload length the commit word at `offset` claims, valid or not, when it is set and the
 * record would fit in the segment; -1 otherwise. Only for stepping over damaged records to learn
 * what they held (never to deliver them): {@link committedLength} decides validity.
 */
export function claimedLength(u32: Uint32Array, offset: number, segmentSize: number): number {
  if (offset + RECORD_HEADER_SIZE > segmentSize) return -1;
  const c = u32[(offset >> 2) + COMMIT_W]!;
  loadFence();
  return c !== 0 && fits(offset, c - 1, segmentSize) ? c - 1 : -1;
}

/** {@link readableLength}: a PAD closes the segment at this offset; the next record is in the next segment. */
export const PADDED = -3;

/**
 * What a reader (or a scan) at `offset` finds: the payload length (>= 0) of a committed
 * application record, {@link PADDED}, {@link NOT_COMMITTED} or {@link CORRUPT}. The one step
 * that QueueReader and scanSegment share, so they cannot disagree about a record.
 */
export function readableLength(u32: Uint32Array, offset: number, segmentSize: number): number {
  const length = committedLength(u32, offset, segmentSize);
  return length >= 0 && isPad(u32, offset) ? PADDED : length;
}

/** True when the committed record at `offset` is a PAD (call after committedLength said it is committed). */
export function isPad(u32: Uint32Array, offset: number): boolean {
  return (u32[(offset >> 2) + TYPE_FLAGS_W]! & 0xffff) === PAD_TYPE_ID;
}

/**
 * Step 1 of the publish protocol: every header field but the commit word (which stays 0 until
 * {@link publish}). 64-bit fields come as lo/hi u32 halves; flags are 0.
 */
export function writeHeader(
  u32: Uint32Array, offset: number, seqLo: number, seqHi: number, tsLo: number, tsHi: number, typeId: number, crc: number,
): void {
  const w = offset >> 2;
  u32[w + SEQ_LO_W] = seqLo;
  u32[w + SEQ_HI_W] = seqHi;
  u32[w + TS_LO_W] = tsLo;
  u32[w + TS_HI_W] = tsHi;
  u32[w + TYPE_FLAGS_W] = typeId;
  u32[w + CRC_W] = crc;
}

/**
 * The last step of the publish protocol: the commit word, stored with (sequentially consistent)
 * release ordering after the header and the payload, so a reader that sees it sees them.
 */
export function publish(u32: Uint32Array, offset: number, payloadLength: number): void {
  Atomics.store(u32, (offset >> 2) + COMMIT_W, commitWord(payloadLength));
}

/**
 * Replaces everything from `offset` to the segment end with one PAD record (seq 0, timestamp 0,
 * CRC 0, zero-filled payload), so bytes there can never be mistaken for a record. Only for bytes
 * that hold no committed record: the caller checked committedLength(offset) is NOT_COMMITTED.
 */
export function writePad(u32: Uint32Array, u8: Uint8Array, offset: number, segmentSize: number): void {
  const w = offset >> 2;
  Atomics.store(u32, w + COMMIT_W, 0);
  u8.fill(0, offset + 4, segmentSize);
  u32[w + TYPE_FLAGS_W] = PAD_TYPE_ID;
  publish(u32, offset, segmentSize - offset - RECORD_HEADER_SIZE);
}

/** seq of the record at `offset` (below 2^53). */
export function recordSeq(u32: Uint32Array, offset: number): number {
  const w = offset >> 2;
  return u32[w + SEQ_LO_W]! + u32[w + SEQ_HI_W]! * TWO32;
}

/** type_id of the record at `offset`. */
export function recordTypeId(u32: Uint32Array, offset: number): number {
  return u32[(offset >> 2) + TYPE_FLAGS_W]! & 0xffff;
}

/** Low 32 bits of the record's ns timestamp. */
export function recordTimestampLo(u32: Uint32Array, offset: number): number {
  return u32[(offset >> 2) + TS_LO_W]!;
}

/** High 32 bits of the record's ns timestamp. */
export function recordTimestampHi(u32: Uint32Array, offset: number): number {
  return u32[(offset >> 2) + TS_HI_W]!;
}

/** The record's ns timestamp as a bigint (one allocation; paths that must not allocate read the two halves). */
export function recordTimestampNs(data: DataView, offset: number): bigint {
  return data.getBigUint64(offset + TIMESTAMP_OFF, true);
}

/** The payload CRC stored in the record's header. */
export function recordCrc(u32: Uint32Array, offset: number): number {
  return u32[(offset >> 2) + CRC_W]!;
}

/** Byte offset of the payload of the record at `offset`. */
export function payloadOffset(offset: number): number {
  return offset + PAYLOAD_OFF;
}
