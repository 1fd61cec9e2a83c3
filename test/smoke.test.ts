import { describe, expect, test } from "bun:test";
import { Queue, ClosedError, WriterAlreadyActive } from "../src/index.ts";
import { drain, range } from "./helpers/queue.ts";
import { TempDir } from "./helpers/tmp.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

describe("smoke: one process", () => {
  test("appended records read back in order across segment rolls", () => {
    using tmp = new TempDir();
    using writer = Queue.openPublisher(tmp.path, { segmentSize: 65536 });
    using reader = Queue.openSubscriber(tmp.path, "r");
    for (let i = 0; i < 3000; i++) expect(writer.append(7, enc.encode(`m${i}`))).toBe(i);
    expect(writer.currentSegment).toBeGreaterThan(2);
    const read = drain(reader, (m) => [m.seq, m.typeId, dec.decode(m.payload)]);
    expect(read).toEqual(range(0, 3000).map((i) => [i, 7, `m${i}`]));
  });

  test("a second publisher on the same queue is refused", () => {
    using tmp = new TempDir();
    using writer = Queue.openPublisher(tmp.path);
    expect(writer.isClosed).toBe(false);
    expect(() => Queue.openPublisher(tmp.path)).toThrow(WriterAlreadyActive);
  });

  test("use after close throws ClosedError instead of touching unmapped memory", () => {
    using tmp = new TempDir();
    const writer = Queue.openPublisher(tmp.path);
    const reader = Queue.openSubscriber(tmp.path, "r");
    writer.close();
    reader.close();
    expect(() => writer.append(1, new Uint8Array(1))).toThrow(ClosedError);
    expect(() => reader.next()).toThrow(ClosedError);
  });
});
