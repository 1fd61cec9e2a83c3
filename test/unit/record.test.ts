/**
 * The record descriptor and the scan over an in-memory segment image (no files, no processes):
 * every header field damaged in turn, and the reader's step (readableLength) and the recovery
 * scan (scanSegment) must agree on where the log ends and why.
 */
import { describe, expect, test } from "bun:test";
import {
  COMMIT_W, CORRUPT, CRC_W, FLAGS_OFF, MIN_SEGMENT_SIZE, NOT_COMMITTED, PAD_TYPE_ID, PADDED, RECORD_HEADER_SIZE, RESERVED_W,
  SEGMENT_HEADER_SIZE, SEQ_HI_W, SEQ_LO_W, TS_LO_W, TYPE_FLAGS_W, claimedLength, committedLength, corruptionReason, isPad,
  payloadOffset, publish, readableLength, recordLength, recordSeq, recordTypeId, writeHeader, writePad,
} from "../../src/queue/layout/index.ts";
import { highestSeqFrom, scanSegment, type SegmentScan } from "../../src/queue/scan.ts";

const SIZE = MIN_SEGMENT_SIZE;

/** A segment image with `n` records of `payloadLength` bytes (seq 0..n-1), and their offsets. */
function segmentWith(n: number, payloadLength = 10): { u32: Uint32Array; u8: Uint8Array; offsets: number[] } {
  const u32 = new Uint32Array(SIZE >> 2);
  const u8 = new Uint8Array(u32.buffer);
  const offsets: number[] = [];
  let o = SEGMENT_HEADER_SIZE;
  for (let seq = 0; seq < n; seq++) {
    u8.fill(seq + 1, payloadOffset(o), payloadOffset(o) + payloadLength);
    writeHeader(u32, o, seq, 0, 1000 + seq, 0, 7, 0x1234);
    publish(u32, o, payloadLength);
    offsets.push(o);
    o += recordLength(payloadLength);
  }
  return { u32, u8, offsets };
}

/** What a reader sees walking the segment: the seqs it delivers and the code it stops on, where. */
function readerWalk(u32: Uint32Array): { seqs: number[]; stop: number; at: number } {
  const seqs: number[] = [];
  let o = SEGMENT_HEADER_SIZE;
  for (;;) {
    const length = readableLength(u32, o, SIZE);
    if (length < 0) return { seqs, stop: length, at: o };
    seqs.push(recordSeq(u32, o));
    o += recordLength(length);
  }
}

/** The reader walk and the scan agree: same records, same end, and the stop code matches the state. */
function expectAgreement(u32: Uint32Array, scan: SegmentScan): void {
  const walk = readerWalk(u32);
  expect(walk.seqs.length).toBe(scan.records);
  expect(walk.seqs.length === 0 ? -1 : walk.seqs[walk.seqs.length - 1]).toBe(scan.lastSeq);
  expect(walk.at).toBe(scan.end);
  const expectedStop = { corrupt: CORRUPT, padded: PADDED, open: NOT_COMMITTED, torn: NOT_COMMITTED }[scan.state];
  expect(walk.stop).toBe(expectedStop);
}

describe("committedLength: the one validity rule", () => {
  test("a published record reads back with its payload length and fields; an empty slot is not committed", () => {
    const { u32, offsets } = segmentWith(2, 10);
    expect(committedLength(u32, offsets[0]!, SIZE)).toBe(10);
    expect(recordSeq(u32, offsets[1]!)).toBe(1);
    expect(recordTypeId(u32, offsets[1]!)).toBe(7);
    expect(committedLength(u32, offsets[1]! + recordLength(10), SIZE)).toBe(NOT_COMMITTED);
  });

  test("a zero-length payload is committed with commit word 1", () => {
    const { u32, offsets } = segmentWith(1, 0);
    expect(u32[(offsets[0]! >> 2) + COMMIT_W]).toBe(1);
    expect(committedLength(u32, offsets[0]!, SIZE)).toBe(0);
  });

  test("no header fits in the last bytes of a segment: nothing is committed there", () => {
    const u32 = new Uint32Array(SIZE >> 2);
    u32[(SIZE - RECORD_HEADER_SIZE) >> 2] = 1;
    expect(committedLength(u32, SIZE - RECORD_HEADER_SIZE, SIZE)).toBe(0);
    expect(committedLength(u32, SIZE, SIZE)).toBe(NOT_COMMITTED);
  });

  const corruptions: [string, (u32: Uint32Array, o: number) => void, RegExp][] = [
    ["reserved word (bytes 4..8) non-zero", (u32, o) => (u32[(o >> 2) + RESERVED_W] = 1), /reserved header word/],
    ["commit word claims a payload past the segment end", (u32, o) => (u32[(o >> 2) + COMMIT_W] = SIZE - o), /impossible commit word/],
    ["commit word 0xFFFFFFFF", (u32, o) => (u32[(o >> 2) + COMMIT_W] = 0xffffffff), /impossible commit word 4294967295/],
    ["PAD with a seq", (u32, o) => makePad(u32, o, (w) => (u32[w + SEQ_LO_W] = 3)), /PAD record/],
    ["PAD with a high seq word", (u32, o) => makePad(u32, o, (w) => (u32[w + SEQ_HI_W] = 1)), /PAD record/],
    ["PAD with a CRC", (u32, o) => makePad(u32, o, (w) => (u32[w + CRC_W] = 9)), /PAD record/],
    ["PAD that stops before the segment end", (u32, o) => (u32[(o >> 2) + TYPE_FLAGS_W] = PAD_TYPE_ID), /PAD record/],
  ];

  for (const [what, damage, reason] of corruptions) {
    test(`CORRUPT: ${what}; the reason names it`, () => {
      const { u32, offsets } = segmentWith(3);
      damage(u32, offsets[1]!);
      expect(committedLength(u32, offsets[1]!, SIZE)).toBe(CORRUPT);
      expect(readableLength(u32, offsets[1]!, SIZE)).toBe(CORRUPT);
      expect(corruptionReason(u32, offsets[1]!, SIZE)).toMatch(reason);
    });
  }

  // The rule is about framing: these fields are data (the CRC is checked by readers against the payload).
  const harmless: [string, (u32: Uint32Array, u8: Uint8Array, o: number) => void][] = [
    ["seq", (u32, _u8, o) => (u32[(o >> 2) + SEQ_LO_W] = 999)],
    ["timestamp", (u32, _u8, o) => (u32[(o >> 2) + TS_LO_W] = 5)],
    ["type id", (u32, _u8, o) => (u32[(o >> 2) + TYPE_FLAGS_W] = 0xfffe)],
    ["flags", (_u32, u8, o) => (u8[o + FLAGS_OFF] = 1)],
    ["CRC", (u32, _u8, o) => (u32[(o >> 2) + CRC_W] = 0)],
    ["header bytes 32..64", (_u32, u8, o) => (u8[o + 40] = 0xff)],
  ];
  for (const [what, damage] of harmless) {
    test(`still committed with a changed ${what} (framing intact)`, () => {
      const { u32, u8, offsets } = segmentWith(3);
      damage(u32, u8, offsets[1]!);
      expect(committedLength(u32, offsets[1]!, SIZE)).toBe(10);
      expectAgreement(u32, scanSegment(u32, SIZE));
    });
  }
});

function makePad(u32: Uint32Array, o: number, spoil: (w: number) => void): void {
  writePad(u32, new Uint8Array(u32.buffer), o, SIZE);
  spoil(o >> 2);
}

describe("reader step and recovery scan agree on every damaged header", () => {
  for (const [what, damage] of [
    ["reserved word", (u32: Uint32Array, o: number) => (u32[(o >> 2) + RESERVED_W] = 0xdead)],
    ["oversized commit word", (u32: Uint32Array, o: number) => (u32[(o >> 2) + COMMIT_W] = SIZE)],
    ["PAD that stops early", (u32: Uint32Array, o: number) => (u32[(o >> 2) + TYPE_FLAGS_W] = PAD_TYPE_ID)],
  ] as const) {
    test(`${what} in the middle: both stop at it, as corrupt, after the records before it`, () => {
      const { u32, offsets } = segmentWith(5);
      damage(u32, offsets[2]!);
      for (const checkGarbage of [false, true]) {
        const scan = scanSegment(u32, SIZE, SEGMENT_HEADER_SIZE, checkGarbage);
        expect(scan).toEqual({ end: offsets[2]!, records: 2, lastSeq: 1, state: "corrupt" });
        expectAgreement(u32, scan);
      }
    });
  }

  test("an intact segment: open at the end of the last record", () => {
    const { u32, offsets } = segmentWith(4);
    const scan = scanSegment(u32, SIZE, SEGMENT_HEADER_SIZE, true);
    expect(scan).toEqual({ end: offsets[3]! + recordLength(10), records: 4, lastSeq: 3, state: "open" });
    expectAgreement(u32, scan);
  });

  test("a write cut short (header without commit word, payload bytes): open to readers, torn to recovery", () => {
    const { u32, u8, offsets } = segmentWith(2);
    const torn = offsets[1]! + recordLength(10);
    writeHeader(u32, torn, 2, 0, 0, 0, 7, 0);
    u8.fill(0xee, payloadOffset(torn), payloadOffset(torn) + 10);
    expect(scanSegment(u32, SIZE).state).toBe("open");
    const scan = scanSegment(u32, SIZE, SEGMENT_HEADER_SIZE, true);
    expect(scan).toEqual({ end: torn, records: 2, lastSeq: 1, state: "torn" });
    expectAgreement(u32, scan);
  });

  test("writePad closes a torn end: readers see the segment closed, the scan sees it padded", () => {
    const { u32, u8, offsets } = segmentWith(2);
    const end = offsets[1]! + recordLength(10);
    u8.fill(0xee, end + 100, end + 200);
    writePad(u32, u8, end, SIZE);
    expect(isPad(u32, end)).toBe(true);
    expect(committedLength(u32, end, SIZE)).toBe(SIZE - end - RECORD_HEADER_SIZE);
    expect(u8.subarray(end + 100, end + 200).every((b) => b === 0)).toBe(true);
    const scan = scanSegment(u32, SIZE, SEGMENT_HEADER_SIZE, true);
    expect(scan).toEqual({ end, records: 2, lastSeq: 1, state: "padded" });
    expectAgreement(u32, scan);
  });

  test("a PAD at the first record offset (an empty segment closed by recovery) is valid", () => {
    const u32 = new Uint32Array(SIZE >> 2);
    writePad(u32, new Uint8Array(u32.buffer), SEGMENT_HEADER_SIZE, SIZE);
    expect(readableLength(u32, SEGMENT_HEADER_SIZE, SIZE)).toBe(PADDED);
    expect(scanSegment(u32, SIZE).state).toBe("padded");
  });
});

describe("seqs behind a corrupt record", () => {
  test("highestSeqFrom steps over a damaged header whose length still fits and finds the newest seq", () => {
    const { u32, offsets } = segmentWith(10);
    u32[(offsets[3]! >> 2) + RESERVED_W] = 1;
    expect(claimedLength(u32, offsets[3]!, SIZE)).toBe(10);
    expect(highestSeqFrom(u32, SIZE, offsets[3]!)).toBe(9);
  });

  test("it stops at a commit word that claims too much: nothing after it can be located", () => {
    const { u32, offsets } = segmentWith(10);
    u32[(offsets[3]! >> 2) + COMMIT_W] = SIZE;
    expect(claimedLength(u32, offsets[3]!, SIZE)).toBe(-1);
    expect(highestSeqFrom(u32, SIZE, offsets[3]!)).toBe(-1);
  });
});
