/** The flyweight a reader returns for each record. */
import { TWO32, payloadOffset, recordSeq, recordTimestampHi, recordTimestampLo, recordTimestampNs, recordTypeId } from "./layout/index.ts";
import type { Mapping } from "../ffi/index.ts";

/** What {@link MessageView} exposes; handy for typing functions that take a message. */
export interface Message {
  readonly seq: number;
  readonly timestampNs: bigint;
  readonly typeId: number;
  readonly payload: Uint8Array;
}

/** Payload bytes shown by the inspect form. */
const PREVIEW_BYTES = 16;

/**
 * A view of one record in mapped memory, re-pointed by every `next()` call: it (and any
 * `payload` taken from it) is valid until the reader's next call. Copy with
 * `payload.slice()` to keep the bytes. Fields are decoded only when read.
 *
 * To decode without allocating, read the payload in place: `buffer` and `data` view the whole
 * segment (read-only memory: never write to them), and the payload is the `length` bytes from
 * `payloadOffset`, e.g. `m.data.getFloat64(m.payloadOffset + 8, true)`.
 */
export class MessageView implements Message {
  /** The bytes of the segment holding the record (read-only; valid until the next call). */
  readonly buffer: Uint8Array;
  /** A DataView of the same segment, for reading payload fields in place. */
  readonly data: DataView;
  private readonly u32: Uint32Array;
  private payloadView: Uint8Array | null = null;
  /** Payload length in bytes. */
  length = 0;
  /** Id of the segment holding the record. */
  segment = 0;
  /** Byte offset of the record in its segment. */
  offset = 0;
  /** Byte offset of the payload in `buffer` / `data`. */
  payloadOffset = 0;

  /** Views the reader's segment window. @internal */
  constructor(window: Mapping) {
    this.buffer = window.u8;
    this.data = window.data;
    this.u32 = window.u32;
  }

  /** Re-points the view at the record at `offset`. Internal to readers. */
  wrap(segment: number, offset: number, length: number): void {
    this.segment = segment;
    this.offset = offset;
    this.payloadOffset = payloadOffset(offset);
    this.length = length;
    this.payloadView = null;
  }

  /** The record's sequence number. */
  get seq(): number {
    return recordSeq(this.u32, this.offset);
  }

  /** The record's type id (0 to 65534). */
  get typeId(): number {
    return recordTypeId(this.u32, this.offset);
  }

  /** Timestamp in ns since the Unix epoch (allocates a BigInt; see timestampHi/Lo/Ms). */
  get timestampNs(): bigint {
    return recordTimestampNs(this.data, this.offset);
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

  /** The payload bytes, a view into the mapped segment (created on first access: an allocation). */
  get payload(): Uint8Array {
    if (this.payloadView === null) {
      const start = this.payloadOffset;
      this.payloadView = this.buffer.subarray(start, start + this.length);
    }
    return this.payloadView;
  }

  /** A plain snapshot (the timestamp as a decimal string, the payload length, not its bytes). */
  toJSON(): { seq: number; typeId: number; timestampNs: string; length: number; segment: number; offset: number } {
    return { seq: this.seq, typeId: this.typeId, timestampNs: this.timestampNs.toString(), length: this.length, segment: this.segment, offset: this.offset };
  }

  /** The console form: the header fields and the first payload bytes, never the whole segment. */
  [Bun.inspect.custom](): string {
    const shown = this.buffer.subarray(this.payloadOffset, this.payloadOffset + Math.min(this.length, PREVIEW_BYTES));
    const hex = Array.from(shown, (b) => b.toString(16).padStart(2, "0")).join(" ");
    const more = this.length > PREVIEW_BYTES ? " …" : "";
    return `MessageView { seq: ${this.seq}, typeId: ${this.typeId}, timestampNs: ${this.timestampNs}n, length: ${this.length}, payload: <${hex}${more}> }`;
  }
}
