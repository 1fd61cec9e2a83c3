import { describe, expect, test } from "bun:test";
import { closeSync, existsSync, mkdirSync, openSync, unlinkSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import {
  Queue, ClosedError, CorruptRecord, PositionLost, QueueFull, inspectQueue, readerStatuses, type QueueReader, type QueueWriter,
} from "../src/index.ts";
import { readCheckpoint } from "../src/queue/checkpoint.ts";
import { CONTROL_TMP_FILE, READER_META_SIZE, SEGMENT_HEADER_SIZE } from "../src/queue/layout/index.ts";
import { readerMetaPath } from "../src/queue/readerMeta.ts";
import { listSegmentIds, segmentPath, writeSegmentFile } from "../src/queue/segment.ts";
import { thrown } from "./helpers/errors.ts";
import { payloadMismatch } from "./helpers/payloads.ts";
import { fdCount, mappedSegmentFiles } from "./helpers/procfs.ts";
import { appendNext, appendWhile, checkPayload, createQueue, nextBeforeAsync, range, readAll, readRecords, readSeqs, takeSeqs } from "./helpers/queue.ts";
import { spawnFixture } from "./helpers/spawn.ts";
import { TempDir } from "./helpers/tmp.ts";

const SEG = 65536;
const TRIALS = Number(process.env.CHRONICLE_CRASH_TRIALS ?? 50);

/** Reads until the reader has consumed a record in segment `segment`. */
function readIntoSegment(reader: QueueReader, segment: number): void {
  while (reader.positionSegment < segment || reader.positionOffset <= SEGMENT_HEADER_SIZE) {
    if (reader.next() === null) throw new Error(`queue ended before segment ${segment}`);
  }
}

/** A small deterministic PRNG, so a failing crash schedule can be replayed with CHRONICLE_CRASH_SEED. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

describe("crash safety", () => {
  test(`crash matrix: ${TRIALS} writers killed with SIGKILL during appends and rolls lose no acknowledged record`, async () => {
    using tmp = new TempDir();
    const dir = tmp.path;
    const MAX = 12_000; // about ten records per 64 KiB segment: a roll every few appends
    const seed = Number(process.env.CHRONICLE_CRASH_SEED ?? Date.now() % 1e9);
    const random = prng(seed);
    const ctx = `(CHRONICLE_CRASH_SEED=${seed})`;
    createQueue(dir, { segmentSize: SEG });
    // Follows the queue across all the crashes: every record is checked once, in order.
    using follower = Queue.openAnonymous(dir);
    let present = 0;
    const drain = (): void => {
      try {
        for (let m = follower.next(); m !== null; m = follower.next()) {
          if (m.seq !== present) throw new Error(`seq ${m.seq} where ${present} was expected ${ctx}`);
          if (payloadMismatch(m.seq, m.payload, MAX) >= 0) throw new Error(`payload of seq ${m.seq} is wrong ${ctx}`);
          present++;
        }
      } catch (e) {
        // A writer killed in a roll leaves its segment unsealed with the next one linked: readers
        // report that until the next writer opens and seals it, then read on (the next drain).
        if (!(e instanceof CorruptRecord && /is not sealed but segment \d+ exists and no writer is alive/.test(e.message))) throw e;
      }
    };
    let acknowledged = 0;
    for (let trial = 0; trial < TRIALS; trial++) {
      await using child = spawnFixture("life-writer.ts", [dir, String(SEG), String(MAX), "inf", "hold"]);
      const seen: string[] = [];
      const how = random();
      if (how < 0.2) {
        // Anywhere from startup through open (recovery, sealing, padding) into the first appends.
        await Bun.sleep(10 + random() * 120);
      } else {
        seen.push(await child.line());
        if (how < 0.6) await Bun.sleep(random() * 12);
        else {
          const n = 1 + Math.floor(random() * 40);
          let k = 0;
          seen.push(...(await child.until(() => ++k >= n)));
        }
      }
      child.kill("SIGKILL");
      const end = await child.exit();
      expect(end.signal, `trial ${trial} ended by itself: ${end.stderr} ${ctx}`).toBe("SIGKILL");
      // Every line the child printed, including those still in the pipe when it died.
      const lines = [...seen, ...end.lines];
      const start = lines.find((l) => l.startsWith("start "));
      const acks = lines.filter((l) => /^seq \d+$/.test(l)).map((l) => Number(l.slice(4)));
      // The new writer continued exactly after the last committed record: no gap, no reuse.
      if (start !== undefined) expect(Number(start.slice(6)), `trial ${trial} ${ctx}`).toBe(present);
      drain();
      if (acks.length > 0) expect(acks[acks.length - 1], `trial ${trial} ${ctx}`).toBeLessThan(present);
      acknowledged += acks.length;
    }
    await using last = spawnFixture("life-writer.ts", [dir, String(SEG), String(MAX), "20", "close"]);
    const done = await last.exit();
    expect(done.code).toBe(0);
    const next = Number(done.lines[done.lines.length - 1]!.slice(5));
    drain();
    expect(present).toBe(next);
    expect(readAll(dir, MAX)).toEqual(range(0, next));
    // The schedule really interrupted writers mid-stream, across many rolls.
    expect(acknowledged).toBeGreaterThan(TRIALS);
    expect(listSegmentIds(dir).length).toBeGreaterThan(TRIALS);
  }, 30_000 + TRIALS * 500);

  test("a writer that died after linking the next segment but before sealing its own: the next writer seals it", () => {
    using tmp = new TempDir();
    const dir = tmp.path;
    const MAX = 300;
    {
      using first = Queue.openPublisher(dir, { segmentSize: SEG, preallocate: false });
      appendWhile(first, MAX, () => first.nextSeq < 10);
    }
    // The first step of a roll (segment 1 linked into place), where a kill -9 can stop a writer.
    writeSegmentFile(segmentPath(dir, 1), 1, SEG);
    using reader = Queue.openAnonymous(dir);
    expect(takeSeqs(reader, 10)).toEqual(range(0, 10));
    // Until a writer opens, a reader at the end of segment 0 says why it cannot go on (issue 15 item 8).
    expect(thrown(() => reader.next())).toMatchObject({ name: "CorruptRecord", segment: 0 });
    using next = Queue.openPublisher(dir);
    expect(next.currentSegment).toBe(1);
    expect(next.nextSeq).toBe(10);
    appendWhile(next, MAX, () => next.nextSeq < 20);
    expect(readSeqs(reader)).toEqual(range(10, 20));
    expect(readAll(dir, MAX)).toEqual(range(0, 20));
  });

  test("a reader killed with SIGKILL mid-stream resumes from its committed position and misses nothing", async () => {
    using tmp = new TempDir();
    const dir = tmp.path;
    const MAX = 300;
    using writer = Queue.openPublisher(dir, { segmentSize: SEG });
    appendWhile(writer, MAX, () => writer.nextSeq < 20_000);
    const random = prng(7);
    for (let round = 0; round < 3; round++) {
      // Records appended after each kill keep the child from ever reaching the end before it.
      const lastSeq = writer.nextSeq + 999;
      const name = `k${round}`;
      await using child = spawnFixture("life-reader.ts", [dir, name, String(MAX), "stream", "97", String(lastSeq)]);
      const first = Number((await child.line()).slice(6));
      const threshold = first + 500 + Math.floor(random() * 3000);
      const lines = await child.until((l) => l.startsWith("commit ") && Number(l.slice(7)) >= threshold);
      await child.killAndWait();
      expect(lines.some((l) => l.startsWith("bad"))).toBe(false);
      const printed = Number(lines[lines.length - 1]!.slice(7));

      // Map the committed position (from the meta) to the seq of the record it follows.
      const meta = readerStatuses(dir, { segment: writer.currentSegment, offset: writer.writeOffset, segmentSize: SEG }, {
        readerTtlMs: 60_000, maxReaderLagBytes: Infinity,
      }).find((r) => r.name === name)!;
      expect(meta.open).toBe(false);
      let committedSeq = -1;
      {
        using scan = Queue.openAnonymous(dir);
        for (let m = scan.next(); m !== null; m = scan.next()) {
          if (scan.positionSegment === meta.position!.segment && scan.positionOffset === meta.position!.offset) {
            committedSeq = m.seq;
            break;
          }
        }
      }
      expect(committedSeq).toBeGreaterThanOrEqual(printed);
      appendWhile(writer, MAX, () => writer.nextSeq <= lastSeq);

      // The restarted reader starts right after the committed record and reads to the end.
      await using again = spawnFixture("life-reader.ts", [dir, name, String(MAX), "stream", "1000000", String(lastSeq)]);
      const result = await again.exit();
      expect(result.lines[0]).toBe(`first ${committedSeq + 1}`);
      expect(result.lines[result.lines.length - 1]).toBe(`ok ${lastSeq - committedSeq}`);
      expect(result.code).toBe(0);
    }
  }, 30_000);
});

describe("retention", () => {
  test("fast, slow, dead, lagging and corrupt readers: cleanup deletes exactly what no live reader needs", async () => {
    using tmp = new TempDir();
    const dir = tmp.path;
    const MAX = 2000;
    const LAG = 9 * SEG;
    const TTL = 300;
    const states = (w: QueueWriter, readerTtlMs: number): Record<string, string> => {
      const head = { segment: w.currentSegment, offset: w.writeOffset, segmentSize: SEG };
      return Object.fromEntries(readerStatuses(dir, head, { readerTtlMs, maxReaderLagBytes: LAG }).map((r) => [r.name, r.state]));
    };
    // The segment of every seq written; the first seq of segment k is segmentOf.indexOf(k).
    const segmentOf: number[] = [];
    const writeInto = (w: QueueWriter, segment: number): void => {
      appendWhile(w, MAX, () => w.currentSegment < segment || w.writeOffset < 1000, segmentOf);
    };
    const drainAndCommit = (r: QueueReader): void => {
      while (r.next() !== null);
      r.commit();
    };

    using first = Queue.openPublisher(dir, { segmentSize: SEG, maxReaderLagBytes: LAG });
    writeInto(first, 12);
    // Two lagging readers (open, but more than LAG behind), one of them opened with start "earliest".
    using lagging = Queue.openSubscriber(dir, "lagging");
    using laggingEarliest = Queue.openSubscriber(dir, "lagging-earliest", { start: "earliest" });
    for (const r of [lagging, laggingEarliest]) {
      readIntoSegment(r, 1);
      r.commit();
    }
    using fast = Queue.openSubscriber(dir, "fast");
    drainAndCommit(fast);
    expect(fast.positionSegment).toBe(12);
    // The slow reader is another process holding segment 7; the dead one committed in segment 4, then died.
    await using slow = spawnFixture("life-reader.ts", [dir, "slow", String(MAX), "to-seg", "7"]);
    await using dead = spawnFixture("life-reader.ts", [dir, "dead", String(MAX), "to-seg", "4"]);
    expect(await slow.line()).toStartWith("at 7 ");
    expect(await dead.line()).toStartWith("at 4 ");
    await dead.killAndWait();
    writeFileSync(readerMetaPath(dir, "broken"), new Uint8Array(READER_META_SIZE).fill(0xa5));

    // Within the default TTL the dead reader still holds its segment; lagging readers hold nothing.
    expect(states(first, 60_000)).toEqual({
      broken: "corrupt", dead: "live", fast: "live", lagging: "lagging", "lagging-earliest": "lagging", slow: "live",
    });
    expect(first.cleanup()).toEqual([0, 1, 2, 3]);
    expect(listSegmentIds(dir)).toEqual(range(4, 13));
    first.close();

    // Past the TTL (the dead reader never heartbeats again) it holds nothing either.
    await Bun.sleep(TTL + 100);
    using writer = Queue.openPublisher(dir, { readerTtlMs: TTL, maxReaderLagBytes: LAG, autoCleanup: true });
    expect(states(writer, TTL)).toEqual({
      broken: "corrupt", dead: "dead", fast: "live", lagging: "lagging", "lagging-earliest": "lagging", slow: "live",
    });
    expect(writer.cleanup()).toEqual([4, 5, 6]);
    expect(writer.cleanup()).toEqual([]);
    expect(listSegmentIds(dir)).toEqual(range(7, 13));

    // Readers whose next segment was deleted: PositionLost, or (start "earliest") the oldest segment.
    const lost = thrown(() => {
      for (let m = lagging.next(); m !== null; m = lagging.next()) expect(lagging.positionSegment).toBe(1);
    });
    expect(lost).toBeInstanceOf(PositionLost);
    let m = laggingEarliest.next();
    while (m !== null && laggingEarliest.positionSegment === 1) m = laggingEarliest.next();
    expect(m?.seq).toBe(segmentOf.indexOf(7));
    expect(laggingEarliest.positionSegment).toBe(7);
    lagging.close();
    laggingEarliest.close();

    // The corrupt meta breaks neither the writer nor automatic cleanup at each roll.
    writeInto(writer, 14);
    expect(listSegmentIds(dir)).toEqual(range(7, 15));
    await slow.killAndWait();
    drainAndCommit(fast);
    writeInto(writer, 15);
    expect(listSegmentIds(dir)).toEqual([14, 15]);
    expect(states(writer, TTL)).toEqual({
      broken: "corrupt", dead: "dead", fast: "live", lagging: "dead", "lagging-earliest": "dead", slow: "dead",
    });

    // The dead reader comes back: its position is gone.
    expect(() => {
      using again = Queue.openSubscriber(dir, "dead");
      again.next();
    }).toThrow(PositionLost);
    using restarted = Queue.openSubscriber(dir, "dead", { start: "earliest" });
    expect(restarted.next()?.seq).toBe(segmentOf.indexOf(14));
  }, 15_000);
});

describe("capacity", () => {
  const payload = new Uint8Array(10_000).fill(3);

  /** Appends until append throws; returns the error. */
  function fill(writer: QueueWriter): unknown {
    return thrown(() => {
      for (;;) writer.append(1, payload);
    });
  }

  test("maxSegments: append fails fast with QueueFull at the roll and succeeds once the reader advances", () => {
    using tmp = new TempDir();
    const dir = tmp.path;
    using writer = Queue.openPublisher(dir, { segmentSize: SEG, maxSegments: 3 });
    using reader = Queue.openSubscriber(dir, "r");
    const err = fill(writer);
    expect(err).toBeInstanceOf(QueueFull);
    expect((err as QueueFull).code).toBe("QUEUE_FULL");
    expect(writer.currentSegment).toBe(2);
    expect(listSegmentIds(dir)).toEqual([0, 1, 2]);
    const next = writer.nextSeq;
    expect(() => writer.append(1, payload)).toThrow(QueueFull);
    expect(writer.nextSeq).toBe(next);

    expect(readSeqs(reader)).toEqual(range(0, next));
    reader.commit();
    expect(writer.append(1, payload)).toBe(next);
    expect(listSegmentIds(dir)).toEqual([2, 3]);
    expect(readSeqs(reader)).toEqual([next]);
  });

  test("maxBytes: the same limit expressed in bytes", () => {
    using tmp = new TempDir();
    const dir = tmp.path;
    using writer = Queue.openPublisher(dir, { segmentSize: SEG, maxBytes: 4 * SEG + SEG / 2 });
    using reader = Queue.openSubscriber(dir, "r");
    expect(fill(writer)).toBeInstanceOf(QueueFull);
    expect(listSegmentIds(dir)).toEqual([0, 1, 2, 3]);
    readSeqs(reader);
    reader.commit();
    expect(writer.append(1, payload)).toBe(writer.nextSeq - 1);
    expect(listSegmentIds(dir)).toEqual([3, 4]);
  });

  test("backpressure: the blocked append waits for a reader in another process to commit further", async () => {
    using tmp = new TempDir();
    const dir = tmp.path;
    createQueue(dir, { segmentSize: SEG });
    await using reader = spawnFixture("life-reader.ts", [dir, "r", "0", "on-signal"]);
    expect(await reader.line()).toBe("ready");
    // The writer fills four segments (maxSegments 4), then appends with backpressure (20 s).
    await using writer = spawnFixture("life-full-writer.ts", [dir]);
    const full = await writer.line();
    expect(full).toMatch(/^full \d+$/);
    const lastSeq = Number(full.slice(5));
    const after = writer.line();
    // The reader holds segment 0, so the append cannot complete until it moves.
    expect(await Promise.race([after, Bun.sleep(300).then(() => "blocked")])).toBe("blocked");
    expect(listSegmentIds(dir)).toEqual([0, 1, 2, 3]);
    reader.kill("SIGUSR1");
    expect(await reader.line()).toBe(`advanced 3 ${lastSeq}`);
    expect(await after).toBe(`appended ${lastSeq + 1} 4`);
    expect((await writer.exit()).code).toBe(0);
    expect(listSegmentIds(dir)).toEqual([3, 4]);
  }, 15_000);

  test("backpressure: with no reader advancing, the append gives up with QueueFull after the timeout", () => {
    using tmp = new TempDir();
    const dir = tmp.path;
    using writer = Queue.openPublisher(dir, { segmentSize: SEG, maxSegments: 2, backpressure: { timeoutMs: 200 } });
    using reader = Queue.openSubscriber(dir, "r");
    const started = performance.now();
    const err = fill(writer);
    expect(err).toBeInstanceOf(QueueFull);
    expect((err as QueueFull).message).toContain("after waiting 200 ms");
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThanOrEqual(200);
    expect(waited).toBeLessThan(10_000); // did not hang
    expect(listSegmentIds(dir)).toEqual([0, 1]);
    const next = writer.nextSeq;
    expect(readSeqs(reader)).toEqual(range(0, next));
    reader.commit();
    expect(writer.append(1, payload)).toBe(next);
  });
});

/** Mounts a 2 MiB tmpfs on `dir`; returns why it could not, or null. */
function mountSmallTmpfs(dir: string): string | null {
  const r = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", dir], { stderr: "pipe" });
  return r.exitCode === 0 ? null : `mount -t tmpfs failed: ${r.stderr.toString().trim() || `exit ${r.exitCode}`}`;
}

/** Writes `path` until the filesystem holding it is full (ENOSPC). */
function fillFilesystem(path: string): void {
  const fd = openSync(path, "w");
  const chunk = new Uint8Array(4096).fill(1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOSPC") throw e;
  } finally {
    closeSync(fd);
  }
}

function probeTmpfs(): string | null {
  using probe = new TempDir();
  const problem = mountSmallTmpfs(probe.path);
  if (problem === null) Bun.spawnSync(["umount", probe.path]);
  return problem;
}

const TMPFS_PROBLEM = probeTmpfs();
if (TMPFS_PROBLEM !== null) console.log(`lifecycle: skipping the ENOSPC test (${TMPFS_PROBLEM})`);

describe("full disk", () => {
  test.skipIf(TMPFS_PROBLEM !== null)("ENOSPC on a full filesystem is an ErrnoError from append, never SIGBUS; the queue stays readable", async () => {
    using tmp = new TempDir();
    const MAX = 3000;
    for (const preallocate of ["1", "0"]) {
      const mnt = tmp.join(`fs${preallocate}`);
      mkdirSync(mnt);
      const problem = mountSmallTmpfs(mnt);
      if (problem !== null) throw new Error(problem);
      try {
        const dir = join(mnt, "q");
        // In a child: a SIGBUS would show as a signal, not take the test runner down.
        await using child = spawnFixture("life-enospc.ts", [dir, preallocate, String(MAX)]);
        const out = await child.exit();
        expect(out.signal).toBeNull();
        expect(out.stderr).toBe("");
        expect(out.code).toBe(0);
        const acks = out.lines.filter((l) => l.startsWith("seq ")).map((l) => Number(l.slice(4)));
        const rest = out.lines.filter((l) => !l.startsWith("seq "));
        expect(rest[0]).toBe("error ErrnoError ENOSPC");
        expect(rest[1]).toMatch(/^again (ok|ErrnoError ENOSPC)$/);
        expect(rest[2]).toBe("closed");
        expect(listSegmentIds(dir).length).toBeGreaterThan(20);
        expect(readAll(dir, MAX)).toEqual(range(0, acks.length));
        expect(acks).toEqual(range(0, acks.length));
      } finally {
        Bun.spawnSync(["umount", mnt]);
      }
    }
  }, 20_000);

  test.skipIf(TMPFS_PROBLEM !== null)("creating a queue on a full filesystem is ErrnoError ENOSPC naming control.tmp, never SIGBUS, and leaves no control.tmp", async () => {
    using tmp = new TempDir();
    const mnt = tmp.join("fs");
    mkdirSync(mnt);
    const problem = mountSmallTmpfs(mnt);
    if (problem !== null) throw new Error(problem);
    try {
      const dir = join(mnt, "q");
      const filler = join(mnt, "filler");
      fillFilesystem(filler);
      // In a child: a SIGBUS would show as a signal, not take the test runner down.
      await using child = spawnFixture("input-open.ts", [dir, "200", "publisher"]);
      const out = await child.exit();
      expect(out.signal).toBeNull();
      expect(out.stderr).toBe("");
      expect(out.code).toBe(0);
      const result = JSON.parse(out.lines.find((l) => l.startsWith("{"))!);
      expect(result).toMatchObject({ ok: false, error: "ErrnoError", errnoName: "ENOSPC", path: join(dir, CONTROL_TMP_FILE) });
      expect(existsSync(join(dir, CONTROL_TMP_FILE))).toBe(false);
      // Nothing half-made blocks the queue once there is room again.
      unlinkSync(filler);
      {
        using writer = Queue.openPublisher(dir, { segmentSize: SEG, preallocate: false });
        appendNext(writer, 100);
      }
      expect(readAll(dir, 100)).toEqual([0]);
    } finally {
      Bun.spawnSync(["umount", mnt]);
    }
  }, 20_000);
});

describe("bounded resources", () => {
  test("writing and then reading 100 segments keeps mapped segments and open fds bounded", () => {
    using tmp = new TempDir();
    const dir = tmp.path;
    const MAX = 3000;
    {
      using writer = Queue.openPublisher(dir, { segmentSize: SEG });
      appendWhile(writer, MAX, () => writer.currentSegment < 2);
      const fdBase = fdCount();
      let segment = -1;
      let maxMapped = 0;
      let maxFds = 0;
      appendWhile(writer, MAX, () => {
        if (writer.currentSegment !== segment) {
          segment = writer.currentSegment;
          maxMapped = Math.max(maxMapped, mappedSegmentFiles(dir));
          maxFds = Math.max(maxFds, fdCount());
        }
        return segment < 102;
      });
      // The current segment and the one being prepared.
      expect(maxMapped).toBeLessThanOrEqual(2);
      expect(maxFds - fdBase).toBeLessThanOrEqual(2);
    }
    expect(mappedSegmentFiles(dir)).toBe(0);
    {
      using reader = Queue.openSubscriber(dir, "r");
      reader.next();
      const fdBase = fdCount();
      let segment = -1;
      let maxMapped = 0;
      let maxFds = 0;
      let n = 1;
      for (let m = reader.next(); m !== null; m = reader.next()) {
        n++;
        if (reader.positionSegment !== segment) {
          segment = reader.positionSegment;
          maxMapped = Math.max(maxMapped, mappedSegmentFiles(dir));
          maxFds = Math.max(maxFds, fdCount());
        }
      }
      expect(segment).toBe(102);
      expect(n).toBe(readAll(dir, MAX).length);
      expect(maxMapped).toBe(1);
      expect(maxFds).toBeLessThanOrEqual(fdBase);
    }
    expect(mappedSegmentFiles(dir)).toBe(0);
  });
});

describe("writer liveness", () => {
  test("writerStatus: alive while the writer process runs, not alive once it is killed", async () => {
    using tmp = new TempDir();
    const dir = tmp.path;
    await using child = spawnFixture("life-writer.ts", [dir, String(SEG), "300", "50", "hold"]);
    await child.until((l) => l === "holding");
    using reader = Queue.openSubscriber(dir, "r");
    const live = reader.writerStatus();
    expect(live.alive).toBe(true);
    expect(live.pid).toBe(child.proc.pid);
    expect(live.epoch).toBe(1);
    expect(live.heartbeatAgeMs).toBeLessThan(10_000);
    await child.killAndWait();
    await Bun.sleep(150);
    const dead = reader.writerStatus();
    expect(dead.alive).toBe(false);
    expect(dead.pid).toBe(child.proc.pid);
    expect(dead.heartbeatAgeMs).toBeGreaterThanOrEqual(150);
    expect(inspectQueue(dir).writer.stale).toBe(true);
    // Everything the dead writer appended is readable; past it there is simply nothing yet.
    expect(readSeqs(reader)).toEqual(range(0, 50));
    expect(reader.wait(20)).toBe(false);
  });

  test("liveness probes never make a legitimate open fail: 500 writer and named-reader opens under a probing process", async () => {
    using tmp = new TempDir();
    const dir = createQueue(tmp.join("q"), { segmentSize: SEG, preallocate: false });
    Queue.openSubscriber(dir, "r").close();
    await using prober = spawnFixture("liveness-prober.ts", [dir]);
    expect(await prober.line()).toBe("ready");
    const failures: string[] = [];
    for (let i = 0; i < 500; i++) {
      try {
        using writer = Queue.openPublisher(dir, { preallocate: false });
        using reader = Queue.openSubscriber(dir, "r");
        writer.append(1, new Uint8Array(8));
        reader.next();
        reader.commit();
      } catch (e) {
        failures.push(`${i}: ${(e as Error).constructor.name} ${(e as Error).message}`);
      }
    }
    // The prober was still probing all along (it only ends when killed).
    expect(prober.proc.exitCode).toBeNull();
    expect(failures).toEqual([]);
    expect(readRecords(dir, (m) => m.seq)).toEqual(range(0, 500));
  }, 60_000);

  test("a writer that closes normally never makes next() throw; the next writer's records follow (defect 6)", async () => {
    using tmp = new TempDir();
    const dir = tmp.path;
    const MAX = 2000;
    createQueue(dir, { segmentSize: SEG });
    using reader = Queue.openSubscriber(dir, "r");
    await using child = spawnFixture("life-writer.ts", [dir, String(SEG), String(MAX), "3000", "close"]);
    let n = 0;
    const deadline = performance.now() + 20_000;
    while (n < 3000) {
      const m = await nextBeforeAsync(reader, deadline);
      if (m === null) break;
      expect(m.seq).toBe(n++);
      checkPayload(m, MAX);
    }
    expect(n).toBe(3000);
    const out = await child.exit();
    expect(out.lines[out.lines.length - 1]).toBe("done 3000");
    expect(reader.writerStatus().alive).toBe(false);
    expect(reader.next()).toBeNull();
    expect(reader.wait(20)).toBe(false);
    expect(await reader.waitAsync({ timeoutMs: 20 })).toBe(false);

    using writer = Queue.openPublisher(dir);
    appendWhile(writer, MAX, () => writer.nextSeq < 3010);
    expect(reader.writerStatus().alive).toBe(true);
    expect(readSeqs(reader)).toEqual(range(n, 3010));
  }, 25_000);
});

describe("durability", () => {
  test("flushAsync and flushSync across rolls run without error and everything is there after reopening", () => {
    using tmp = new TempDir();
    const dir = tmp.path;
    const MAX = 2000;
    const writer = Queue.openPublisher(dir, { segmentSize: SEG });
    writer.flushSync();
    writer.flushAsync();
    appendWhile(writer, MAX, () => {
      if (writer.nextSeq % 50 === 0) writer.flushAsync();
      if (writer.nextSeq % 120 === 0) writer.flushSync();
      return writer.nextSeq < 500;
    });
    expect(writer.currentSegment).toBeGreaterThan(5);
    writer.flushSync();
    expect(readCheckpoint(dir)).toEqual({ segment: writer.currentSegment, writeOffset: writer.writeOffset });
    writer.flushAsync();
    writer.close();
    expect(() => writer.flushSync()).toThrow(ClosedError);
    expect(() => writer.flushAsync()).toThrow(ClosedError);

    using again = Queue.openPublisher(dir);
    expect(again.nextSeq).toBe(500);
    expect(readAll(dir, MAX)).toEqual(range(0, 500));
  });

  test("a writer killed with SIGKILL right after flushSync: records and checkpoint are all there", async () => {
    using tmp = new TempDir();
    const dir = tmp.path;
    const MAX = 2000;
    await using child = spawnFixture("life-writer.ts", [dir, String(SEG), String(MAX), "700", "flush"]);
    const flushed = await child.find((l) => l.startsWith("flushed "));
    await child.killAndWait();
    const [, next, segment, offset] = flushed.split(" ").map(Number);
    expect(next).toBe(700);
    expect(readCheckpoint(dir)).toEqual({ segment: segment!, writeOffset: offset! });
    expect(readAll(dir, MAX)).toEqual(range(0, 700));
    using writer = Queue.openPublisher(dir);
    expect(writer.nextSeq).toBe(700);
  });
});
