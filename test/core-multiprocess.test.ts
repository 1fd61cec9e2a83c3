import { describe, expect, test } from "bun:test";
import { Queue, WriterAlreadyActive } from "../src/index.ts";
import { listSegmentIds } from "../src/queue/segment.ts";
import { createQueue, range, readAll, readRecords } from "./helpers/queue.ts";
import { spawnFixture } from "./helpers/spawn.ts";
import { TempDir } from "./helpers/tmp.ts";

/**
 * A core-reader child (reader `name`) and a core-writer child (`segment`: its size argument) on
 * `dir` at once, `count` records of up to `max` bytes; both must end well, the reader having seen all.
 */
async function writeAndReadConcurrently(dir: string, name: string, count: number, max: number, segment: string): Promise<void> {
  await using reader = spawnFixture("core-reader.ts", [dir, name, String(count), String(max)]);
  await using writer = spawnFixture("core-writer.ts", [dir, String(count), String(max), segment]);
  const w = await writer.exit();
  expect(w.stderr).toBe("");
  expect(w.code).toBe(0);
  const r = await reader.exit();
  expect(r.lines).toEqual([`ok ${count} ${count - 1}`]);
  expect(r.code).toBe(0);
}

describe("two processes", () => {
  test("100,000 records of 0..4 KiB, written and read concurrently by two processes across segment rolls", async () => {
    using tmp = new TempDir();
    createQueue(tmp.path, { segmentSize: 1 << 20 });
    await writeAndReadConcurrently(tmp.path, "rt", 100_000, 4096, String(1 << 20));
    expect(listSegmentIds(tmp.path).length).toBeGreaterThanOrEqual(6);
  });

  test("format v1: 10,000 records read concurrently by another process", async () => {
    using tmp = new TempDir();
    createQueue(tmp.path, { formatVersion: 1 });
    await writeAndReadConcurrently(tmp.path, "rt1", 10_000, 1024, "v1");
  });

  test("a writer killed with SIGKILL mid-stream loses no acknowledged record; the next one continues the seq", async () => {
    using tmp = new TempDir();
    let acknowledged = -1;
    for (let trial = 0; trial < 4; trial++) {
      await using child = spawnFixture("core-writer.ts", [tmp.path, "1000000", "300", "65536", "1"]);
      const line = await child.find((l) => l.startsWith("seq ") && Number(l.slice(4)) >= acknowledged + 200 + trial * 97);
      await child.killAndWait();
      acknowledged = Number(line.slice(4));
    }
    await using last = spawnFixture("core-writer.ts", [tmp.path, "50", "300", "65536"]);
    const done = await last.exit();
    expect(done.code).toBe(0);
    const next = Number(done.lines[done.lines.length - 1]!.slice(5));
    expect(next).toBeGreaterThan(acknowledged + 50);
    expect(readAll(tmp.path, 300)).toEqual(range(0, next));
  });

  test("a writer that closed normally is continued by the next: one contiguous sequence", async () => {
    using tmp = new TempDir();
    for (const n of [1234, 777]) {
      await using w = spawnFixture("core-writer.ts", [tmp.path, String(n), "2000", "65536"]);
      expect((await w.exit()).code).toBe(0);
    }
    expect(readAll(tmp.path, 2000)).toEqual(range(0, 2011));
  });

  test("a reader racing a writer that rolls tiny segments never skips a record (seal race)", async () => {
    using tmp = new TempDir();
    createQueue(tmp.path, { segmentSize: 65536 });
    // Payloads up to 30,000 bytes: about four records per 64 KiB segment, so rolls are constant.
    await writeAndReadConcurrently(tmp.path, "race", 6000, 30_000, "65536");
  });

  test("writer lock: refused in this and another process, free again after the holder exits or is killed", async () => {
    using tmp = new TempDir();
    const first = Queue.openPublisher(tmp.path);
    expect(() => Queue.openPublisher(tmp.path)).toThrow(WriterAlreadyActive);
    await using other = spawnFixture("core-writer.ts", [tmp.path, "1", "10", "-"]);
    const refused = await other.exit();
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("WriterAlreadyActive");
    expect(refused.stderr).toContain(String(process.pid));
    first.close();

    await using holder = spawnFixture("core-writer.ts", [tmp.path, "100000000", "10", "-", "1"]);
    await holder.line();
    expect(() => Queue.openPublisher(tmp.path)).toThrow(WriterAlreadyActive);
    await holder.killAndWait();
    using again = Queue.openPublisher(tmp.path);
    // Epochs: 1 = first, 2 = the killed holder, 3 = this one; a refused open takes none.
    expect(again.epoch).toBe(3);
  });
});

describe("timestamps", () => {
  test("no record is stamped later than a realtime read right after its append, from a fresh writer process's first append on", async () => {
    using tmp = new TempDir();
    const after = new Map<number, bigint>();
    // Two fresh processes: the one creating the queue and one reopening it.
    for (let run = 0; run < 2; run++) {
      await using child = spawnFixture("clock-writer.ts", [tmp.path, "1000"]);
      const { code, lines, stderr } = await child.exit();
      expect(stderr).toBe("");
      expect(code).toBe(0);
      const out = JSON.parse(lines[0]!) as { seqs: number[]; after: string[] };
      out.seqs.forEach((seq, i) => after.set(seq, BigInt(out.after[i]!)));
    }
    const records = readRecords(tmp.path, (m) => ({ seq: m.seq, timestampNs: m.timestampNs }));
    expect(records.map((r) => r.seq)).toEqual(range(0, 2000));
    const ahead = records.filter((r) => r.timestampNs > after.get(r.seq)!);
    expect(ahead).toEqual([]);
  });
});
