import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { Queue, WriterAlreadyActive } from "../src/index.ts";
import { payloadMismatch } from "./helpers/payloads.ts";
import { spawnFixture } from "./helpers/spawn.ts";
import { TempDir } from "./helpers/tmp.ts";

function segmentFiles(dir: string): number {
  return readdirSync(dir).filter((n) => /^\d{9,}\.q$/.test(n)).length;
}

/** Reads the whole queue from the start; returns the seqs and checks payloads. */
function readAll(dir: string, max: number): number[] {
  using reader = Queue.openAnonymous(dir);
  const seqs: number[] = [];
  for (let m = reader.next(); m !== null; m = reader.next()) {
    expect(payloadMismatch(m.seq, m.payload, max)).toBe(-1);
    seqs.push(m.seq);
  }
  return seqs;
}

describe("two processes", () => {
  test("100,000 records of 0..4 KiB, written and read concurrently by two processes across segment rolls", async () => {
    using tmp = new TempDir();
    Queue.openPublisher(tmp.path, { segmentSize: 1 << 20 }).close();
    await using reader = spawnFixture("core-reader.ts", [tmp.path, "rt", "100000", "4096"]);
    await using writer = spawnFixture("core-writer.ts", [tmp.path, "100000", "4096", String(1 << 20)]);
    const w = await writer.exit();
    expect(w.stderr).toBe("");
    expect(w.code).toBe(0);
    const r = await reader.exit();
    expect(r.lines).toEqual(["ok 100000 99999"]);
    expect(r.code).toBe(0);
    expect(segmentFiles(tmp.path)).toBeGreaterThanOrEqual(6);
  });

  test("format v1: 10,000 records read concurrently by another process", async () => {
    using tmp = new TempDir();
    Queue.openPublisher(tmp.path, { formatVersion: 1 }).close();
    await using reader = spawnFixture("core-reader.ts", [tmp.path, "rt1", "10000", "1024"]);
    await using writer = spawnFixture("core-writer.ts", [tmp.path, "10000", "1024", "v1"]);
    expect((await writer.exit()).code).toBe(0);
    expect((await reader.exit()).lines).toEqual(["ok 10000 9999"]);
  });

  test("a writer killed with SIGKILL mid-stream loses no acknowledged record; the next one continues the seq", async () => {
    using tmp = new TempDir();
    let acknowledged = -1;
    for (let trial = 0; trial < 4; trial++) {
      await using child = spawnFixture("core-writer.ts", [tmp.path, "1000000", "300", "65536", "1"]);
      const lines = await child.until((l) => l.startsWith("seq ") && Number(l.slice(4)) >= acknowledged + 200 + trial * 97);
      child.kill("SIGKILL");
      await child.proc.exited;
      acknowledged = Number(lines[lines.length - 1].slice(4));
    }
    await using last = spawnFixture("core-writer.ts", [tmp.path, "50", "300", "65536"]);
    const done = await last.exit();
    expect(done.code).toBe(0);
    const next = Number(done.lines[done.lines.length - 1].slice(5));
    expect(next).toBeGreaterThan(acknowledged + 50);
    const seqs = readAll(tmp.path, 300);
    expect(seqs.length).toBe(next);
    expect(seqs.every((s, i) => s === i)).toBe(true);
  });

  test("a writer that closed normally is continued by the next: one contiguous sequence", async () => {
    using tmp = new TempDir();
    for (const n of [1234, 777]) {
      await using w = spawnFixture("core-writer.ts", [tmp.path, String(n), "2000", "65536"]);
      expect((await w.exit()).code).toBe(0);
    }
    const seqs = readAll(tmp.path, 2000);
    expect(seqs.length).toBe(2011);
    expect(seqs.every((s, i) => s === i)).toBe(true);
  });

  test("a reader racing a writer that rolls tiny segments never skips a record (seal race)", async () => {
    using tmp = new TempDir();
    Queue.openPublisher(tmp.path, { segmentSize: 65536 }).close();
    // Payloads up to 30,000 bytes: about four records per 64 KiB segment, so rolls are constant.
    await using reader = spawnFixture("core-reader.ts", [tmp.path, "race", "6000", "30000"]);
    await using writer = spawnFixture("core-writer.ts", [tmp.path, "6000", "30000", "65536"]);
    expect((await writer.exit()).code).toBe(0);
    expect((await reader.exit()).lines).toEqual(["ok 6000 5999"]);
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
    holder.kill("SIGKILL");
    await holder.proc.exited;
    using again = Queue.openPublisher(tmp.path);
    // Epochs: 1 = first, 2 = the killed holder, 3 = this one; a refused open takes none.
    expect(again.epoch).toBe(3);
  });
});
