import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Queue, type QueueWriter } from "../src/index.ts";
import { crc32 } from "../src/queue/crc32.ts";
import {
  CONTROL_SIZE, CTL_MAGIC_OFF, CTL_VERSION_OFF, CTL_INIT_STATE_OFF, CTL_WRITER_EPOCH_OFF, CTL_CURRENT_SEGMENT_OFF,
  CTL_WRITE_OFFSET_OFF, CTL_WRITER_HEARTBEAT_OFF, CTL_NOTIFY_SEQ_OFF, CONTROL_MAGIC, READER_META_SIZE, READER_SLOT_CRC_SPAN, READER_SLOT_SIZE,
  SLOT_SEGMENT_OFF, SLOT_OFFSET_OFF, SLOT_GENERATION_OFF, SLOT_CRC_OFF, V1_SEGMENT_SIZE,
} from "../src/queue/layout/index.ts";
import { TempDir } from "./helpers/tmp.ts";
import { v1Segment } from "./helpers/v1Queue.ts";

/** The dump of FORMAT.md, Golden bytes, as (offset, bytes) runs; everything else in the segment is zero. */
function expectedSegment(): Uint8Array {
  const seg = new Uint8Array(V1_SEGMENT_SIZE);
  const put = (off: number, bytes: number[]): void => seg.set(bytes, off);
  put(0x00, [0x30, 0x47, 0x45, 0x53, 0x01, 0, 0, 0]);
  put(0x40, [0x06, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  put(0x50, [0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x07, 0, 0, 0, 0x86, 0xa6, 0x10, 0x36]);
  put(0x80, [0x68, 0x65, 0x6c, 0x6c, 0x6f]);
  put(0xc0, [0x01, 0, 0, 0, 0, 0, 0, 0, 0x01, 0, 0, 0, 0, 0, 0, 0]);
  put(0xd0, [0x2a, 0, 0, 0, 0, 0, 0, 0, 0x34, 0x12, 0, 0, 0, 0, 0, 0]);
  put(0x100, [0x47, 0, 0, 0, 0, 0, 0, 0, 0x02, 0, 0, 0, 0, 0, 0, 0]);
  put(0x110, [0x2b, 0, 0, 0, 0, 0, 0, 0, 0x01, 0, 0, 0, 0x0f, 0xf3, 0x55, 0x6b]);
  seg.fill(0xab, 0x140, 0x140 + 70);
  return seg;
}

/** A v1 writer on `dir` after the three reference appends of FORMAT.md, Golden bytes (still open). */
function referenceWriter(dir: string): QueueWriter {
  const writer = Queue.openPublisher(dir, { formatVersion: 1 });
  writer.append(7, new TextEncoder().encode("hello"), 0x1122334455667788n);
  writer.append(0x1234, new Uint8Array(0), 42n);
  writer.append(1, new Uint8Array(70).fill(0xab), 43n);
  return writer;
}

describe("golden bytes (FORMAT.md, format v1)", () => {
  test("segment 0 after the three reference appends is byte-identical to the dump", () => {
    using tmp = new TempDir();
    referenceWriter(tmp.path).close();
    const actual = new Uint8Array(readFileSync(join(tmp.path, "000000000.q")));
    const expected = expectedSegment();
    expect(actual.length).toBe(expected.length);
    const firstDiff = actual.findIndex((b, i) => b !== expected[i]);
    expect(firstDiff).toBe(-1);
  });

  test("the spec-built v1 segment of the seek tests (test/helpers/v1Queue.ts) matches the dump too", () => {
    const records = [
      { seq: 0, timestampNs: 0x1122334455667788n, typeId: 7, payload: new TextEncoder().encode("hello") },
      { seq: 1, timestampNs: 42n, typeId: 0x1234, payload: new Uint8Array(0) },
      { seq: 2, timestampNs: 43n, typeId: 1, payload: new Uint8Array(70).fill(0xab) },
    ];
    const built = v1Segment(0, records, false);
    const expected = expectedSegment();
    expect(built.findIndex((b, i) => b !== expected[i])).toBe(-1);
  });

  test("control block fields after the reference appends", () => {
    using tmp = new TempDir();
    const writer = referenceWriter(tmp.path);
    const bytes = new Uint8Array(readFileSync(join(tmp.path, "control.meta")));
    writer.close();
    expect(bytes.length).toBe(CONTROL_SIZE);
    const v = new DataView(bytes.buffer);
    expect(v.getUint32(CTL_MAGIC_OFF, true)).toBe(CONTROL_MAGIC);
    expect(v.getUint32(CTL_VERSION_OFF, true)).toBe(1);
    expect(v.getUint32(CTL_INIT_STATE_OFF, true)).toBe(2);
    expect(v.getBigUint64(CTL_WRITER_EPOCH_OFF, true)).toBe(1n);
    expect(v.getUint32(CTL_CURRENT_SEGMENT_OFF, true)).toBe(0);
    expect(v.getBigUint64(CTL_WRITE_OFFSET_OFF, true)).toBe(0x1c0n);
    expect(v.getBigUint64(CTL_WRITER_HEARTBEAT_OFF, true)).toBeGreaterThan(0n);
    expect(v.getUint32(CTL_NOTIFY_SEQ_OFF, true)).toBe(3);
    const listed = new Set([CTL_MAGIC_OFF, CTL_VERSION_OFF, CTL_INIT_STATE_OFF, CTL_WRITER_EPOCH_OFF, CTL_CURRENT_SEGMENT_OFF, CTL_WRITE_OFFSET_OFF, CTL_WRITER_HEARTBEAT_OFF, CTL_NOTIFY_SEQ_OFF]);
    const widths: Record<number, number> = { [CTL_WRITER_EPOCH_OFF]: 8, [CTL_WRITE_OFFSET_OFF]: 8, [CTL_WRITER_HEARTBEAT_OFF]: 8 };
    for (let off = 0; off < CONTROL_SIZE; ) {
      const w = listed.has(off) ? (widths[off] ?? 4) : 1;
      if (!listed.has(off)) expect({ off, byte: bytes[off] }).toEqual({ off, byte: 0 });
      off += w;
    }
  });

  test("reader meta: two CRC-protected slots, generation g written to slot g % 2", () => {
    using tmp = new TempDir();
    using writer = Queue.openPublisher(tmp.path, { formatVersion: 1 });
    writer.append(1, new Uint8Array(5));
    using reader = Queue.openSubscriber(tmp.path, "golden");
    reader.next();
    reader.commit();
    const bytes = new Uint8Array(readFileSync(join(tmp.path, "readers", "golden.meta")));
    expect(bytes.length).toBe(READER_META_SIZE);
    const v = new DataView(bytes.buffer);
    const gens = [0, 1].map((i) => Number(v.getBigUint64(i * READER_SLOT_SIZE + SLOT_GENERATION_OFF, true)));
    const newest = gens[0]! > gens[1]! ? 0 : 1;
    expect(gens[newest]! % 2).toBe(newest);
    const base = newest * READER_SLOT_SIZE;
    expect(v.getUint32(base + SLOT_CRC_OFF, true)).toBe(crc32(bytes.subarray(base, base + READER_SLOT_CRC_SPAN)));
    expect(v.getBigUint64(base + SLOT_SEGMENT_OFF, true)).toBe(0n);
    expect(v.getBigUint64(base + SLOT_OFFSET_OFF, true)).toBe(0xc0n);
  });
});
