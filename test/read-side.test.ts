/**
 * Readers never write to what they read: segments are mapped read-only, reading leaves no
 * trace on disk, read-only consumers work, and a JIT-warmed wait on plain loads still sees
 * another process's commit.
 */
import { describe, expect, test } from "bun:test";
import { fullGC, heapStats } from "bun:jsc";
import { chmodSync, chownSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { FanInReader, InvalidArgument, Queue, inspectQueue } from "../src/index.ts";
import { listSegmentIds, segmentPath } from "../src/queue/segment.ts";
import { CONTROL_FILE, READERS_DIR, SEGMENT_HEADER_SIZE } from "../src/queue/layout/index.ts";
import { mappingPermissions } from "./helpers/procfs.ts";
import { range, readSeqs } from "./helpers/queue.ts";
import { AS_NOBODY, FIXTURES, cannotRunAsNobody, spawnCommand, spawnFixture, type Child } from "./helpers/spawn.ts";
import { TempDir } from "./helpers/tmp.ts";

const SEGMENT = 64 << 10;

/** A queue of `n` 100-byte records in 64 KiB segments (several of them for n in the thousands). */
function writeQueue(dir: string, n: number): void {
  using w = Queue.openPublisher(dir, { segmentSize: SEGMENT, preallocate: false });
  for (let i = 0; i < n; i++) w.append(1, new Uint8Array(100).fill(i & 0xff));
  w.flushSync();
}

/** The permissions of this process's mappings of the queue's segment files. */
function segmentMappings(dir: string): string[] {
  const ids = new Set(listSegmentIds(dir).map((id) => segmentPath(dir, id)));
  return [...mappingPermissions(dir)].filter(([path]) => ids.has(path)).flatMap(([, perms]) => perms);
}

describe("segments are mapped read-only by every reader", () => {
  test("named and anonymous readers and fan-in sources map segments r--s; the writer's own mapping is rw-s", () => {
    using tmp = new TempDir();
    const a = tmp.join("a");
    const b = tmp.join("b");
    writeQueue(a, 2000);
    writeQueue(b, 10);
    {
      using named = Queue.openSubscriber(a, "named");
      expect(readSeqs(named)).toEqual(range(0, 2000));
      using anonymous = Queue.openAnonymous(a);
      expect(anonymous.next()!.seq).toBe(0);
      expect(segmentMappings(a)).toEqual(["r--s", "r--s"]);
    }
    {
      using fan = new FanInReader();
      fan.addReader(Queue.openSubscriber(a, "fan"));
      fan.addReader(Queue.openAnonymous(b));
      expect(fan.next()).not.toBeNull();
      expect([...segmentMappings(a), ...segmentMappings(b)]).toEqual(["r--s", "r--s"]);
    }
    expect(inspectQueue(a).head.nextSeq).toBe(2000);
    using writer = Queue.openPublisher(a, { segmentSize: SEGMENT, preallocate: false });
    expect(writer.nextSeq).toBe(2000);
    expect(segmentMappings(a)).toEqual(["rw-s"]);
  });

  test("reading a synced queue from the start changes no segment's mtime (no page is written)", async () => {
    using tmp = new TempDir();
    const dir = tmp.join("q");
    writeQueue(dir, 3000);
    const before = listSegmentIds(dir).map((id) => statSync(segmentPath(dir, id), { bigint: true }).mtimeNs);
    expect(before.length).toBeGreaterThan(3);
    // File times have the kernel's tick resolution: a write now would show.
    await Bun.sleep(30);
    {
      using r = Queue.openSubscriber(dir, "replay");
      expect(readSeqs(r)).toEqual(range(0, 3000));
      r.commit();
      expect(r.wait(20)).toBe(false);
    }
    const after = listSegmentIds(dir).map((id) => statSync(segmentPath(dir, id), { bigint: true }).mtimeNs);
    expect(after).toEqual(before);
  });
});

describe("read-only consumers", () => {
  test("an unprivileged process with read-only segments and control block, and only readers/ writable, reads, waits and commits", async () => {
    const cannot = cannotRunAsNobody();
    if (cannot !== null) {
      console.log(`skipped: ${cannot}`);
      return;
    }
    using tmp = new TempDir();
    const dir = tmp.join("q");
    writeQueue(dir, 5);
    chmodSync(tmp.path, 0o755);
    chmodSync(dir, 0o755);
    for (const name of readdirSync(dir)) if (name !== READERS_DIR) chmodSync(join(dir, name), 0o444);
    chownSync(join(dir, READERS_DIR), 65534, 65534);

    const run = (name: string): Child => spawnCommand([...AS_NOBODY, "bun", join(FIXTURES, "read-only-reader.ts"), dir, name, "8", "hybrid"]);
    await using named = run("nobody-reader");
    await using anonymous = run("-");
    expect(await named.line()).toBe("ready 5");
    expect(await anonymous.line()).toBe("ready 5");
    // Format v2: these sleepers cannot register in waiters_pending, so the writer does not wake
    // them; they poll, and still get the records.
    {
      using w = Queue.openPublisher(dir);
      for (let i = 0; i < 3; i++) w.append(1, new Uint8Array(100));
    }
    for (const child of [named, anonymous]) {
      const done = await child.exit();
      expect(done.stderr).toBe("");
      expect(done.code).toBe(0);
      const result = JSON.parse(done.lines[0]!) as { seqs: number[]; segmentMaps: string[] };
      expect(result.seqs).toEqual(range(0, 8));
      expect(result.segmentMaps.every((p) => p === "r--s")).toBe(true);
    }
    // The named reader's position was committed by nobody, in the one directory it may write.
    const status = inspectQueue(dir).readers.find((r) => r.name === "nobody-reader")!;
    expect(status.position).toMatchObject({ segment: 0, offset: SEGMENT_HEADER_SIZE + 8 * 192 });
    expect(statSync(join(dir, CONTROL_FILE)).mode & 0o777).toBe(0o444);
  });
});

describe("waiting on plain loads", () => {
  for (const strategy of ["spin", "hybrid"]) {
    test(`a JIT-warmed ${strategy} wait in another process returns when this one commits`, async () => {
      using tmp = new TempDir();
      const dir = tmp.join("q");
      writeQueue(dir, 1);
      await using child = spawnFixture("read-only-reader.ts", [dir, "-", "2", strategy]);
      expect(await child.line()).toBe("ready 1");
      {
        using w = Queue.openPublisher(dir);
        w.append(1, new Uint8Array(8));
      }
      const done = await child.exit();
      expect(done.stderr).toBe("");
      expect(JSON.parse(done.lines[0]!).seqs).toEqual([0, 1]);
    });
  }
});

describe("decoding in place and batch polls", () => {
  function queueOf(tmp: TempDir, n: number): string {
    const dir = tmp.join("q");
    using w = Queue.openPublisher(dir, { segmentSize: SEGMENT, preallocate: false });
    const payload = new Uint8Array(24);
    const data = new DataView(payload.buffer);
    for (let i = 0; i < n; i++) {
      data.setFloat64(0, i * 1.5, true);
      data.setUint32(8, 1000 + i, true);
      w.append(3, payload, BigInt(5_000_000_000 + i));
    }
    return dir;
  }

  test("buffer, data and payloadOffset read the payload in place, equal to payload's bytes", () => {
    using tmp = new TempDir();
    using r = Queue.openAnonymous(queueOf(tmp, 4));
    for (let i = 0; i < 4; i++) {
      const m = r.next()!;
      expect(m.data.getFloat64(m.payloadOffset, true)).toBe(i * 1.5);
      expect(m.data.getUint32(m.payloadOffset + 8, true)).toBe(1000 + i);
      expect(m.buffer.subarray(m.payloadOffset, m.payloadOffset + m.length)).toEqual(m.payload);
    }
  });

  test("JSON and console forms show the header fields and a payload preview, never the segment", () => {
    using tmp = new TempDir();
    using r = Queue.openAnonymous(queueOf(tmp, 2));
    r.next();
    const m = r.next()!;
    expect(JSON.parse(JSON.stringify(m))).toEqual({ seq: 1, typeId: 3, timestampNs: "5000000001", length: 24, segment: 0, offset: SEGMENT_HEADER_SIZE + 128 });
    const shown = Bun.inspect(m);
    expect(shown).toStartWith("MessageView { seq: 1, typeId: 3, timestampNs: 5000000001n, length: 24, payload: <00 00 00 00 00 00 f8 3f e9 03 00 00");
    expect(shown.length).toBeLessThan(200);
  });

  test("reader.poll hands over at most `limit` records, then the rest; commit persists past them", () => {
    using tmp = new TempDir();
    const dir = queueOf(tmp, 10);
    const seqs: number[] = [];
    {
      using r = Queue.openSubscriber(dir, "batch");
      expect(r.poll((m) => seqs.push(m.seq), 3)).toBe(3);
      expect(r.poll((m) => seqs.push(m.seq))).toBe(7);
      expect(r.poll((m) => seqs.push(m.seq))).toBe(0);
      expect(seqs).toEqual(range(0, 10));
      r.commit();
    }
    using again = Queue.openSubscriber(dir, "batch");
    expect(again.next()).toBeNull();
  });

  test("a handler that throws ends the poll; the record it threw on counts as consumed", () => {
    using tmp = new TempDir();
    const dir = queueOf(tmp, 10);
    {
      using r = Queue.openSubscriber(dir, "throws");
      expect(() => r.poll((m) => {
        if (m.seq === 4) throw new Error("handler failed");
      })).toThrow("handler failed");
      r.commit();
    }
    using again = Queue.openSubscriber(dir, "throws");
    expect(again.next()!.seq).toBe(5);
  });

  test("bad poll arguments are InvalidArgument, for readers and the fan-in", () => {
    using tmp = new TempDir();
    using r = Queue.openAnonymous(queueOf(tmp, 1));
    using fan = new FanInReader();
    for (const limit of [-1, 1.5, Number.NaN]) {
      expect(() => r.poll(() => {}, limit)).toThrow(InvalidArgument);
      expect(() => fan.poll(() => {}, limit)).toThrow(InvalidArgument);
    }
    expect(() => r.poll(null as unknown as () => void)).toThrow(InvalidArgument);
    expect(r.next()!.seq).toBe(0);
  });

  test("fanIn.poll merges across sources like next()", () => {
    using tmp = new TempDir();
    const a = queueOf(tmp, 3);
    const b = tmp.join("b");
    {
      using w = Queue.openPublisher(b, { segmentSize: SEGMENT, preallocate: false });
      w.append(4, new Uint8Array(1), 5_000_000_001n);
    }
    using fan = new FanInReader();
    const ia = fan.addReader(Queue.openAnonymous(a));
    const ib = fan.addReader(Queue.openAnonymous(b));
    const got: string[] = [];
    expect(fan.poll((m) => got.push(`${m.sourceId === ia ? "a" : m.sourceId === ib ? "b" : "?"}${m.message.seq}`))).toBe(4);
    expect(got).toEqual(["a0", "a1", "b0", "a2"]);
  });
});

describe("no allocation on the hot paths", () => {
  test("append, next() and decoding in place allocate nothing per record once warm (JSC heap object count)", () => {
    using tmp = new TempDir();
    const dir = tmp.join("q");
    using w = Queue.openPublisher(dir, { segmentSize: 64 << 20 });
    using r = Queue.openAnonymous(dir);
    const payload = new Uint8Array(64).fill(1);
    let sink = 0;
    const round = (n: number): void => {
      for (let i = 0; i < n; i++) {
        w.append(1, payload);
        const m = r.next()!;
        sink += m.data.getUint32(m.payloadOffset, true) + m.seq + m.typeId + m.timestampLo + m.length;
      }
    };
    const objects = (): number => Object.values(heapStats().objectTypeCounts).reduce((a, b) => a + b, 0);
    // Warm up until the JIT has compiled the loop (its own allocations are not per record).
    round(200_000);
    fullGC();
    const before = objects();
    const n = 100_000;
    round(n);
    const perRecord = (objects() - before) / n;
    expect(sink).toBeGreaterThan(0);
    // A view, a BigInt or a closure per record would be >= 1.
    expect(perRecord).toBeLessThan(0.05);
  });
});
