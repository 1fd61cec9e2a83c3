/** The flyweight a reader returns for each record. */
import { TWO32, payloadOffset, recordSeq, recordTimestampHi, recordTimestampLo, recordTypeId } from "./layout/index.ts";

/** What {@link MessageView} exposes; handy for typing functions that take a message. */
export interface Message {
  readonly seq: number;
  readonly timestampNs: bigint;
  readonly typeId: number;
  readonly payload: Uint8Array;
}

/**
 * A view of one record in mapped memory, re-pointed by every `next()` call: it (and any
 * `payload` taken from it) is valid until the reader's next call. Copy with
 * `payload.slice()` to keep the bytes. Fields are decoded only when read.
 */
export class MessageView implements Message {
  private readonly u8: Uint8Array;
  private readonly u32: Uint32Array;
  private payloadView: Uint8Array | null = null;
  /** Payload length in bytes. */
  length = 0;
  /** Id of the segment holding the record. */
  segment = 0;
  /** Byte offset of the record in its segment. */
  offset = 0;

  /** `u8`/`u32` view the reader's segment window. */
  constructor(u8: Uint8Array, u32: Uint32Array) {
    this.u8 = u8;
    this.u32 = u32;
  }

  /** Re-points the view at the record at `offset`. Internal to readers. */
  wrap(segment: number, offset: number, length: number): void {
    this.segment = segment;
    this.offset = offset;
    this.length = length;
    this.payloadView = null;
  }

  get seq(): number {
    return recordSeq(this.u32, this.offset);
  }

  get typeId(): number {
    return recordTypeId(this.u32, this.offset);
  }

  /** Timestamp in ns since the Unix epoch (allocates a BigInt; see timestampHi/Lo/Ms). */
  get timestampNs(): bigint {
    return (BigInt(recordTimestampHi(this.u32, this.offset)) << 32n) | BigInt(recordTimestampLo(this.u32, this.offset));
  }

  /** High 32 bits of the ns timestamp. */
  get timestampHi(): number {
    return recordTimestampHi(this.u32, this.offset);
  }

  /** Low 32 bits of the ns timestamp. */
  get timestampLo(): number {
    return recordTimestampLo(this.u32, this.offset);
  }

  /** Timestamp in ms since the epoch as a double (sub-µs precision is lost). */
  get timestampMs(): number {
    return (recordTimestampHi(this.u32, this.offset) * TWO32 + recordTimestampLo(this.u32, this.offset)) / 1e6;
  }

  /** The payload bytes, a view into the mapped segment (created on first access). */
  get payload(): Uint8Array {
    if (this.payloadView === null) {
      const start = payloadOffset(this.offset);
      this.payloadView = this.u8.subarray(start, start + this.length);
    }
    return this.payloadView;
  }
}
