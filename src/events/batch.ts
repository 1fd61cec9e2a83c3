/**
 * Encoding an append into one batch payload, and decoding batches (see layout.ts). The encoder
 * fills a reused scratch buffer before the append takes the writer; only the versions and the
 * first globalSeq are patched in under it.
 */
import { CorruptRecord, EventEncodingFailed } from "../errors.ts";
import type { MessageView } from "../queue/messageView.ts";
import type { EventCodec } from "./codec.ts";
import {
  BATCH_HEADER_SIZE, BATCH_TYPE_ID, EVENT_HEADER_SIZE, batchEvents, batchHeaderProblem, batchSections, eventDataLength, eventMetaLength,
  eventTypeLength, firstGlobalSeq, sectionEvents, sectionFirstVersion, sectionHeaderSize, sectionIdLength, sectionLength,
  setFirstGlobalSeq, setSectionFirstVersion, writeBatchHeader, writeEventHeader, writeSectionHeader, SECTION_ID_OFF,
} from "./layout.ts";
import type { AppendWrite, StoredEvent } from "./types.ts";

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** Where an encoded write's section sits in the scratch buffer, for the patch under the writer. */
interface SectionSlot {
  write: AppendWrite;
  at: number;
}

/** Builds batch payloads in one growing scratch buffer. Not reentrant: one batch at a time. */
export class BatchEncoder {
  private buf = new Uint8Array(4096);
  private dv = new DataView(this.buf.buffer);
  private length = 0;
  /** Sections of the batch being built, in write order (writes without events have none). */
  readonly slots: SectionSlot[] = [];

  /**
   * Encodes every write with events into a batch (versions and globalSeq left 0) and returns
   * its length. EventEncodingFailed when the codec refuses a value; nothing is kept then.
   */
  encode(root: string, writes: readonly AppendWrite[], codec: EventCodec): number {
    this.slots.length = 0;
    let at = BATCH_HEADER_SIZE;
    let events = 0;
    for (const write of writes) {
      if (write.events.length === 0) continue;
      const start = at;
      this.ensure(at + SECTION_ID_OFF + write.stream.length * 3);
      const idBytes = utf8.encodeInto(write.stream, this.buf.subarray(start + SECTION_ID_OFF)).written;
      at = start + sectionHeaderSize(idBytes);
      for (let i = 0; i < write.events.length; i++) at = this.encodeEvent(root, write, i, at, codec);
      writeSectionHeader(this.dv, start, at - start, write.events.length, idBytes);
      events += write.events.length;
      this.slots.push({ write, at: start });
    }
    writeBatchHeader(this.dv, 0, this.slots.length, events);
    this.length = at;
    return at;
  }

  /** Sets the version of section `slot`'s first event. */
  setFirstVersion(slot: number, version: number): void {
    setSectionFirstVersion(this.dv, this.slots[slot]!.at, version);
  }

  setFirstGlobalSeq(seq: number): void {
    setFirstGlobalSeq(this.dv, 0, seq);
  }

  /** The encoded batch (a view of the scratch buffer: valid until the next encode). */
  get bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }

  private encodeEvent(root: string, write: AppendWrite, index: number, at: number, codec: EventCodec): number {
    const event = write.events[index]!;
    const data = encodeValue(root, write.stream, index, event.data, codec);
    const meta = event.metadata === undefined ? null : encodeValue(root, write.stream, index, event.metadata, codec);
    const metaBytes = meta === null ? -1 : meta.length;
    this.ensure(at + EVENT_HEADER_SIZE + event.type.length * 3 + data.length + Math.max(0, metaBytes));
    const typeAt = at + EVENT_HEADER_SIZE;
    const typeBytes = utf8.encodeInto(event.type, this.buf.subarray(typeAt)).written;
    writeEventHeader(this.dv, at, typeBytes, data.length, metaBytes);
    let p = typeAt + typeBytes;
    this.buf.set(data, p);
    p += data.length;
    if (meta !== null) {
      this.buf.set(meta, p);
      p += meta.length;
    }
    return p;
  }

  private ensure(bytes: number): void {
    if (bytes <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < bytes) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf);
    this.buf = next;
    this.dv = new DataView(next.buffer);
  }
}

function encodeValue(root: string, stream: string, index: number, value: unknown, codec: EventCodec): Uint8Array {
  let bytes: unknown;
  try {
    bytes = codec.encode(value);
  } catch (e) {
    throw new EventEncodingFailed(root, stream, index, `${codec.name}: ${e instanceof Error ? e.message : String(e)}`, e);
  }
  if (!(bytes instanceof Uint8Array)) throw new EventEncodingFailed(root, stream, index, `codec ${codec.name} returned ${typeof bytes}, not a Uint8Array`);
  return bytes;
}

/** One section of a batch as the index needs it. */
export interface SectionInfo {
  /** Byte offset of the section in the DataView. */
  at: number;
  stream: string;
  firstVersion: number;
  events: number;
}

/**
 * Checks the whole structure of the batch payload at `base` (`length` bytes) and calls `fn`
 * for each section, in order. Returns why the batch is malformed, or null. Reads headers only,
 * never event data.
 */
export function forEachSection(dv: DataView, u8: Uint8Array, base: number, length: number, fn: (s: SectionInfo) => void): string | null {
  const problem = batchHeaderProblem(dv, base, length);
  if (problem !== null) return problem;
  const end = base + length;
  const text = bufferOver(u8);
  const sections = batchSections(dv, base);
  let events = 0;
  let at = base + BATCH_HEADER_SIZE;
  const info: SectionInfo = { at: 0, stream: "", firstVersion: 0, events: 0 };
  for (let s = 0; s < sections; s++) {
    if (at + SECTION_ID_OFF > end) return `section ${s} starts past the payload`;
    const len = sectionLength(dv, at);
    const idLen = sectionIdLength(dv, at);
    const sectionEnd = at + len;
    if (len < sectionHeaderSize(idLen) || sectionEnd > end) return `section ${s} length ${len} does not fit the payload`;
    const count = sectionEvents(dv, at);
    const firstVersion = sectionFirstVersion(dv, at);
    if (count === 0 || firstVersion === 0) return `section ${s} has ${count} events from version ${firstVersion}`;
    const eventsProblem = checkEvents(dv, at + sectionHeaderSize(idLen), sectionEnd, count);
    if (eventsProblem !== null) return `section ${s}: ${eventsProblem}`;
    info.at = at;
    info.stream = text.toString("utf8", at + SECTION_ID_OFF, at + SECTION_ID_OFF + idLen);
    info.firstVersion = firstVersion;
    info.events = count;
    fn(info);
    events += count;
    at = sectionEnd;
  }
  if (at !== end) return `${end - at} bytes after the last section`;
  if (events !== batchEvents(dv, base)) return `sections hold ${events} events, the header says ${batchEvents(dv, base)}`;
  return null;
}

/** Walks `count` event headers from `at`; they must end exactly at `end`. */
function checkEvents(dv: DataView, at: number, end: number, count: number): string | null {
  for (let i = 0; i < count; i++) {
    if (at + EVENT_HEADER_SIZE > end) return `event ${i} starts past the section`;
    at += EVENT_HEADER_SIZE + eventTypeLength(dv, at) + eventDataLength(dv, at) + Math.max(0, eventMetaLength(dv, at));
  }
  return at === end ? null : `events end at ${at}, the section at ${end}`;
}

/** globalSeq of the first event of the batch at `base`. */
export function batchFirstGlobalSeq(dv: DataView, base: number): number {
  return firstGlobalSeq(dv, base);
}

/**
 * Finds the section of the stream whose UTF-8 id is `id` in the (already validated) batch at
 * `base`; returns its offset and sets `eventsBefore[0]` to the number of events of earlier
 * sections (for globalSeq). -1 when the batch has no such section.
 */
export function findSection(dv: DataView, u8: Uint8Array, base: number, id: Uint8Array, eventsBefore: number[]): number {
  const sections = batchSections(dv, base);
  let at = base + BATCH_HEADER_SIZE;
  let before = 0;
  for (let s = 0; s < sections; s++) {
    if (sectionIdLength(dv, at) === id.length && sameBytes(u8, at + SECTION_ID_OFF, id)) {
      eventsBefore[0] = before;
      return at;
    }
    before += sectionEvents(dv, at);
    at += sectionLength(dv, at);
  }
  return -1;
}

function sameBytes(u8: Uint8Array, at: number, id: Uint8Array): boolean {
  for (let i = 0; i < id.length; i++) if (u8[at + i] !== id[i]) return false;
  return true;
}

const buffers = new WeakMap<Uint8Array, Buffer>();

/** A Buffer over the memory of `u8`, made once per array (mappings keep theirs): text decodes without a view per field. */
function bufferOver(u8: Uint8Array): Buffer {
  let b = buffers.get(u8);
  if (b === undefined) {
    b = Buffer.from(u8.buffer, u8.byteOffset, u8.length);
    buffers.set(u8, b);
  }
  return b;
}

/** What decodeSection needs besides the bytes. */
export interface DecodeContext {
  codec: EventCodec;
  stream: string;
  /** globalSeq of the section's first event. */
  firstGlobal: number;
  timestampNs: bigint;
  /** Events below this version are skipped (their data is not decoded). */
  fromVersion: number;
}

/** Decodes the events of the section at `at` into `out`. */
export function decodeSection(dv: DataView, u8: Uint8Array, at: number, ctx: DecodeContext, out: StoredEvent[]): void {
  const first = sectionFirstVersion(dv, at);
  const count = sectionEvents(dv, at);
  let p = at + sectionHeaderSize(sectionIdLength(dv, at));
  const codec = ctx.codec;
  const buffer = codec.decodeAt === undefined ? null : bufferOver(u8);
  for (let i = 0; i < count; i++) {
    const typeLen = eventTypeLength(dv, p);
    const dataLen = eventDataLength(dv, p);
    const metaLen = eventMetaLength(dv, p);
    const version = first + i;
    if (version >= ctx.fromVersion) {
      const typeAt = p + EVENT_HEADER_SIZE;
      const dataAt = typeAt + typeLen;
      const type = typeName(u8, typeAt, typeLen);
      const data = buffer === null ? codec.decode(u8.subarray(dataAt, dataAt + dataLen)) : codec.decodeAt!(buffer, dataAt, dataAt + dataLen);
      const base = { stream: ctx.stream, version, type, data, globalSeq: ctx.firstGlobal + i, timestampNs: ctx.timestampNs };
      out.push(metaLen < 0 ? base : { ...base, metadata: codec.decode(u8.subarray(dataAt + dataLen, dataAt + dataLen + metaLen)) });
    }
    p += EVENT_HEADER_SIZE + typeLen + dataLen + Math.max(0, metaLen);
  }
}

/** Recently decoded type names with their bytes: a store has few types, and decoding each costs a subarray. */
const TYPE_CACHE = 32;
const typeBytes: Uint8Array[] = [];
const typeStrings: string[] = [];
let typeNext = 0;

function typeName(u8: Uint8Array, at: number, length: number): string {
  for (let i = 0; i < typeBytes.length; i++) {
    const b = typeBytes[i]!;
    if (b.length === length && sameBytes(u8, at, b)) return typeStrings[i]!;
  }
  const bytes = u8.slice(at, at + length);
  const name = fromUtf8.decode(bytes);
  typeBytes[typeNext] = bytes;
  typeStrings[typeNext] = name;
  typeNext = (typeNext + 1) % TYPE_CACHE;
  return name;
}

/** Decodes every event of a validated batch, in order (for subscriptions). */
export function decodeBatch(dv: DataView, u8: Uint8Array, base: number, length: number, codec: EventCodec, timestampNs: bigint, out: StoredEvent[]): string | null {
  let global = firstGlobalSeq(dv, base);
  const ctx: DecodeContext = { codec, stream: "", firstGlobal: 0, timestampNs, fromVersion: 0 };
  return forEachSection(dv, u8, base, length, (s) => {
    ctx.stream = s.stream;
    ctx.firstGlobal = global;
    decodeSection(dv, u8, s.at, ctx, out);
    global += s.events;
  });
}

/** The events of a batch record read from a store's log (see EventStore.decode). */
export function decodeRecord(logDir: string, codec: EventCodec, m: MessageView): StoredEvent[] {
  if (m.typeId !== BATCH_TYPE_ID) throw new CorruptRecord(logDir, m.segment, m.offset, `record ${m.seq} has type ${m.typeId}, not an event batch`);
  const out: StoredEvent[] = [];
  const problem = decodeBatch(m.data, m.buffer, m.payloadOffset, m.length, codec, m.timestampNs, out);
  if (problem !== null) throw new CorruptRecord(logDir, m.segment, m.offset, `record ${m.seq}: ${problem}`);
  return out;
}
