/** QueueWriter.appendWithSeq: chosen seqs, strictly increasing, kept by recovery. */
import { expect, test } from "bun:test";
import { InvalidArgument, PayloadTooLarge, Queue } from "../src/index.ts";
import { TempDir } from "./helpers/tmp.ts";

test("appendWithSeq skips ahead, refuses a seq below nextSeq, leaves nextSeq alone when it fails, and a reopened writer continues after it", () => {
  using tmp = new TempDir();
  {
    using w = Queue.openPublisher(tmp.path, { segmentSize: 1 << 16 });
    w.append(1, new Uint8Array([1]));
    expect(w.appendWithSeq(10, 2, new Uint8Array([2]), 77n)).toBe(10);
    expect(w.nextSeq).toBe(11);
    expect(() => w.appendWithSeq(10, 2, new Uint8Array(1))).toThrow(InvalidArgument);
    expect(() => w.appendWithSeq(1.5, 2, new Uint8Array(1))).toThrow(InvalidArgument);
    expect(() => w.appendWithSeq(20, 2, new Uint8Array(1 << 16))).toThrow(PayloadTooLarge);
    expect(w.nextSeq).toBe(11);
    expect(w.append(1, new Uint8Array([3]))).toBe(11);
  }
  using w = Queue.openPublisher(tmp.path);
  expect(w.nextSeq).toBe(12);
  using r = Queue.openAnonymous(tmp.path, { start: "earliest" });
  const seen = [];
  for (const m of r) seen.push([m.seq, m.typeId, m.payload[0]]);
  expect(seen).toEqual([[0, 1, 1], [10, 2, 2], [11, 1, 3]]);
});
