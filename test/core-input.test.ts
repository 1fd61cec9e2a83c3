import { describe, expect, test } from "bun:test";
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, truncateSync, unlinkSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import {
  ChronicleError, ClosedError, CorruptMetadata, ErrnoError, InvalidArgument, PayloadTooLarge, PositionLost, Queue, QueueNotFound,
  UnsupportedVersion, WriterAlreadyActive, inspectQueue, type QueueWriter,
} from "../src/index.ts";
import {
  CONTROL_FILE, CONTROL_SIZE, CTL_CURRENT_SEGMENT_OFF, CTL_INIT_STATE_OFF, CTL_MAGIC_OFF, CTL_VERSION_OFF, CHECKPOINT_FILE, CHECKPOINT_SEGMENT_OFF, CHECKPOINT_SIZE,
  CHECKPOINT_WRITE_OFFSET_OFF, INIT_READY, MAX_READER_NAME_BYTES, READERS_DIR, READER_META_EXT, READER_META_SIZE, READER_SLOT_COUNT,
  RECORD_HEADER_SIZE, SEG_ID_OFF, SEG_MAGIC_OFF, SLOT_GENERATION_OFF, SEGMENT_HEADER_SIZE, SEGMENT_MAGIC, WRITER_LOCK_FILE,
  slotOffset, segmentFileName, tempPath,
} from "../src/queue/layout/index.ts";
import { readerMetaPath } from "../src/queue/readerMeta.ts";
import { listSegmentIds } from "../src/queue/segment.ts";
import { thrown } from "./helpers/errors.ts";
import { fillPayload } from "./helpers/payloads.ts";
import { addressSpaceBytes } from "./helpers/procfs.ts";
import { appendCount, checkPayload, drain, range, readAll, readRecords, readSeqs } from "./helpers/queue.ts";
import { AS_NOBODY, FIXTURES, cannotRunAsNobody, runToEnd, spawnCommand, spawnFixture } from "./helpers/spawn.ts";
import { within } from "./helpers/async.ts";
import { TempDir } from "./helpers/tmp.ts";

/** Small segments so a few hundred records span several of them. */
const SEG = 65536;
/** Largest payload of the deterministic records (about 60 per segment). */
const MAX = 2000;
/** Largest payload a SEG segment takes: one record filling everything after the segment header. */
const MAX_PAYLOAD = SEG - SEGMENT_HEADER_SIZE - RECORD_HEADER_SIZE;
/** A generous "did not hang" bound for waits configured to give up after 100 ms. */
const NO_HANG_MS = 10_000;

/** Appends `n` deterministic records (payloads up to MAX); returns the segment each seq landed in. */
function appendRecords(writer: QueueWriter, n: number): number[] {
  return appendCount(writer, MAX, n);
}

/** A closed queue of `n` records in 64 KiB segments; returns the segment of each seq. */
function makeQueue(dir: string, n: number): number[] {
  using writer = Queue.openPublisher(dir, { segmentSize: SEG });
  return appendRecords(writer, n);
}

/** Runs `fn`, which must throw a ChronicleError of class `cls` about `path` whose message contains `says`. */
function expectTyped<T extends ChronicleError>(fn: () => unknown, cls: abstract new (...args: never[]) => T, path: string, says: string): T {
  const e = thrown(fn);
  expect(e).toBeInstanceOf(cls);
  expect(e).toBeInstanceOf(ChronicleError);
  const err = e as T;
  expect(err.path).toBe(path);
  expect(err.message).toContain(says);
  return err;
}

/** Rewrites part of a file in place (no truncation, unlike writeFileSync). */
function patchFile(path: string, offset: number, bytes: Uint8Array): void {
  const fd = openSync(path, "r+");
  try {
    writeSync(fd, bytes, 0, bytes.length, offset);
  } finally {
    closeSync(fd);
  }
}

function u32le(value: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, value, true);
  return b;
}

describe("readers: where they start", () => {
  test("a named reader resumes right after its committed position, after a clean exit and after SIGKILL", async () => {
    using tmp = new TempDir();
    using writer = Queue.openPublisher(tmp.path, { segmentSize: SEG });
    appendRecords(writer, 300);
    expect(writer.currentSegment).toBeGreaterThanOrEqual(3);

    await using first = spawnFixture("input-reader.ts", [tmp.path, "svc", "120", String(MAX), "exit"]);
    const clean = await first.exit();
    expect(clean.stderr).toBe("");
    expect(clean.lines).toEqual(["first 0", "committed 119"]);
    expect(clean.code).toBe(0);

    // Commits at 219, reads ten more without committing, then dies holding the reader open.
    await using second = spawnFixture("input-reader.ts", [tmp.path, "svc", "100", String(MAX), "kill"]);
    expect(await second.until((l) => l.startsWith("uncommitted") || l.startsWith("bad"))).toEqual(["first 120", "committed 219", "uncommitted 229"]);
    second.kill("SIGKILL");
    const killed = await second.exit();
    expect(killed.signal).toBe("SIGKILL");

    using reader = Queue.openSubscriber(tmp.path, "svc");
    expect(drain(reader, (m) => (checkPayload(m, MAX), m.seq))).toEqual(range(220, 300));
  });

  test('start "latest" sees only records appended after it opened, and its commit is resumed from', () => {
    using tmp = new TempDir();
    using writer = Queue.openPublisher(tmp.path, { segmentSize: SEG });
    appendRecords(writer, 100);
    expect(writer.currentSegment).toBeGreaterThan(0);
    const latest = Queue.openSubscriber(tmp.path, "tail", { start: "latest" });
    using anonymous = Queue.openAnonymous(tmp.path, { start: "latest" });
    expect(latest.next()).toBeNull();
    expect(anonymous.next()).toBeNull();
    appendRecords(writer, 3);
    expect(readSeqs(latest)).toEqual([100, 101, 102]);
    expect(anonymous.next()?.seq).toBe(100);
    latest.commit();
    latest.close();
    appendRecords(writer, 2);
    using resumed = Queue.openSubscriber(tmp.path, "tail");
    expect(resumed.next()?.seq).toBe(103);
  });

  test("a new reader starts at the oldest segment left by writer.cleanup(), not at segment 0", () => {
    using tmp = new TempDir();
    using writer = Queue.openPublisher(tmp.path, { segmentSize: SEG });
    const segmentOf = appendRecords(writer, 300);
    const head = writer.currentSegment;
    expect(head).toBeGreaterThanOrEqual(3);
    // No reader exists, so everything older than the head may go.
    expect(writer.cleanup()).toEqual(range(0, head));
    expect(listSegmentIds(tmp.path)).toEqual([head]);
    const firstKept = segmentOf.indexOf(head);
    using reader = Queue.openSubscriber(tmp.path, "fresh");
    expect(readSeqs(reader)).toEqual(range(firstKept, 300));
    // The writer keeps going past the deleted segments and the new reader follows.
    appendRecords(writer, 5);
    expect(reader.next()?.seq).toBe(300);
  });

  test("a new reader starts at the oldest segment after older segment files were deleted from a closed queue", () => {
    using tmp = new TempDir();
    const segmentOf = makeQueue(tmp.path, 300);
    for (const id of [0, 1, 2]) unlinkSync(join(tmp.path, segmentFileName(id)));
    using reader = Queue.openSubscriber(tmp.path, "fresh");
    expect(reader.next()?.seq).toBe(segmentOf.indexOf(3));
    using writer = Queue.openPublisher(tmp.path);
    expect(writer.nextSeq).toBe(300);
  });

  test('a reader whose committed segment was deleted gets PositionLost, unless opened with start "earliest"', () => {
    using tmp = new TempDir();
    // readerTtlMs 0: a closed reader is dead at once, so retention may delete its segment.
    using writer = Queue.openPublisher(tmp.path, { segmentSize: SEG, readerTtlMs: 0 });
    const segmentOf = appendRecords(writer, 300);
    const slow = Queue.openSubscriber(tmp.path, "slow");
    for (let i = 0; i < 10; i++) slow.next();
    slow.commit();
    slow.close();
    Bun.sleepSync(5);
    const deleted = writer.cleanup();
    expect(deleted).toContain(0);
    const metaPath = readerMetaPath(tmp.path, "slow");
    const lost = expectTyped(() => Queue.openSubscriber(tmp.path, "slow"), PositionLost, metaPath, 'start "earliest"');
    expect(lost.segment).toBe(0);
    // The failed open released the reader's lock: trying again gives the same answer, not ReaderAlreadyActive.
    expectTyped(() => Queue.openSubscriber(tmp.path, "slow"), PositionLost, metaPath, "was deleted");

    const oldest = listSegmentIds(tmp.path)[0]!;
    const earliest = Queue.openSubscriber(tmp.path, "slow", { start: "earliest" });
    expect(earliest.next()?.seq).toBe(segmentOf.indexOf(oldest));
    earliest.commit();
    earliest.close();
    using resumed = Queue.openSubscriber(tmp.path, "slow");
    expect(resumed.next()?.seq).toBe(segmentOf.indexOf(oldest) + 1);
  });

  test("a reader whose next segment is deleted under it gets PositionLost at the boundary; with \"earliest\" it skips the gap", () => {
    using tmp = new TempDir();
    const segmentOf = makeQueue(tmp.path, 300);
    using strict = Queue.openSubscriber(tmp.path, "strict");
    using lenient = Queue.openSubscriber(tmp.path, "lenient", { start: "earliest" });
    expect(strict.next()?.seq).toBe(0);
    expect(lenient.next()?.seq).toBe(0);
    unlinkSync(join(tmp.path, segmentFileName(1)));
    const inFirst = segmentOf.lastIndexOf(0);
    for (let seq = 1; seq <= inFirst; seq++) expect(strict.next()?.seq).toBe(seq);
    const lost = expectTyped(() => strict.next(), PositionLost, readerMetaPath(tmp.path, "strict"), "segment 1 was deleted");
    expect(lost.segment).toBe(1);
    for (let seq = 1; seq <= inFirst; seq++) expect(lenient.next()?.seq).toBe(seq);
    expect(lenient.next()?.seq).toBe(segmentOf.indexOf(2));
  });
});

describe("claim path", () => {
  test("claim + commitClaim round-trips, including an empty claim and one that forces a roll", () => {
    using tmp = new TempDir();
    using writer = Queue.openPublisher(tmp.path, { segmentSize: SEG });
    using reader = Queue.openSubscriber(tmp.path, "r");
    const buf = writer.claim(42, 1000);
    expect(buf).toBeInstanceOf(Uint8Array);
    expect(buf.length).toBe(1000);
    fillPayload(0, buf);
    expect(writer.commitClaim()).toBe(0);
    expect(writer.claim(7, 0).length).toBe(0);
    expect(writer.commitClaim()).toBe(1);
    // The largest payload cannot fit behind the first two records: the claim rolls to segment 1.
    const big = writer.claim(0xfffe, writer.maxPayloadLength);
    big.fill(0x5a);
    expect(writer.commitClaim()).toBe(2);
    expect(writer.currentSegment).toBe(1);
    expect(writer.append(3, new Uint8Array([1, 2, 3]))).toBe(3);

    const m0 = reader.next()!;
    expect([m0.seq, m0.typeId]).toEqual([0, 42]);
    expect(m0.payload).toEqual(fillPayload(0, new Uint8Array(1000)));
    const m1 = reader.next()!;
    expect([m1.seq, m1.typeId, m1.payload.length]).toEqual([1, 7, 0]);
    const m2 = reader.next()!;
    expect([m2.seq, m2.typeId, m2.payload.length, m2.payload.every((b) => b === 0x5a)]).toEqual([2, 0xfffe, writer.maxPayloadLength, true]);
    expect(reader.next()?.seq).toBe(3);
    expect(reader.next()).toBeNull();
  });

  test("claimAt writes in place through claimBuffer/claimData, across rolls, and validates like claim", () => {
    using tmp = new TempDir();
    using writer = Queue.openPublisher(tmp.path, { segmentSize: SEG });
    using reader = Queue.openSubscriber(tmp.path, "r");
    const records = 3 * Math.ceil(SEG / (24 + 32)) + 7; // enough to roll three times
    for (let i = 0; i < records; i++) {
      const at = writer.claimAt(9, 24);
      // Read the views after claimAt: a claim that rolled switched them.
      writer.claimData.setFloat64(at, i * 1.5, true);
      writer.claimData.setUint32(at + 8, i, true);
      writer.claimBuffer.fill(i & 0xff, at + 12, at + 24);
      expect(writer.commitClaim()).toBe(i);
    }
    expect(writer.currentSegment).toBeGreaterThanOrEqual(3);
    let i = 0;
    for (let m = reader.next(); m !== null; m = reader.next(), i++) {
      const v = new DataView(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength);
      expect([m.seq, m.typeId, m.length, v.getFloat64(0, true), v.getUint32(8, true)]).toEqual([i, 9, 24, i * 1.5, i]);
      expect(m.payload.subarray(12).every((b) => b === (i & 0xff))).toBe(true);
    }
    expect(i).toBe(records);
    expectTyped(() => writer.claimAt(1, SEG), PayloadTooLarge, tmp.path, "exceeds the maximum");
    expectTyped(() => writer.claimAt(1, -1), InvalidArgument, tmp.path, "claim length must be a non-negative integer");
    writer.claimAt(1, 4);
    expectTyped(() => writer.claimAt(1, 4), InvalidArgument, tmp.path, "a claim is pending");
    writer.abortClaim();
    writer.close();
    expect(() => writer.claimBuffer).toThrow(ClosedError);
    expect(() => writer.claimData).toThrow(ClosedError);
  });

  test("abortClaim publishes nothing and consumes no seq; its bytes are not mistaken for a record after reopen", () => {
    using tmp = new TempDir();
    {
      using writer = Queue.openPublisher(tmp.path, { segmentSize: SEG });
      writer.append(1, new Uint8Array([9]));
      const offset = writer.writeOffset;
      writer.claim(5, 500).fill(0xee);
      writer.abortClaim();
      expect(writer.writeOffset).toBe(offset);
      expect(writer.nextSeq).toBe(1);
      expect(writer.append(2, new Uint8Array([8]))).toBe(1);
      // Abandoned without commit or abort: closing drops it.
      writer.claim(6, 300).fill(0xdd);
    }
    using writer = Queue.openPublisher(tmp.path);
    expect(writer.nextSeq).toBe(2);
    expect(writer.append(3, new Uint8Array([7]))).toBe(2);
    using reader = Queue.openAnonymous(tmp.path);
    expect(drain(reader, (m) => [m.seq, m.typeId, ...m.payload])).toEqual([[0, 1, 9], [1, 2, 8], [2, 3, 7]]);
  });

  test("a claim larger than a segment allows is PayloadTooLarge and leaves the writer usable", () => {
    using tmp = new TempDir();
    using writer = Queue.openPublisher(tmp.path, { segmentSize: SEG });
    expect(writer.maxPayloadLength).toBe(MAX_PAYLOAD);
    const err = expectTyped(() => writer.claim(1, MAX_PAYLOAD + 1), PayloadTooLarge, tmp.path, `exceeds the maximum of ${MAX_PAYLOAD} bytes`);
    expect([err.length, err.maxLength]).toEqual([MAX_PAYLOAD + 1, MAX_PAYLOAD]);
    expectTyped(() => writer.claim(1, 1 << 30), PayloadTooLarge, tmp.path, "exceeds the maximum");
    for (const bad of [-1, 1.5, Number.NaN]) expectTyped(() => writer.claim(1, bad), InvalidArgument, tmp.path, "claim length must be a non-negative integer");
    expect(writer.append(1, new Uint8Array(4))).toBe(0);
  });

  test("append, claim or commitClaim in the wrong claim state is a typed error and publishes nothing", () => {
    using tmp = new TempDir();
    using writer = Queue.openPublisher(tmp.path, { segmentSize: SEG });
    using reader = Queue.openAnonymous(tmp.path);
    expectTyped(() => writer.commitClaim(), InvalidArgument, tmp.path, "commitClaim without a pending claim");
    writer.claim(1, 16).fill(1);
    expectTyped(() => writer.append(1, new Uint8Array(4)), InvalidArgument, tmp.path, "a claim is pending");
    expectTyped(() => writer.claim(1, 8), InvalidArgument, tmp.path, "a claim is pending");
    expect(reader.next()).toBeNull();
    expect(writer.commitClaim()).toBe(0);
    expect(writer.append(2, new Uint8Array(4))).toBe(1);
    expect(reader.next()?.payload).toEqual(new Uint8Array(16).fill(1));
    expect(reader.next()?.seq).toBe(1);
  });
});

describe("bad arguments", () => {
  test("a bad timestampNs is InvalidArgument and leaves nothing behind: append writes no byte, a claim stays pending", () => {
    using tmp = new TempDir();
    using writer = Queue.openPublisher(tmp.path, { segmentSize: SEG });
    using reader = Queue.openSubscriber(tmp.path, "r");
    const loud = new Uint8Array(1000).fill(0x11);
    for (const bad of [5 as unknown as bigint, -1n, 1n << 64n]) {
      expectTyped(() => writer.append(1, loud, bad), InvalidArgument, tmp.path, "timestampNs must be a bigint in [0, 2^64)");
    }
    writer.claim(2, 1000).fill(0x22);
    expectTyped(() => writer.commitClaim(-1n), InvalidArgument, tmp.path, "timestampNs must be a bigint");
    // Still pending: it can be committed now.
    expect(writer.commitClaim(7n)).toBe(0);
    writer.claim(3, 1000).fill(0x33);
    expectTyped(() => writer.commitClaim(5 as unknown as bigint), InvalidArgument, tmp.path, "timestampNs must be a bigint");
    writer.abortClaim();
    // Small records where the rejected bytes would have been: each next header must be a real one.
    for (let i = 0; i < 40; i++) writer.append(4, new Uint8Array([i]), BigInt(i));
    expect(drain(reader, (m) => [m.seq, m.typeId, m.length])).toEqual([[0, 2, 1000], ...Array.from({ length: 40 }, (_, i) => [i + 1, 4, 1])]);
  });

  test("invalid reader names are InvalidArgument naming the queue, and create no file", () => {
    using tmp = new TempDir();
    makeQueue(tmp.path, 1);
    const cases: [unknown, string][] = [
      ["", "must not be empty"],
      [".", 'must not be "."'],
      ["..", 'must not be ".."'],
      ["a/b", 'must not contain "/"'],
      ["../escape", 'must not contain "/"'],
      ["/abs", 'must not contain "/"'],
      ["nul\0byte", "must not contain NUL"],
      ["x".repeat(MAX_READER_NAME_BYTES + 1), `longer than ${MAX_READER_NAME_BYTES} bytes`],
      ["é".repeat(MAX_READER_NAME_BYTES / 2 + 1), `longer than ${MAX_READER_NAME_BYTES} bytes`],
      [123, "must be a string"],
      [undefined, "must be a string"],
    ];
    for (const [name, says] of cases) {
      expectTyped(() => Queue.openSubscriber(tmp.path, name as string), InvalidArgument, tmp.path, says);
    }
    expect(readdirSync(join(tmp.path, READERS_DIR))).toEqual([]);
    expect(existsSync(join(tmp.path, "..", `escape${READER_META_EXT}`))).toBe(false);
    // The longest accepted name works.
    using reader = Queue.openSubscriber(tmp.path, "x".repeat(MAX_READER_NAME_BYTES));
    expect(reader.next()?.seq).toBe(0);
  });

  test("a payload larger than a segment allows is PayloadTooLarge and writes nothing; the maximum itself fits", () => {
    using tmp = new TempDir();
    using writer = Queue.openPublisher(tmp.path, { segmentSize: SEG });
    using reader = Queue.openAnonymous(tmp.path);
    const offset = writer.writeOffset;
    const err = expectTyped(() => writer.append(1, new Uint8Array(SEG)), PayloadTooLarge, tmp.path, `payload of ${SEG} bytes exceeds`);
    expect([err.length, err.maxLength]).toEqual([SEG, MAX_PAYLOAD]);
    expectTyped(() => writer.append(1, new Uint8Array(MAX_PAYLOAD + 1)), PayloadTooLarge, tmp.path, "exceeds the maximum");
    expect([writer.nextSeq, writer.writeOffset, writer.currentSegment]).toEqual([0, offset, 0]);
    expect(reader.next()).toBeNull();
    expect(writer.append(1, new Uint8Array(MAX_PAYLOAD).fill(3))).toBe(0);
    const m = reader.next()!;
    expect([m.seq, m.payload.length, m.payload[MAX_PAYLOAD - 1]]).toEqual([0, MAX_PAYLOAD, 3]);
  });

  test("a payload that is not a Uint8Array is InvalidArgument and writes nothing", () => {
    using tmp = new TempDir();
    using writer = Queue.openPublisher(tmp.path, { segmentSize: SEG });
    const bad: unknown[] = ["text", 42, new ArrayBuffer(8), [1, 2, 3], null, undefined, { length: 3 }, new Uint16Array(2), new DataView(new ArrayBuffer(4))];
    for (const payload of bad) {
      expectTyped(() => writer.append(1, payload as Uint8Array), InvalidArgument, tmp.path, "payload must be a Uint8Array");
    }
    expectTyped(() => writer.append(1, null as unknown as Uint8Array), InvalidArgument, tmp.path, "got null");
    expect([writer.nextSeq, writer.writeOffset]).toEqual([0, SEGMENT_HEADER_SIZE]);
    // A Buffer is a Uint8Array.
    expect(writer.append(1, Buffer.from("ok"))).toBe(0);
    expect(readRecords(tmp.path, (m) => new TextDecoder().decode(m.payload))).toEqual(["ok"]);
  });

  test("typeId out of range or 0xFFFF (reserved for PAD) is InvalidArgument for append and claim; 0 and 0xFFFE work", () => {
    using tmp = new TempDir();
    using writer = Queue.openPublisher(tmp.path, { segmentSize: SEG });
    for (const typeId of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 0x10000, 0xffff, "1"]) {
      expectTyped(() => writer.append(typeId as number, new Uint8Array(1)), InvalidArgument, tmp.path, "0xFFFF is reserved");
      expectTyped(() => writer.claim(typeId as number, 1), InvalidArgument, tmp.path, "typeId must be an integer in [0, 65534]");
    }
    expect([writer.nextSeq, writer.writeOffset]).toEqual([0, SEGMENT_HEADER_SIZE]);
    writer.append(0, new Uint8Array(1));
    writer.append(0xfffe, new Uint8Array(1));
    using reader = Queue.openAnonymous(tmp.path);
    expect([reader.next()?.typeId, reader.next()?.typeId, reader.next()]).toEqual([0, 0xfffe, null]);
  });
});

describe("damaged control.meta", () => {
  /** A closed queue with three records; returns the path and the good bytes of its control block. */
  function queueWithControl(dir: string): { path: string; good: Uint8Array } {
    makeQueue(dir, 3);
    const path = join(dir, CONTROL_FILE);
    return { path, good: new Uint8Array(readFileSync(path)) };
  }

  function patched(good: Uint8Array, offset: number, value: number): Uint8Array {
    const bytes = good.slice();
    bytes.set(u32le(value), offset);
    return bytes;
  }

  const opens = (dir: string): [string, () => unknown][] => [
    ["publisher", () => Queue.openPublisher(dir, { openTimeoutMs: 100 }).close()],
    ["subscriber", () => Queue.openSubscriber(dir, "r", { openTimeoutMs: 100 }).close()],
    ["anonymous", () => Queue.openAnonymous(dir, { openTimeoutMs: 100 }).close()],
  ];

  test("wrong size, bad magic and unknown version are typed errors for every opener; nothing is guessed", () => {
    using tmp = new TempDir();
    const { path, good } = queueWithControl(tmp.path);
    const cases: [Uint8Array, typeof CorruptMetadata | typeof UnsupportedVersion, string][] = [
      [good.subarray(0, 100), CorruptMetadata, `control block is 100 bytes, expected ${CONTROL_SIZE}`],
      [new Uint8Array(0), CorruptMetadata, `control block is 0 bytes, expected ${CONTROL_SIZE}`],
      [new Uint8Array(2 * CONTROL_SIZE), CorruptMetadata, `control block is ${2 * CONTROL_SIZE} bytes, expected ${CONTROL_SIZE}`],
      [patched(good, CTL_MAGIC_OFF, 0xdeadbeef), CorruptMetadata, "bad control block magic 0xdeadbeef"],
      [patched(good, CTL_VERSION_OFF, 9), UnsupportedVersion, "unsupported format version 9"],
      [patched(good, CTL_VERSION_OFF, 0), UnsupportedVersion, "unsupported format version 0"],
    ];
    for (const [bytes, cls, says] of cases) {
      writeFileSync(path, bytes);
      for (const [, open] of opens(tmp.path)) {
        const err = expectTyped(open, cls, path, says);
        if (err instanceof UnsupportedVersion) expect(err.version).toBe(bytes[CTL_VERSION_OFF]!);
      }
    }
    // A failed open leaves neither the writer lock nor a reader meta behind.
    expect(readdirSync(join(tmp.path, READERS_DIR))).toEqual([]);
    writeFileSync(path, good);
    using writer = Queue.openPublisher(tmp.path, { openTimeoutMs: 100 });
    expect(writer.nextSeq).toBe(3);
  });

  test("an all-zero control block (creator still initialising) makes openers wait a bounded time, then fail typed", () => {
    using tmp = new TempDir();
    const { path, good } = queueWithControl(tmp.path);
    writeFileSync(path, new Uint8Array(CONTROL_SIZE));
    for (const [, open] of opens(tmp.path)) {
      const started = performance.now();
      expectTyped(open, CorruptMetadata, path, "never finished initialising");
      expect(performance.now() - started).toBeLessThan(NO_HANG_MS);
    }
    expect(readdirSync(join(tmp.path, READERS_DIR))).toEqual([]);
    writeFileSync(path, good);
    expect(readAll(tmp.path, MAX, { openTimeoutMs: 100 })).toEqual([0, 1, 2]);
  });

  test("an opener waiting on an initialising control block proceeds once init_state becomes ready", async () => {
    using tmp = new TempDir();
    const { path, good } = queueWithControl(tmp.path);
    writeFileSync(path, new Uint8Array(CONTROL_SIZE));
    await using child = spawnFixture("input-open.ts", [tmp.path, "20000", "anonymous"]);
    expect(await child.line()).toBe("ready");
    // Give the child time to be inside its wait loop (either way it must end up opening).
    await Bun.sleep(200);
    // Like a creator: every field first, init_state = ready last.
    patchFile(path, 0, patched(good, CTL_INIT_STATE_OFF, 0));
    patchFile(path, CTL_INIT_STATE_OFF, u32le(INIT_READY));
    const done = await child.exit();
    expect(done.stderr).toBe("");
    expect(done.lines.map((l) => JSON.parse(l))).toEqual([{ op: "anonymous", ok: true, seqs: [0, 1, 2] }]);
  });
});

describe("damaged segments and checkpoint", () => {
  test("a truncated or wrong-size segment is CorruptMetadata naming it, for readers at open and at the boundary", () => {
    using tmp = new TempDir();
    const segmentOf = makeQueue(tmp.path, 300);
    const seg0 = join(tmp.path, segmentFileName(0));
    const seg1 = join(tmp.path, segmentFileName(1));
    for (const size of [0, 10, 1000, SEG - 1, SEG * 2]) {
      const saved = readFileSync(seg0);
      truncateSync(seg0, size);
      expectTyped(() => Queue.openAnonymous(tmp.path), CorruptMetadata, seg0, `segment file is ${size} bytes, expected ${SEG}`);
      expectTyped(() => Queue.openSubscriber(tmp.path, "r"), CorruptMetadata, seg0, `segment file is ${size} bytes`);
      // The open failed cleanly: the reader name is not left locked.
      expectTyped(() => Queue.openSubscriber(tmp.path, "r"), CorruptMetadata, seg0, `segment file is ${size} bytes`);
      writeFileSync(seg0, saved);
    }
    truncateSync(seg1, 4096);
    using reader = Queue.openSubscriber(tmp.path, "r2");
    const inFirst = segmentOf.lastIndexOf(0);
    for (let seq = 0; seq <= inFirst; seq++) expect(reader.next()?.seq).toBe(seq);
    expectTyped(() => reader.next(), CorruptMetadata, seg1, `segment file is 4096 bytes, expected ${SEG}`);
    expectTyped(() => reader.next(), CorruptMetadata, seg1, "segment file is 4096 bytes");
    // Still intact segments are unaffected for the writer.
    using writer = Queue.openPublisher(tmp.path);
    expect(writer.nextSeq).toBe(300);
  });

  test("a segment with a bad header (magic, id) is CorruptMetadata", () => {
    using tmp = new TempDir();
    makeQueue(tmp.path, 10);
    const seg0 = join(tmp.path, segmentFileName(0));
    patchFile(seg0, SEG_MAGIC_OFF, u32le(0x12345678));
    expectTyped(() => Queue.openAnonymous(tmp.path), CorruptMetadata, seg0, "bad segment magic 0x12345678");
    patchFile(seg0, SEG_MAGIC_OFF, u32le(SEGMENT_MAGIC));
    patchFile(seg0, SEG_ID_OFF, u32le(7));
    expectTyped(() => Queue.openAnonymous(tmp.path), CorruptMetadata, seg0, "header says segment 7 but the file name says 0");
  });

  test("a truncated or wrong-size newest segment makes the writer refuse with CorruptMetadata and release its lock", () => {
    using tmp = new TempDir();
    makeQueue(tmp.path, 300);
    const ids = listSegmentIds(tmp.path);
    const newest = join(tmp.path, segmentFileName(ids[ids.length - 1]!));
    for (const size of [100, SEG * 2]) {
      truncateSync(newest, size);
      expectTyped(() => Queue.openPublisher(tmp.path), CorruptMetadata, newest, `segment file is ${size} bytes, expected ${SEG}`);
      // Not WriterAlreadyActive: the failed open let go of writer.lock.
      expectTyped(() => Queue.openPublisher(tmp.path), CorruptMetadata, newest, `segment file is ${size} bytes`);
    }
  });

  for (const [stray, make] of [
    ["an empty 000000999.q", (dir: string) => writeFileSync(join(dir, segmentFileName(999)), "")],
    ["a 000000999.q whose header says segment 1", (dir: string) => writeFileSync(join(dir, segmentFileName(999)), readFileSync(join(dir, segmentFileName(1))))],
  ] as const) {
    test(`${stray} does not block the writer: it is set aside, shown by inspect and doctor, and the seq continues`, async () => {
      using tmp = new TempDir();
      const segmentOf = makeQueue(tmp.path, 200);
      const head = segmentOf[199]!;
      make(tmp.path);
      const setAside = join(tmp.path, `${segmentFileName(999)}.2.corrupt`);
      {
        using writer = Queue.openPublisher(tmp.path);
        expect([writer.currentSegment, writer.nextSeq]).toEqual([head, 200]);
        appendRecords(writer, 150);
      }
      const ids = listSegmentIds(tmp.path);
      expect(ids).toEqual(range(0, ids.length));
      expect(existsSync(setAside)).toBe(true);
      expect(readAll(tmp.path, MAX)).toEqual(range(0, 350));
      using reader = Queue.openSubscriber(tmp.path, "after", { start: "earliest" });
      expect(readSeqs(reader)).toEqual(range(0, 350));
      expect(inspectQueue(tmp.path).setAsideFiles).toEqual([setAside]);
      const doctor = await runToEnd(["bun", join(import.meta.dir, "..", "cli", "main.ts"), "doctor", tmp.path, "--json"]);
      expect(doctor.stderr).toBe("");
      expect(doctor.code).toBe(1);
      expect(JSON.parse(doctor.stdout).findings).toEqual([expect.objectContaining({ kind: "set-aside-file", path: setAside })]);
    });
  }

  test("a leftover index.meta.tmp (writer killed before its rename) does not block the next writer", () => {
    using tmp = new TempDir();
    makeQueue(tmp.path, 100);
    const temp = tempPath(join(tmp.path, CHECKPOINT_FILE));
    writeFileSync(temp, new Uint8Array(5));
    {
      using writer = Queue.openPublisher(tmp.path);
      expect(writer.nextSeq).toBe(100);
      appendRecords(writer, 100);
    }
    expect(readFileSync(join(tmp.path, CHECKPOINT_FILE)).length).toBe(CHECKPOINT_SIZE);
    expect(existsSync(temp)).toBe(false);
    expect(readAll(tmp.path, MAX, { openTimeoutMs: 100 })).toEqual(range(0, 200));
  });

  test("a publisher open that fails after taking the lock gives back the lock and its segment mappings", () => {
    using tmp = new TempDir();
    const size = 16 << 20;
    Queue.openPublisher(tmp.path, { segmentSize: size, preallocate: false }).close();
    // A directory where the checkpoint's temp file goes makes writing the checkpoint fail at open.
    const temp = tempPath(join(tmp.path, CHECKPOINT_FILE));
    mkdirSync(temp);
    const before = addressSpaceBytes();
    const attempts = 10;
    for (let i = 0; i < attempts; i++) {
      const err = expectTyped(() => Queue.openPublisher(tmp.path), ErrnoError, temp, "EISDIR");
      expect(err.call).toBe("unlink");
    }
    // Each attempt reserved two 16 MiB windows; a leak would show as 320 MiB of address space.
    expect(addressSpaceBytes() - before).toBeLessThan((attempts * size) / 2);
  });

  for (const size of [0, 7, 15]) {
    test(`an index.meta truncated to ${size} bytes does not break recovery: seq continues, readers see everything`, () => {
      using tmp = new TempDir();
      makeQueue(tmp.path, 200);
      const index = join(tmp.path, CHECKPOINT_FILE);
      expect(readFileSync(index).length).toBe(CHECKPOINT_SIZE);
      truncateSync(index, size);
      {
        using writer = Queue.openPublisher(tmp.path);
        expect(writer.nextSeq).toBe(200);
        appendRecords(writer, 150);
      }
      truncateSync(index, size);
      using writer = Queue.openPublisher(tmp.path);
      expect(writer.nextSeq).toBe(350);
      expect(readAll(tmp.path, MAX, { openTimeoutMs: 100 })).toEqual(range(0, 350));
      using reader = Queue.openSubscriber(tmp.path, "after");
      let n = 0;
      while (reader.next() !== null) n++;
      expect(n).toBe(350);
    });
  }
});

/** Overwrites control.meta's current_segment hint of the closed queue in `dir`. */
function setControlHint(dir: string, segment: number): void {
  const fd = openSync(join(dir, CONTROL_FILE), "r+");
  writeSync(fd, u32le(segment), 0, 4, CTL_CURRENT_SEGMENT_OFF);
  closeSync(fd);
}

/** Replaces index.meta of the closed queue in `dir` with one naming `segment` (and `writeOffset`). */
function setCheckpointHint(dir: string, segment: number, writeOffset = SEGMENT_HEADER_SIZE): void {
  const image = new Uint8Array(CHECKPOINT_SIZE);
  const view = new DataView(image.buffer);
  view.setBigUint64(CHECKPOINT_SEGMENT_OFF, BigInt(segment), true);
  view.setBigUint64(CHECKPOINT_WRITE_OFFSET_OFF, BigInt(writeOffset), true);
  writeFileSync(join(dir, CHECKPOINT_FILE), image);
}

test("an index.meta with a wild segment number is ignored: no segment ids are skipped, readers see one contiguous sequence", () => {
  using tmp = new TempDir();
  makeQueue(tmp.path, 200);
  setCheckpointHint(tmp.path, 1_000_000, 4096);
  {
    using writer = Queue.openPublisher(tmp.path);
    expect(writer.nextSeq).toBe(200);
    appendRecords(writer, 150);
  }
  // Contiguous segment ids: the wild hint was not followed.
  const ids = listSegmentIds(tmp.path);
  expect(ids).toEqual(range(0, ids.length));
  using reader = Queue.openSubscriber(tmp.path, "after", { start: "earliest" });
  expect(readSeqs(reader)).toEqual(range(0, 350));
});

describe("wild segment hints (control.meta current_segment, index.meta)", () => {
  const corruptions: [string, (dir: string, head: number) => void][] = [
    ["a control.meta current_segment of 0xFFFFFFF0", (dir) => setControlHint(dir, 0xfffffff0)],
    ["an index.meta naming head + 1", (dir, head) => setCheckpointHint(dir, head + 1)],
    ["both naming head + 1", (dir, head) => (setControlHint(dir, head + 1), setCheckpointHint(dir, head + 1))],
  ];
  for (const [what, corrupt] of corruptions) {
    test(`${what}: the writer continues in the newest segment, ids stay contiguous, readers see one sequence`, () => {
      using tmp = new TempDir();
      const segmentOf = makeQueue(tmp.path, 200);
      const head = segmentOf[199]!;
      corrupt(tmp.path, head);
      {
        using writer = Queue.openPublisher(tmp.path);
        expect([writer.currentSegment, writer.nextSeq]).toEqual([head, 200]);
        appendRecords(writer, 150);
      }
      const ids = listSegmentIds(tmp.path);
      expect(ids).toEqual(range(0, ids.length));
      using reader = Queue.openSubscriber(tmp.path, "after", { start: "earliest" });
      expect(readSeqs(reader)).toEqual(range(0, 350));
    });
  }

  test("with every segment file removed, ids continue after the hints only when control.meta and index.meta agree", () => {
    for (const [hints, first] of [["agree", 4], ["wild control.meta", 0], ["wild index.meta", 0]] as const) {
      using tmp = new TempDir();
      const segmentOf = makeQueue(tmp.path, 200);
      const head = segmentOf[199]!;
      expect(head).toBe(3);
      for (const id of listSegmentIds(tmp.path)) unlinkSync(join(tmp.path, segmentFileName(id)));
      if (hints === "wild control.meta") setControlHint(tmp.path, 0xfffffff0);
      if (hints === "wild index.meta") setCheckpointHint(tmp.path, head + 1);
      using writer = Queue.openPublisher(tmp.path);
      expect([hints, writer.currentSegment, writer.nextSeq]).toEqual([hints, first, 0]);
    }
  });

  test("a FIFO as index.meta, read when no segment file exists, is CorruptMetadata for the writer open", () => {
    using tmp = new TempDir();
    makeQueue(tmp.path, 3);
    unlinkSync(join(tmp.path, segmentFileName(0)));
    const path = join(tmp.path, CHECKPOINT_FILE);
    unlinkSync(path);
    expect(Bun.spawnSync(["mkfifo", path]).exitCode).toBe(0);
    expectTyped(() => Queue.openPublisher(tmp.path), CorruptMetadata, path, "found a FIFO");
  });
});

describe("damaged reader meta", () => {
  /** The generation stored in slot `i` of a reader meta image. */
  function generation(bytes: Uint8Array, i: number): number {
    return Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(slotOffset(i) + SLOT_GENERATION_OFF, true));
  }

  test("a reader meta with one bad slot falls back to the other; with both bad it is CorruptMetadata for that reader only", () => {
    using tmp = new TempDir();
    using writer = Queue.openPublisher(tmp.path, { segmentSize: SEG });
    appendRecords(writer, 300);
    const metaPath = readerMetaPath(tmp.path, "r");
    {
      using reader = Queue.openSubscriber(tmp.path, "r");
      for (let i = 0; i < 10; i++) reader.next();
      reader.commit();
      for (let i = 0; i < 10; i++) reader.next();
      reader.commit();
    }
    const bytes = new Uint8Array(readFileSync(metaPath));
    const newer = generation(bytes, 0) > generation(bytes, 1) ? 0 : 1;
    // Flip a byte of the newer slot's position: its CRC no longer matches.
    patchFile(metaPath, slotOffset(newer) + 1, new Uint8Array([bytes[slotOffset(newer) + 1]! ^ 0xff]));
    {
      using reader = Queue.openSubscriber(tmp.path, "r");
      expect(reader.next()?.seq).toBe(10);
    }

    const damaged = new Uint8Array(readFileSync(metaPath));
    for (let i = 0; i < READER_SLOT_COUNT; i++) damaged[slotOffset(i) + 3]! ^= 0x55;
    writeFileSync(metaPath, damaged);
    expectTyped(() => Queue.openSubscriber(tmp.path, "r"), CorruptMetadata, metaPath, "both reader meta slots fail their CRC");
    expectTyped(() => Queue.openSubscriber(tmp.path, "r", { start: "earliest" }), CorruptMetadata, metaPath, "both reader meta slots");

    // Others are unaffected: another reader, the writer, retention and inspection.
    using other = Queue.openSubscriber(tmp.path, "other", { start: "latest" });
    appendRecords(writer, 100);
    expect(other.next()?.seq).toBe(300);
    other.commit();
    const head = writer.currentSegment;
    expect(writer.cleanup().length).toBeGreaterThan(0);
    const kept = listSegmentIds(tmp.path);
    expect(kept[0]).toBeGreaterThan(0);
    expect(kept[kept.length - 1]).toBe(head);
    const info = inspectQueue(tmp.path);
    expect(info.readers.find((r) => r.name === "r")?.state).toBe("corrupt");
    expect(info.readers.find((r) => r.name === "other")?.state).toBe("live");

    // Deleting the file restarts that reader from the oldest segment.
    unlinkSync(metaPath);
    using restarted = Queue.openSubscriber(tmp.path, "r");
    expect(restarted.position.segment).toBe(listSegmentIds(tmp.path)[0]!);
    expect(restarted.next()).not.toBeNull();
  });

  test("a reader meta of an unexpected size is CorruptMetadata", () => {
    using tmp = new TempDir();
    makeQueue(tmp.path, 3);
    const metaPath = readerMetaPath(tmp.path, "odd");
    writeFileSync(metaPath, new Uint8Array(50));
    expectTyped(() => Queue.openSubscriber(tmp.path, "odd"), CorruptMetadata, metaPath, `reader meta is 50 bytes; expected ${READER_META_SIZE}`);
    using writer = Queue.openPublisher(tmp.path);
    expect(writer.cleanup()).toEqual([]);
  });
});

describe("non-regular files in place of metadata", () => {
  const OPS = ["publisher", "cleanup", "inspect", "writerStatus", "subscriber:r", "anonymous"];
  /** Each op's outcome with a FIFO in place of the file: what throws CorruptMetadata naming it, and what still works. */
  const CASES: { file: string; corrupt: string[]; doctorFinds: boolean }[] = [
    // Only recovery reads the checkpoint, and only when no segment file exists (tested with the hints).
    { file: CHECKPOINT_FILE, corrupt: [], doctorFinds: false },
    // A bad reader meta is that reader's problem: retention and tools report it as corrupt and go on.
    { file: join(READERS_DIR, `r${READER_META_EXT}`), corrupt: ["subscriber:r"], doctorFinds: true },
    { file: WRITER_LOCK_FILE, corrupt: ["publisher", "cleanup", "inspect", "writerStatus"], doctorFinds: true },
  ];

  for (const { file, corrupt, doctorFinds } of CASES) {
    test(`a FIFO as ${file}: writer open, cleanup, inspect, writerStatus, readers and doctor return or throw CorruptMetadata naming it, never block`, async () => {
      using tmp = new TempDir();
      makeQueue(tmp.path, 3);
      const path = join(tmp.path, file);
      rmSync(path, { force: true });
      const made = Bun.spawnSync(["mkfifo", path], { stderr: "pipe" });
      expect(made.stderr.toString()).toBe("");
      expect(made.exitCode).toBe(0);

      // In a child with a bound, so a blocked open fails the test instead of stalling it.
      await using child = spawnFixture("input-open.ts", [tmp.path, "100", ...OPS]);
      const out = await within(child.exit(), `operations on a queue with a FIFO as ${file}`);
      expect(out.stderr).toBe("");
      expect(out.code).toBe(0);
      const results = out.lines.slice(1).map((l) => JSON.parse(l));
      expect(results.map((r) => r.op)).toEqual(OPS);
      for (const r of results) {
        if (corrupt.includes(r.op)) {
          expect(r).toMatchObject({ ok: false, error: "CorruptMetadata", path, message: expect.stringContaining("FIFO") });
        } else {
          expect(r).toMatchObject({ op: r.op, ok: true });
        }
      }
      const inspected = results.find((r) => r.op === "inspect");
      if (inspected.ok) expect(inspected.result).toEqual(file === WRITER_LOCK_FILE || file === CHECKPOINT_FILE ? {} : { r: "corrupt" });
      expect(results.find((r) => r.op === "anonymous").seqs).toEqual([0, 1, 2]);

      await using doctor = spawnCommand(["bun", join(import.meta.dir, "..", "cli", "main.ts"), "doctor", tmp.path, "--json"]);
      const report = await within(doctor.exit(), `doctor on a queue with a FIFO as ${file}`);
      expect(report.stderr).toBe("");
      const findings = JSON.parse(report.lines.join("\n")).findings as { kind: string; path?: string }[];
      expect(findings.some((f) => f.kind === "corrupt-metadata" && f.path === path)).toBe(doctorFinds);
      expect(report.code).toBe(doctorFinds ? 1 : 0);
    }, 60_000);
  }
});

describe("missing or inaccessible queue", () => {
  test("a subscriber on a missing directory gets QueueNotFound after a bounded wait and creates nothing", () => {
    using tmp = new TempDir();
    const missing = tmp.join("nope");
    for (const open of [
      () => Queue.openSubscriber(missing, "r", { openTimeoutMs: 100 }),
      () => Queue.openAnonymous(missing, { openTimeoutMs: 100 }),
    ]) {
      const started = performance.now();
      expectTyped(open, QueueNotFound, missing, "queue directory does not exist");
      expect(performance.now() - started).toBeLessThan(NO_HANG_MS);
    }
    expect(existsSync(missing)).toBe(false);
    // An existing directory without a control block: the missing file is named.
    mkdirSync(missing);
    expectTyped(() => Queue.openSubscriber(missing, "r", { openTimeoutMs: 100 }), QueueNotFound, join(missing, CONTROL_FILE), "no control block appeared within 100 ms");
    expect(readdirSync(missing)).toEqual([]);
  });

  test("a subscriber waiting for a queue that a publisher creates meanwhile opens it", async () => {
    using tmp = new TempDir();
    const dir = tmp.join("late");
    await using child = spawnFixture("input-open.ts", [dir, "20000", "subscriber:late"]);
    expect(await child.line()).toBe("ready");
    using writer = Queue.openPublisher(dir, { segmentSize: SEG });
    const done = await child.exit();
    expect(done.stderr).toBe("");
    expect(done.lines.map((l) => JSON.parse(l))).toEqual([{ op: "subscriber:late", ok: true, seqs: [] }]);
    expect(existsSync(readerMetaPath(dir, "late"))).toBe(true);
    expect(writer.nextSeq).toBe(0);
  });

  test("a queue directory the process may not write to gives ErrnoError EACCES with the path", async () => {
    using tmp = new TempDir();
    const dir = tmp.join("q");
    {
      // Readable by others (the default is private, 0600/0700): nobody must be able to read it.
      using writer = Queue.openPublisher(dir, { segmentSize: SEG, mode: 0o644 });
      appendRecords(writer, 3);
      using existing = Queue.openSubscriber(dir, "existing");
      existing.commit();
    }
    // Root owns everything; the directories are 0755 and the files 0644.
    for (const d of [tmp.path, dir, join(dir, READERS_DIR)]) chmodSync(d, 0o755);
    const cannot = cannotRunAsNobody();
    if (cannot !== null) {
      console.log(`skipped: ${cannot}`);
      return;
    }

    const runAsNobody = async (ops: string[], target = dir): Promise<Record<string, unknown>[]> => {
      const { code, stdout: out, stderr } = await runToEnd([...AS_NOBODY, "bun", join(FIXTURES, "input-open.ts"), target, "100", ...ops]);
      expect(stderr).toBe("");
      expect(code).toBe(0);
      const lines = out.trim().split("\n");
      expect(lines[0]).toBe("ready");
      return lines.slice(1).map((l) => JSON.parse(l));
    };
    const eacces = (op: string, path: string): Record<string, unknown> =>
      ({ op, ok: false, error: "ErrnoError", chronicle: true, code: "EACCES", errnoName: "EACCES", path, message: expect.stringContaining("EACCES") });

    const [writerOpen, newReaderOpen, anonymous] = await runAsNobody(["publisher", "subscriber:newreader", "anonymous"]);
    expect(writerOpen).toEqual(eacces("publisher", join(dir, WRITER_LOCK_FILE)));
    // A named reader must create its meta in readers/, which nobody may not write.
    expect(newReaderOpen).toMatchObject({ ok: false, error: "ErrnoError", errnoName: "EACCES" });
    expect(String(newReaderOpen!.path).startsWith(readerMetaPath(dir, "newreader"))).toBe(true);
    // Readers never write to the queue's files: an anonymous one needs no write permission at all.
    expect(anonymous).toEqual({ op: "anonymous", ok: true, seqs: [0, 1, 2] });
    expect(await runAsNobody(["publisher"], tmp.join("fresh"))).toEqual([eacces("publisher", tmp.join("fresh", READERS_DIR))]);

    // Files writable by all, directories still not: creating anything in them is refused.
    for (const name of readdirSync(dir)) if (name !== READERS_DIR) chmodSync(join(dir, name), 0o666);
    chmodSync(readerMetaPath(dir, "existing"), 0o666);
    const [publisher, newReader, existing] = await runAsNobody(["publisher", "subscriber:newreader", "subscriber:existing"]);
    expect(publisher).toMatchObject({ ok: false, error: "ErrnoError", errnoName: "EACCES" });
    expect(String(publisher!.path).startsWith(dir + "/")).toBe(true);
    expect(newReader).toMatchObject({ ok: false, error: "ErrnoError", errnoName: "EACCES" });
    expect(String(newReader!.path).startsWith(readerMetaPath(dir, "newreader"))).toBe(true);
    // An existing reader needs no new file: it still reads.
    expect(existing).toEqual({ op: "subscriber:existing", ok: true, seqs: [0, 1, 2] });
    // Nothing was left half-created, and root can still write.
    expect(readdirSync(join(dir, READERS_DIR))).toEqual([`existing${READER_META_EXT}`]);
    using writer = Queue.openPublisher(dir);
    expect(writer.nextSeq).toBe(3);
    expect(() => Queue.openPublisher(dir)).toThrow(WriterAlreadyActive);
  });
});
