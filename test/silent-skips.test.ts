/**
 * Damage that would make readers skip records silently or stop forever (issue 15 item 8): a lost
 * commit word or a PAD type in the middle of a sealed segment, and a segment before the newest
 * that is not sealed while no writer is alive. Readers report each as CorruptRecord; inspect and
 * doctor show them.
 */
import { describe, expect, test } from "bun:test";
import { closeSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { CorruptRecord, Queue, inspectQueue } from "../src/index.ts";
import { segmentPath } from "../src/queue/segment.ts";
import { COMMIT_OFF, PAD_TYPE_ID, SEALED_FLAG, SEGMENT_HEADER_SIZE, SEG_FLAGS_OFF, TYPE_ID_OFF, recordLength } from "../src/queue/layout/index.ts";
import { settled } from "./helpers/async.ts";
import { thrown } from "./helpers/errors.ts";
import { readSeqs, takeSeqs } from "./helpers/queue.ts";
import { runToEnd } from "./helpers/spawn.ts";
import { TempDir } from "./helpers/tmp.ts";

const PAYLOAD = 1000;
const SEGMENT = 64 << 10;
const REC = recordLength(PAYLOAD);
/** Records that fit in one segment. */
const PER_SEGMENT = Math.floor((SEGMENT - SEGMENT_HEADER_SIZE) / REC);
const CLI = join(import.meta.dir, "..", "cli", "main.ts");

const offsetOf = (index: number): number => SEGMENT_HEADER_SIZE + index * REC;

/** Writes `n` records (segment 0 fills and is sealed when n > PER_SEGMENT) and closes the writer. */
function writeRecords(dir: string, n: number): void {
  using w = Queue.openPublisher(dir, { segmentSize: SEGMENT, preallocate: false });
  for (let i = 0; i < n; i++) w.append(1, new Uint8Array(PAYLOAD).fill(i + 1));
}

/** Overwrites a little-endian u32 (or u16) of segment `id` in place, as a disk fault or a bad tool would. */
function poke(dir: string, id: number, at: number, value: number, bytes: 2 | 4 = 4): void {
  const b = Buffer.alloc(bytes);
  if (bytes === 4) b.writeUInt32LE(value >>> 0);
  else b.writeUInt16LE(value);
  const fd = openSync(segmentPath(dir, id), "r+");
  try {
    writeSync(fd, b, 0, bytes, at);
  } finally {
    closeSync(fd);
  }
}

function flags(dir: string, id: number): number {
  return readFileSync(segmentPath(dir, id)).readUInt32LE(SEG_FLAGS_OFF);
}

async function doctorJson(dir: string): Promise<any> {
  const r = await runToEnd(["bun", CLI, "doctor", dir, "--json"]);
  return JSON.parse(r.stdout);
}

describe("damage in the middle of a sealed segment", () => {
  test("a zeroed commit word: readers stop there with CorruptRecord instead of moving to the next segment, every time", async () => {
    using tmp = new TempDir();
    writeRecords(tmp.path, PER_SEGMENT + 3);
    expect(flags(tmp.path, 0) & SEALED_FLAG).toBe(SEALED_FLAG);
    poke(tmp.path, 0, offsetOf(5) + COMMIT_OFF, 0);

    using r = Queue.openAnonymous(tmp.path);
    expect(takeSeqs(r, 5)).toEqual([0, 1, 2, 3, 4]);
    const e = thrown(() => r.next());
    expect(e).toBeInstanceOf(CorruptRecord);
    expect(e).toMatchObject({ segment: 0, offset: offsetOf(5), path: segmentPath(tmp.path, 0) });
    expect((e as Error).message).toContain("non-zero bytes after the end of a sealed segment");
    // Never skipped: asked again, the same answer, and the waits report it too.
    expect(thrown(() => r.next())).toMatchObject({ offset: offsetOf(5) });
    expect(thrown(() => r.hasNext())).toBeInstanceOf(CorruptRecord);
    expect(thrown(() => r.wait(5000))).toBeInstanceOf(CorruptRecord);
    expect(await settled(r.waitAsync(5000))).toBeInstanceOf(CorruptRecord);

    const info = inspectQueue(tmp.path);
    expect(info.segments.corrupt).toEqual([
      { id: 0, path: segmentPath(tmp.path, 0), reason: expect.stringContaining("non-zero bytes after the end of a sealed segment") },
    ]);
    const report = await doctorJson(tmp.path);
    expect(report.findings).toContainEqual(expect.objectContaining({ kind: "corrupt-metadata", path: segmentPath(tmp.path, 0) }));
  });

  test("a PAD type on a record in the middle of a sealed segment breaks the PAD rule: CorruptRecord at that record", () => {
    using tmp = new TempDir();
    writeRecords(tmp.path, PER_SEGMENT + 3);
    poke(tmp.path, 0, offsetOf(5) + TYPE_ID_OFF, PAD_TYPE_ID, 2);
    using r = Queue.openAnonymous(tmp.path);
    expect(takeSeqs(r, 5)).toEqual([0, 1, 2, 3, 4]);
    expect(thrown(() => r.next())).toMatchObject({ name: "CorruptRecord", segment: 0, offset: offsetOf(5) });
    expect(thrown(() => r.next())).toBeInstanceOf(CorruptRecord);
  });

  test("a normal roll leaves only zero bytes after the end of a sealed segment: readers move on, inspect reports nothing", () => {
    using tmp = new TempDir();
    writeRecords(tmp.path, PER_SEGMENT * 2 + 3);
    using r = Queue.openAnonymous(tmp.path);
    expect(readSeqs(r)).toHaveLength(PER_SEGMENT * 2 + 3);
    expect(inspectQueue(tmp.path).segments.corrupt).toEqual([]);
  });
});

describe("a segment before the newest that is not sealed", () => {
  test("with no writer alive: readers at its end get CorruptRecord (next, wait, waitAsync), inspect and doctor show it", async () => {
    using tmp = new TempDir();
    writeRecords(tmp.path, PER_SEGMENT + 3);
    poke(tmp.path, 0, SEG_FLAGS_OFF, flags(tmp.path, 0) & ~SEALED_FLAG);

    using r = Queue.openAnonymous(tmp.path);
    expect(takeSeqs(r, PER_SEGMENT)).toHaveLength(PER_SEGMENT);
    const e = thrown(() => r.next());
    expect(e).toBeInstanceOf(CorruptRecord);
    expect(e).toMatchObject({ segment: 0, offset: offsetOf(PER_SEGMENT), path: segmentPath(tmp.path, 0) });
    expect((e as Error).message).toContain("segment is not sealed but segment 1 exists and no writer is alive");
    expect(thrown(() => r.next())).toBeInstanceOf(CorruptRecord);
    expect(thrown(() => r.wait(5000))).toBeInstanceOf(CorruptRecord);
    expect(await settled(r.waitAsync(5000))).toBeInstanceOf(CorruptRecord);

    expect(inspectQueue(tmp.path).segments.corrupt).toEqual([
      { id: 0, path: segmentPath(tmp.path, 0), reason: expect.stringContaining("segment is not sealed but segment 1 exists and no writer is alive") },
    ]);
    const report = await doctorJson(tmp.path);
    expect(report.findings).toContainEqual(expect.objectContaining({ kind: "corrupt-metadata", path: segmentPath(tmp.path, 0) }));

    // A writer open seals it (recovery), and the reader moves on with nothing lost.
    Queue.openPublisher(tmp.path, { segmentSize: SEGMENT, preallocate: false }).close();
    expect(readSeqs(r)).toEqual([PER_SEGMENT, PER_SEGMENT + 1, PER_SEGMENT + 2]);
  });

  test("while a writer is alive (it seals right after creating the next segment) it is not reported", () => {
    using tmp = new TempDir();
    using w = Queue.openPublisher(tmp.path, { segmentSize: SEGMENT, preallocate: false });
    for (let i = 0; i < PER_SEGMENT + 3; i++) w.append(1, new Uint8Array(PAYLOAD));
    // As in the middle of a roll: segment 1 exists, segment 0 is not sealed yet.
    poke(tmp.path, 0, SEG_FLAGS_OFF, flags(tmp.path, 0) & ~SEALED_FLAG);
    using r = Queue.openAnonymous(tmp.path);
    expect(takeSeqs(r, PER_SEGMENT)).toHaveLength(PER_SEGMENT);
    expect(r.next()).toBeNull();
    expect(r.wait(300)).toBe(false);
    expect(inspectQueue(tmp.path).segments.corrupt).toEqual([]);
    // The writer seals it (as the roll would): the reader moves on.
    poke(tmp.path, 0, SEG_FLAGS_OFF, flags(tmp.path, 0) | SEALED_FLAG);
    expect(readSeqs(r)).toEqual([PER_SEGMENT, PER_SEGMENT + 1, PER_SEGMENT + 2]);
  });
});
