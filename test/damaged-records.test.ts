/**
 * Damaged record headers on disk: readers and writer recovery apply the same rule. A record that
 * breaks it is reported by readers as CorruptRecord (never skipped), and no writer open rewrites
 * anything that looks committed or gives a seq a reader may have seen to a new record.
 */
import { describe, expect, test } from "bun:test";
import { closeSync, openSync, readFileSync, writeSync } from "node:fs";
import { CorruptRecord, Queue } from "../src/index.ts";
import { segmentPath } from "../src/queue/segment.ts";
import {
  COMMIT_OFF, CRC_OFF, PAD_TYPE_ID, RESERVED_OFF, SEALED_FLAG, SEGMENT_HEADER_SIZE, SEG_FLAGS_OFF, TYPE_ID_OFF, recordLength,
} from "../src/queue/layout/index.ts";
import { thrown } from "./helpers/errors.ts";
import { readSeqs, takeSeqs } from "./helpers/queue.ts";
import { TempDir } from "./helpers/tmp.ts";

const PAYLOAD = 20;
const SEGMENT = 64 << 10;

/** Offset of record `seq` in segment 0 when every record carries PAYLOAD bytes. */
const offsetOf = (seq: number): number => SEGMENT_HEADER_SIZE + seq * recordLength(PAYLOAD);

function writeRecords(dir: string, n: number): void {
  using w = Queue.openPublisher(dir, { segmentSize: SEGMENT, preallocate: false });
  for (let i = 0; i < n; i++) w.append(1, new Uint8Array(PAYLOAD).fill(i));
}

/** Overwrites a little-endian u32 (or u16) of segment 0 in place, as a disk fault or a bad tool would. */
function poke(dir: string, at: number, value: number, bytes: 2 | 4 = 4): void {
  const b = Buffer.alloc(bytes);
  if (bytes === 4) b.writeUInt32LE(value >>> 0);
  else b.writeUInt16LE(value);
  const fd = openSync(segmentPath(dir, 0), "r+");
  try {
    writeSync(fd, b, 0, bytes, at);
  } finally {
    closeSync(fd);
  }
}

/**
 * Each damage, and the seq the next writer continues with. Readers may have seen seq 3..9 before
 * the damage: the writer steps over the damaged record to find them, except behind a commit word
 * that claims more than the segment holds, where nothing after it can be located.
 */
const damages: [string, (dir: string, at: number) => void, number][] = [
  ["a non-zero reserved word", (dir, at) => poke(dir, at + RESERVED_OFF, 0xdead), 10],
  ["a PAD type on a record that does not run to the segment end", (dir, at) => poke(dir, at + TYPE_ID_OFF, PAD_TYPE_ID, 2), 10],
  ["a commit word longer than the segment", (dir, at) => poke(dir, at + COMMIT_OFF, SEGMENT), 3],
];

describe("a damaged header in the middle of the head segment", () => {
  for (const [what, damage, nextSeq] of damages) {
    test(`${what}: readers stop there with CorruptRecord; a writer open keeps every byte and continues at seq ${nextSeq}`, () => {
      using tmp = new TempDir();
      writeRecords(tmp.path, 10);
      // A named reader consumed everything before the damage happened.
      {
        using early = Queue.openSubscriber(tmp.path, "early");
        expect(readSeqs(early)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        early.commit();
      }
      damage(tmp.path, offsetOf(3));
      const damaged = readFileSync(segmentPath(tmp.path, 0));

      {
        using fresh = Queue.openAnonymous(tmp.path);
        expect(takeSeqs(fresh, 3)).toEqual([0, 1, 2]);
        const e = thrown(() => fresh.next());
        expect(e).toBeInstanceOf(CorruptRecord);
        expect(e).toMatchObject({ segment: 0, offset: offsetOf(3), path: segmentPath(tmp.path, 0) });
        // Reported again, never skipped.
        expect(thrown(() => fresh.next())).toBeInstanceOf(CorruptRecord);
      }

      using w = Queue.openPublisher(tmp.path, { segmentSize: SEGMENT, preallocate: false });
      const after = readFileSync(segmentPath(tmp.path, 0));
      // Only the SEALED flag may change: no PAD over the damaged record or anything after it.
      expect(after.readUInt32LE(SEG_FLAGS_OFF) & SEALED_FLAG).toBe(SEALED_FLAG);
      after.writeUInt32LE(damaged.readUInt32LE(SEG_FLAGS_OFF), SEG_FLAGS_OFF);
      expect(after.equals(damaged)).toBe(true);
      expect(w.currentSegment).toBe(1);
      expect(w.nextSeq).toBe(nextSeq);
      w.append(1, new Uint8Array(PAYLOAD));

      // The reader that consumed 0..9 moves on to the new segment and gets exactly the new record.
      using early = Queue.openSubscriber(tmp.path, "early");
      expect(readSeqs(early)).toEqual([nextSeq]);
    });
  }

  test("a damaged CRC is not a framing error: the record is committed, readers report the mismatch as CorruptRecord and recovery keeps it", () => {
    using tmp = new TempDir();
    writeRecords(tmp.path, 5);
    poke(tmp.path, offsetOf(2) + CRC_OFF, 0x1234);
    {
      using r = Queue.openAnonymous(tmp.path);
      expect(takeSeqs(r, 2)).toEqual([0, 1]);
      expect(thrown(() => r.next())).toBeInstanceOf(CorruptRecord);
    }
    using w = Queue.openPublisher(tmp.path, { segmentSize: SEGMENT, preallocate: false });
    // The head stays open: the record is committed and framed, so the log goes on after it.
    expect(w.currentSegment).toBe(0);
    expect(w.nextSeq).toBe(5);
    expect(w.writeOffset).toBe(offsetOf(5));
  });
});
