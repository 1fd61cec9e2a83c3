import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { ClosedError, FanInReader, InvalidArgument, Queue, type MessageView, type QueueReader, type QueueWriter } from "../src/index.ts";
import { fdCount, fdsUnder, mapsUnder, threadCount } from "./helpers/procfs.ts";
import { createQueue, drain } from "./helpers/queue.ts";
import { spawnFixture } from "./helpers/spawn.ts";
import { TempDir } from "./helpers/tmp.ts";
import { eventually, settled, within } from "./helpers/async.ts";

/** Timestamps straddle a 2^32 boundary, so the merge must compare the high and the low word. */
const BASE = (0x17a2b3c4n << 32n) - 2000n;
/** 64 KiB segments: a few thousand small records roll several times, also under a read-ahead head. */
const SEGMENT = 1 << 16;

function createQueues<const N extends readonly string[]>(tmp: TempDir, names: N): { -readonly [K in keyof N]: string } {
  return names.map((n) => createQueue(tmp.join(n), { segmentSize: SEGMENT, preallocate: false })) as { -readonly [K in keyof N]: string };
}

/** The record index a bus-writer child (or `appendIndexed`) put in the payload. */
function indexOf(m: MessageView): number {
  return new DataView(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength).getUint32(0, true);
}

function appendIndexed(writer: QueueWriter, i: number, ts: bigint): void {
  const payload = new Uint8Array(8);
  new DataView(payload.buffer).setUint32(0, i, true);
  writer.append(1, payload, ts);
}

describe("FanInReader ordering", () => {
  test("three writer processes appending concurrently: merged by (timestampNs, sourceId), ties by source id", async () => {
    using tmp = new TempDir();
    const N = 3000;
    // Writer k uses timestamps BASE + i * (k + 1): interleaved, with many exact ties across sources.
    const dirs = createQueues(tmp, ["q0", "q1", "q2"]);
    const gate = tmp.join("go");
    await using w0 = spawnFixture("bus-writer.ts", [dirs[0]!, String(N), String(BASE), "1", "--gate", gate]);
    await using w1 = spawnFixture("bus-writer.ts", [dirs[1]!, String(N), String(BASE), "2", "--gate", gate]);
    await using w2 = spawnFixture("bus-writer.ts", [dirs[2]!, String(N), String(BASE), "3", "--gate", gate]);
    const writers = [w0, w1, w2];
    for (const w of writers) expect(await w.line()).toBe("ready");

    // Attach in an order unlike the directory names, so ties must follow the source id.
    const attachOrder = [2, 0, 1];
    {
      using live = new FanInReader();
      const writerOf = new Map<number, number>();
      for (const k of attachOrder) writerOf.set(live.addReader(Queue.openAnonymous(dirs[k]!)), k);
      writeFileSync(gate, "");
      // Read while the writers run: every record exactly once, in order within its source.
      const nextIndex = [0, 0, 0];
      for (let total = 0; total < 3 * N; ) {
        const m = live.next();
        if (m === null) {
          expect(await live.waitAsync({ timeoutMs: 10_000 })).toBe(true);
          continue;
        }
        const k = writerOf.get(m.sourceId)!;
        expect(indexOf(m.message)).toBe(nextIndex[k]!);
        expect(m.message.timestampNs).toBe(BASE + BigInt(nextIndex[k]! * (k + 1)));
        nextIndex[k]!++;
        total++;
      }
      expect(live.next()).toBeNull();
      expect(nextIndex).toEqual([N, N, N]);
    }
    for (const w of writers) {
      const r = await w.exit();
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.lines).toEqual([`done ${N}`]);
    }

    // With everything written, the merge is exactly the sorted order.
    using fan = new FanInReader();
    const ids = attachOrder.map((k) => fan.addReader(Queue.openAnonymous(dirs[k]!)));
    expect(ids).toEqual([0, 1, 2]);
    const expected: string[] = [];
    for (const [id, k] of attachOrder.entries()) for (let i = 0; i < N; i++) expected.push(`${BASE + BigInt(i * (k + 1))}/${id}/${i}`);
    expected.sort((a, b) => {
      const [ta, ia] = a.split("/") as [string, string];
      const [tb, ib] = b.split("/") as [string, string];
      return BigInt(ta) < BigInt(tb) ? -1 : BigInt(ta) > BigInt(tb) ? 1 : Number(ia) - Number(ib);
    });
    const merged = drain(fan, (m) => `${m.message.timestampNs}/${m.sourceId}/${indexOf(m.message)}`);
    expect(merged.length).toBe(3 * N);
    expect(merged).toEqual(expected);
  });

  test("source ids are stable and never reused: a removed source leaves a hole", () => {
    using tmp = new TempDir();
    const dirs = createQueues(tmp, ["a", "b", "c", "d"]);
    dirs.forEach((dir, k) => {
      using w = Queue.openPublisher(dir);
      appendIndexed(w, k, BASE + BigInt(k));
    });
    using fan = new FanInReader();
    const readers = dirs.map((d) => Queue.openAnonymous(d));
    expect([fan.addReader(readers[0]!), fan.addReader(readers[1]!), fan.addReader(readers[2]!)]).toEqual([0, 1, 2]);
    expect(() => fan.addReader(readers[0]!)).toThrow(InvalidArgument);

    fan.removeReader(1);
    expect(readers[1]!.isClosed).toBe(true);
    expect(fan.reader(1)).toBeUndefined();
    expect(() => fan.removeReader(1)).toThrow(InvalidArgument);
    expect(() => fan.commit(1)).toThrow(InvalidArgument);
    expect(fan.addReader(readers[3]!)).toBe(3);
    expect(fan.sourceIds).toEqual([0, 2, 3]);
    expect(fan.reader(3)).toBe(readers[3]);

    const seen = drain(fan, (m) => [m.sourceId, indexOf(m.message)]);
    expect(seen).toEqual([[0, 0], [2, 2], [3, 3]]);
  });
});

describe("FanInReader commits (FORMAT.md defect 9)", () => {
  test("commitAll then a crash: each source resumes at its first undelivered record, never past a read-ahead head", async () => {
    using tmp = new TempDir();
    const N = 200;
    const dirs = createQueues(tmp, ["q0", "q1", "q2"]);
    // q0 and q1 interleave; every q2 record is later than all of them, so after 100 deliveries
    // q2 has a record read ahead (its head) but nothing delivered.
    const tsOf = (k: number, i: number): bigint => (k === 2 ? BASE + 1_000_000n + BigInt(i) : BASE + BigInt(i * 2 + k));
    dirs.forEach((dir, k) => {
      using w = Queue.openPublisher(dir);
      for (let i = 0; i < N; i++) appendIndexed(w, i, tsOf(k, i));
    });

    await using consumer = spawnFixture("bus-fanin-consumer.ts", ["router", "100", ...dirs]);
    const last = JSON.parse(await consumer.line()) as number[];
    expect(last).toEqual([49, 49, -1]);
    await consumer.killAndWait();

    // The restarted router (same reader names) continues exactly where delivery stopped.
    using fan = new FanInReader();
    for (const dir of dirs) fan.addReader(Queue.openSubscriber(dir, "router"));
    const rest = drain(fan, (m) => `${m.sourceId}/${indexOf(m.message)}`);
    const expected: string[] = [];
    for (let i = 50; i < N; i++) expected.push(`0/${i}`, `1/${i}`);
    for (let i = 0; i < N; i++) expected.push(`2/${i}`);
    expect(rest).toEqual(expected);
  });

  test("commit(sourceId) persists only that source, up to its last delivered record", () => {
    using tmp = new TempDir();
    const dirs = createQueues(tmp, ["q0", "q1"]);
    dirs.forEach((dir, k) => {
      using w = Queue.openPublisher(dir);
      for (let i = 0; i < 10; i++) appendIndexed(w, i, BASE + BigInt(i * 2 + k));
    });
    {
      using fan = new FanInReader();
      const a = fan.addReader(Queue.openSubscriber(dirs[0]!, "r"));
      const b = fan.addReader(Queue.openSubscriber(dirs[1]!, "r"));
      const order: string[] = [];
      for (let n = 0; n < 6; n++) {
        const m = fan.next()!;
        order.push(`${m.sourceId}/${indexOf(m.message)}`);
      }
      expect(order).toEqual([`${a}/0`, `${b}/0`, `${a}/1`, `${b}/1`, `${a}/2`, `${b}/2`]);
      // Delivering b/2 meant reading a/3 ahead to compare timestamps: a's reader is past a/3.
      fan.commit(a);
    }
    {
      using r0 = Queue.openSubscriber(dirs[0]!, "r");
      using r1 = Queue.openSubscriber(dirs[1]!, "r");
      expect(indexOf(r0.next()!)).toBe(3);
      expect(indexOf(r1.next()!)).toBe(0);
    }
  });

  test("commitAll with nothing delivered keeps every source at its start", () => {
    using tmp = new TempDir();
    const [dir] = createQueues(tmp, ["q"]);
    {
      using w = Queue.openPublisher(dir);
      for (let i = 0; i < 3; i++) appendIndexed(w, i, BASE + BigInt(i));
    }
    {
      using fan = new FanInReader();
      fan.addReader(Queue.openSubscriber(dir, "r"));
      expect(fan.hasNext()).toBe(true);
      fan.commitAll();
    }
    using again = Queue.openSubscriber(dir, "r");
    expect(indexOf(again.next()!)).toBe(0);
  });
});

describe("FanInReader resources", () => {
  test("removeReader releases the source's fds and mappings; removing all returns to the baseline", async () => {
    using tmp = new TempDir();
    const dirs = createQueues(tmp, ["q0", "q1", "q2"]);
    dirs.forEach((dir, k) => {
      using w = Queue.openPublisher(dir, { preallocate: false });
      // Enough records to roll into a second segment, so the readers have moved their mapping.
      for (let i = 0; i < 700; i++) appendIndexed(w, i, BASE + BigInt(i * 3 + k));
    });
    expect(await eventually(() => fdsUnder(tmp.path), (n) => n === 0, 5000, 20)).toBe(0);
    // Released helper threads are parked for the next waiter: park one first, so the fan-in
    // below reuses it and the process's fd count must come back exactly.
    {
      using warm = new FanInReader();
      warm.addReader(Queue.openAnonymous(dirs[0]!, { start: "latest" }));
      expect(await warm.waitAsync({ timeoutMs: 1 })).toBe(false);
    }
    const baselineFds = fdCount();
    expect(mapsUnder(tmp.path)).toBe(0);

    const fan = new FanInReader();
    const ids = dirs.map((d) => fan.addReader(Queue.openSubscriber(d, "router")));
    let delivered = 0;
    while (fan.next() !== null) delivered++;
    expect(delivered).toBe(2100);
    // Start the async wait machinery too (its helper thread), then let it time out.
    expect(await fan.waitAsync({ timeoutMs: 50 })).toBe(false);
    fan.commitAll();
    for (const d of dirs) {
      expect(fdsUnder(d)).toBeGreaterThan(0);
      expect(mapsUnder(d)).toBeGreaterThan(0);
    }

    fan.removeReader(ids[1]!);
    expect(fdsUnder(dirs[1]!)).toBe(0);
    expect(mapsUnder(dirs[1]!)).toBe(0);
    expect(fdsUnder(dirs[0]!)).toBeGreaterThan(0);
    expect(mapsUnder(dirs[2]!)).toBeGreaterThan(0);

    fan.removeReader(ids[0]!);
    fan.removeReader(ids[2]!);
    expect(fan.sourceIds).toEqual([]);
    expect(fdsUnder(tmp.path)).toBe(0);
    expect(mapsUnder(tmp.path)).toBe(0);
    // The fan-in's one helper thread is parked again when the fan-in is closed.
    fan.close();
    expect(await eventually(fdCount, (n) => n === baselineFds, 5000, 20)).toBe(baselineFds);
  }, 30_000);

  test("close() closes every source and later calls throw ClosedError", () => {
    using tmp = new TempDir();
    const dirs = createQueues(tmp, ["q0", "q1"]);
    const fan = new FanInReader();
    const readers = dirs.map((d) => Queue.openAnonymous(d));
    for (const r of readers) fan.addReader(r);
    fan.close();
    expect(readers.every((r) => r.isClosed)).toBe(true);
    expect(fdsUnder(tmp.path)).toBe(0);
    expect(() => fan.next()).toThrow(ClosedError);
    fan.close();
  });

  test("addReader refuses what is not an open QueueReader, and a reader attached twice", () => {
    using tmp = new TempDir();
    const [dir] = createQueues(tmp, ["q"]);
    using fan = new FanInReader();
    expect(() => fan.addReader({} as unknown as QueueReader)).toThrow(InvalidArgument);
    expect(() => fan.addReader(null as unknown as QueueReader)).toThrow(InvalidArgument);
    const closed = Queue.openAnonymous(dir);
    closed.close();
    expect(() => fan.addReader(closed)).toThrow(ClosedError);
    const r = Queue.openAnonymous(dir);
    fan.addReader(r);
    expect(() => fan.addReader(r)).toThrow(InvalidArgument);
    expect(fan.sourceIds).toEqual([0]);
  });
});

describe("FanInReader waiting", () => {
  test("wait() sleeps until another process appends to any one of the sources; times out when none does", async () => {
    using tmp = new TempDir();
    const dirs = createQueues(tmp, ["q0", "q1", "q2"]);
    using fan = new FanInReader();
    const ids = dirs.map((d) => fan.addReader(Queue.openAnonymous(d)));

    const t0 = performance.now();
    expect(fan.wait(200)).toBe(false);
    expect(performance.now() - t0).toBeLessThan(10_000);

    for (const k of [2, 0, 1]) {
      await using child = spawnFixture("bus-writer.ts", [dirs[k]!, "1", String(BASE + BigInt(k)), "1", "--delay", "300"]);
      expect(await child.line()).toBe("ready");
      expect(fan.wait(10_000)).toBe(true);
      const m = fan.next()!;
      expect(m.sourceId).toBe(ids[k]!);
      expect(m.message.timestampNs).toBe(BASE + BigInt(k));
      expect(fan.next()).toBeNull();
      expect((await child.exit()).code).toBe(0);
    }
  });

  test("waitAsync uses one helper thread for all sources, follows sources added and removed while it sleeps, and reports a source closed under it", async () => {
    using tmp = new TempDir();
    const dirs = createQueues(tmp, ["q0", "q1", "q2", "q3", "q4", "q5", "q6", "q7", "late"]);
    using fan = new FanInReader();
    const ids = dirs.slice(0, 8).map((d) => fan.addReader(Queue.openAnonymous(d)));
    const before = threadCount();
    expect(await fan.waitAsync({ timeoutMs: 30 })).toBe(false);
    // One thread for eight sources (a helper per source would add eight).
    expect(threadCount() - before).toBeLessThanOrEqual(2);

    // A source added while the wait sleeps is watched: another process appends to it.
    const waiting = fan.waitAsync({ timeoutMs: 10_000 });
    await Bun.sleep(30);
    const late = fan.addReader(Queue.openAnonymous(dirs[8]!));
    await using child = spawnFixture("bus-writer.ts", [dirs[8]!, "1", String(BASE), "1", "--delay", "50"]);
    expect(await within(waiting, "wait on a source added meanwhile")).toBe(true);
    expect(fan.next()!.sourceId).toBe(late);
    await within(child.until((l) => l.startsWith("done ")), "writer done");

    // Removing a source under a pending wait releases it at once; the wait goes on with the rest.
    const next = fan.waitAsync({ timeoutMs: 10_000 });
    await Bun.sleep(30);
    fan.removeReader(ids[0]!);
    expect(fdsUnder(dirs[0]!)).toBe(0);
    expect(mapsUnder(dirs[0]!)).toBe(0);
    await using other = spawnFixture("bus-writer.ts", [dirs[5]!, "1", String(BASE), "1", "--delay", "50"]);
    expect(await within(next, "wait after a removal")).toBe(true);
    expect(fan.next()!.sourceId).toBe(ids[5]!);
    await within(other.until((l) => l.startsWith("done ")), "writer done");

    // Closing a source's reader behind the fan-in's back under a pending wait: an error, not a crash.
    const doomed = fan.waitAsync({ timeoutMs: 10_000 });
    await Bun.sleep(30);
    fan.reader(ids[3]!)!.close();
    expect(await within(settled(doomed), "wait on a closed source")).toBeInstanceOf(ClosedError);
  }, 30_000);

  test("waitAsync() and for-await wake on an append in any source without blocking the event loop", async () => {
    using tmp = new TempDir();
    const dirs = createQueues(tmp, ["q0", "q1", "q2"]);
    const writers = dirs.map((d) => Queue.openPublisher(d));
    try {
      using fan = new FanInReader();
      const ids = dirs.map((d) => fan.addReader(Queue.openAnonymous(d)));

      expect(await fan.waitAsync({ timeoutMs: 100 })).toBe(false);
      const abort = new AbortController();
      const aborted = fan.waitAsync({ signal: abort.signal });
      abort.abort(new Error("stop"));
      // Not expect().rejects: it can wait on the promise without delivering the helper threads' messages.
      expect(String(await aborted.catch((e: unknown) => e))).toBe("Error: stop");

      // The appends come from timers: they only run if the waits leave the event loop free.
      for (const k of [1, 2, 0]) {
        setTimeout(() => appendIndexed(writers[k]!, k, BASE + BigInt(k)), 100);
        expect(await fan.waitAsync({ timeoutMs: 10_000 })).toBe(true);
        expect(fan.next()!.sourceId).toBe(ids[k]!);
      }

      let i = 10;
      const timer = setInterval(() => {
        const k = i % 3;
        appendIndexed(writers[k]!, i++, BASE + 100n + BigInt(i));
      }, 20);
      const got: number[] = [];
      for await (const m of fan) {
        got.push(m.sourceId);
        if (got.length === 6) break;
      }
      clearInterval(timer);
      expect(got).toEqual([ids[1]!, ids[2]!, ids[0]!, ids[1]!, ids[2]!, ids[0]!]);
    } finally {
      for (const w of writers) w.close();
    }
  });
});
