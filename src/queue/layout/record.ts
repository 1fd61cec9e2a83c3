/**
 * Record (message) layout: a 64-byte header, the payload, zero padding to a multiple of 64.
 * Byte offsets are named `*_OFF`; the word indices (`*_W`, byte offset / 4) are what the hot
 * paths use on Uint32Array/Int32Array views.
 */

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
