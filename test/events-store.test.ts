import { describe, expect, test } from "bun:test";
import { closeSync, openSync, readSync, readdirSync, writeSync } from "node:fs";
import { join } from "node:path";
import {
  CorruptRecord, EventEncodingFailed, EventStore, InvalidArgument, MAX_STREAM_ID_BYTES, PayloadTooLarge, VersionConflict,
  type AppendWrite, type EventCodec,
} from "../src/events/index.ts";
import { BATCH_TYPE_ID } from "../src/events/layout.ts";
import { Queue } from "../src/index.ts";
import { SEGMENT_HEADER_SIZE, SEQ_OFF, segmentFileName } from "../src/queue/layout/index.ts";
import { thrown } from "./helpers/errors.ts";
import { runToEnd } from "./helpers/spawn.ts";
import { TempDir } from "./helpers/tmp.ts";

const ev = (type: string, data: unknown, metadata?: unknown) => (metadata === undefined ? { type, data } : { type, data, metadata });

/** Every event of the store, read straight from its log with a plain queue reader. */
function logEvents(store: EventStore): { stream: string; version: number; globalSeq: number }[] {
  using r = Queue.openAnonymous(store.logDir, { start: "earliest" });
  const out: { stream: string; version: number; globalSeq: number }[] = [];
  for (let m = r.next(); m !== null; m = r.next()) for (const e of store.decode(m)) out.push({ stream: e.stream, version: e.version, globalSeq: e.globalSeq });
  return out;
}

describe("event store: append and readStream", () => {
  test("events get 1-based versions per stream and a globalSeq across the store; reads return them with the version", () => {
    using tmp = new TempDir();
    using store = EventStore.open(tmp.path);
    const r1 = store.append([
      { stream: "a", expected: "no_stream", events: [ev("created", { n: 1 })] },
      { stream: "b", expected: "any", events: [ev("x", 2, { who: "me" }), ev("y", [3])] },
    ]);
    expect(r1.events.map((e) => [e.stream, e.version, e.globalSeq])).toEqual([["a", 1, 1], ["b", 1, 2], ["b", 2, 3]]);
    expect(r1.lastGlobalSeq).toBe(3);
    store.append([{ stream: "a", expected: 1, events: [ev("updated", { n: 2 })] }]);
    const a = store.readStream("a");
    expect(a.version).toBe(2);
    expect(a.events.map((e) => ({ v: e.version, g: e.globalSeq, t: e.type, d: e.data }))).toEqual([
      { v: 1, g: 1, t: "created", d: { n: 1 } },
      { v: 2, g: 4, t: "updated", d: { n: 2 } },
    ]);
    const b = store.readStream("b");
    expect(b.events[0]!.metadata).toEqual({ who: "me" });
    expect("metadata" in b.events[1]!).toBe(false);
    expect(b.events[0]!.timestampNs).toBe(b.events[1]!.timestampNs);
    expect(typeof b.events[0]!.timestampNs).toBe("bigint");
    expect(store.readStream("nothing")).toEqual({ stream: "nothing", version: 0, events: [] });
  });

  test("fromVersion skips earlier events, across batches", () => {
    using tmp = new TempDir();
    using store = EventStore.open(tmp.path);
    for (let i = 0; i < 10; i++) store.append([{ stream: "s", expected: 2 * i, events: [ev("e", i), ev("e", i + 0.5)] }]);
    const r = store.readStream<number>("s", { fromVersion: 8 });
    expect(r.version).toBe(20);
    expect(r.events.map((e) => [e.version, e.data])).toEqual([[8, 3.5], [9, 4], [10, 4.5], [11, 5], [12, 5.5], [13, 6], [14, 6.5], [15, 7], [16, 7.5], [17, 8], [18, 8.5], [19, 9], [20, 9.5]]);
    expect(store.readStream("s", { fromVersion: 21 }).events).toEqual([]);
    expect(thrown(() => store.readStream("s", { fromVersion: 0 }))).toBeInstanceOf(InvalidArgument);
  });

  test("stream ids are data: slashes, dots, NUL, emoji and the longest allowed id are all one stream each, no file is named after them", () => {
    using tmp = new TempDir();
    using store = EventStore.open(tmp.path);
    const ids = ["../../etc/passwd", ".", "a/b", "nul\0inside", "🙂 order", "x".repeat(MAX_STREAM_ID_BYTES), "__proto__"];
    for (const id of ids) store.append([{ stream: id, expected: "no_stream", events: [ev("e", id)] }]);
    for (const id of ids) expect(store.readStream(id).events.map((e) => e.data)).toEqual([id]);
    expect(readdirSync(tmp.path).sort()).toEqual(["lease", "log"]);
  });

  test("every expected form: any, no_stream, exists and an exact version, each passing and failing", () => {
    using tmp = new TempDir();
    using store = EventStore.open(tmp.path);
    const one = (expected: AppendWrite["expected"]) => () => store.append([{ stream: "s", expected, events: [ev("e", 0)] }]);
    expect((thrown(one("exists")) as VersionConflict).conflicts).toEqual([{ stream: "s", expected: "exists", actual: 0 }]);
    expect((thrown(one(3)) as VersionConflict).conflicts).toEqual([{ stream: "s", expected: 3, actual: 0 }]);
    one(0)();
    expect((thrown(one("no_stream")) as VersionConflict).conflicts).toEqual([{ stream: "s", expected: "no_stream", actual: 1 }]);
    expect((thrown(one(0)) as VersionConflict).conflicts).toEqual([{ stream: "s", expected: 0, actual: 1 }]);
    one("exists")();
    one(2)();
    one("any")();
    expect(store.readStream("s").version).toBe(4);
    expect(logEvents(store).length).toBe(4);
  });

  test("a multi-stream append whose second expectation fails writes nothing to the first stream; the conflict names each failing stream", () => {
    using tmp = new TempDir();
    using store = EventStore.open(tmp.path);
    store.append([{ stream: "b", expected: "any", events: [ev("e", 1)] }, { stream: "c", expected: "any", events: [ev("e", 1)] }]);
    const e = thrown(() => store.append([
      { stream: "a", expected: "no_stream", events: [ev("e", 2)] },
      { stream: "b", expected: "no_stream", events: [ev("e", 2)] },
      { stream: "c", expected: 7, events: [] },
    ]));
    expect(e).toBeInstanceOf(VersionConflict);
    expect((e as VersionConflict).conflicts).toEqual([{ stream: "b", expected: "no_stream", actual: 1 }, { stream: "c", expected: 7, actual: 1 }]);
    expect((e as VersionConflict).path).toBe(tmp.path);
    expect(store.readStream("a").version).toBe(0);
    expect(logEvents(store).length).toBe(2);
  });

  test("a write with no events only checks its stream: it passes or conflicts, and adds nothing to it", () => {
    using tmp = new TempDir();
    using store = EventStore.open(tmp.path);
    store.append([{ stream: "ro", expected: "any", events: [ev("e", 1)] }]);
    store.append([{ stream: "ro", expected: 1, events: [] }, { stream: "w", expected: "any", events: [ev("e", 1)] }]);
    expect(thrown(() => store.append([{ stream: "ro", expected: 0, events: [] }, { stream: "w", expected: "any", events: [ev("e", 2)] }]))).toBeInstanceOf(VersionConflict);
    expect(store.readStream("ro").version).toBe(1);
    expect(store.readStream("w").version).toBe(1);
  });
});

describe("event store: bad input is a typed error and writes nothing", () => {
  const cases: [string, unknown, new (...a: never[]) => Error][] = [
    ["not an array", "nope", InvalidArgument],
    ["empty writes", [], InvalidArgument],
    ["no event at all", [{ stream: "s", expected: "any", events: [] }], InvalidArgument],
    ["a non-string id", [{ stream: 42, expected: "any", events: [ev("e", 1)] }], InvalidArgument],
    ["an empty id", [{ stream: "", expected: "any", events: [ev("e", 1)] }], InvalidArgument],
    ["an id one byte too long", [{ stream: "é".repeat(MAX_STREAM_ID_BYTES / 2) + "x", expected: "any", events: [ev("e", 1)] }], InvalidArgument],
    ["an id with a lone surrogate", [{ stream: "a\ud800", expected: "any", events: [ev("e", 1)] }], InvalidArgument],
    ["a stream twice", [{ stream: "s", expected: "any", events: [ev("e", 1)] }, { stream: "s", expected: "any", events: [ev("e", 1)] }], InvalidArgument],
    ["a bad expected", [{ stream: "s", expected: "maybe", events: [ev("e", 1)] }], InvalidArgument],
    ["a negative expected version", [{ stream: "s", expected: -1, events: [ev("e", 1)] }], InvalidArgument],
    ["a fractional expected version", [{ stream: "s", expected: 1.5, events: [ev("e", 1)] }], InvalidArgument],
    ["events not an array", [{ stream: "s", expected: "any", events: {} }], InvalidArgument],
    ["an event that is not an object", [{ stream: "s", expected: "any", events: [7] }], InvalidArgument],
    ["an event without a type", [{ stream: "s", expected: "any", events: [{ data: 1 }] }], InvalidArgument],
    ["a BigInt in the data", [{ stream: "s", expected: "any", events: [ev("e", 1), ev("e", { n: 1n })] }], EventEncodingFailed],
    ["undefined data", [{ stream: "s", expected: "any", events: [ev("e", undefined)] }], EventEncodingFailed],
    ["a function as data", [{ stream: "s", expected: "any", events: [ev("e", () => 1)] }], EventEncodingFailed],
    ["cyclic metadata", [{ stream: "s", expected: "any", events: [ev("e", 1, (() => { const o: Record<string, unknown> = {}; o.self = o; return o; })())] }], EventEncodingFailed],
  ];
  for (const [name, writes, type] of cases) {
    test(name, () => {
      using tmp = new TempDir();
      using store = EventStore.open(tmp.path);
      store.append([{ stream: "other", expected: "any", events: [ev("e", 0)] }]);
      const e = thrown(() => store.append(writes as AppendWrite[]));
      expect(e).toBeInstanceOf(type);
      expect((e as InvalidArgument).path).toBe(tmp.path);
      expect(logEvents(store)).toEqual([{ stream: "other", version: 1, globalSeq: 1 }]);
      // The store still works after the refusal.
      store.append([{ stream: "s", expected: "no_stream", events: [ev("e", 1)] }]);
      expect(store.readStream("s").version).toBe(1);
    });
  }

  test("an append larger than one log segment is PayloadTooLarge, with nothing written", () => {
    using tmp = new TempDir();
    using store = EventStore.open(tmp.path, { segmentSize: 1 << 16 });
    expect(store.maxAppendBytes).toBeLessThan(1 << 16);
    const e = thrown(() => store.append([{ stream: "s", expected: "any", events: [ev("big", "x".repeat(1 << 16))] }]));
    expect(e).toBeInstanceOf(PayloadTooLarge);
    expect(store.readStream("s").version).toBe(0);
    expect(logEvents(store)).toEqual([]);
  });

  test("a codec returning something other than bytes is EventEncodingFailed naming the stream and event", () => {
    using tmp = new TempDir();
    const bad: EventCodec = { name: "bad", encode: () => "text" as unknown as Uint8Array, decode: () => null };
    using store = EventStore.open(tmp.path, { codec: bad });
    const e = thrown(() => store.append([{ stream: "s", expected: "any", events: [ev("e", 1)] }])) as EventEncodingFailed;
    expect(e).toBeInstanceOf(EventEncodingFailed);
    expect([e.stream, e.index]).toEqual(["s", 0]);
  });
});

describe("event store: the log and the index", () => {
  test("the log is an ordinary chronicle queue: one record per append holding all its events", () => {
    using tmp = new TempDir();
    using store = EventStore.open(tmp.path);
    store.append([{ stream: "a", expected: "any", events: [ev("e", 1)] }, { stream: "b", expected: "any", events: [ev("e", 2), ev("e", 3)] }]);
    store.append([{ stream: "a", expected: "any", events: [ev("e", 4)] }]);
    using r = Queue.openAnonymous(join(tmp.path, "log"), { start: "earliest" });
    const records: string[][] = [];
    for (const m of r) records.push(store.decode(m).map((e) => `${e.stream}@${e.version}#${e.globalSeq}`));
    expect(records).toEqual([["a@1#1", "b@1#2", "b@2#3"], ["a@2#4"]]);
  });

  test("a reopened store rebuilds its index from the log, with the same reads; a custom codec round-trips", () => {
    using tmp = new TempDir();
    const codec: EventCodec = {
      name: "reversed-json",
      encode: (v) => new TextEncoder().encode(JSON.stringify(v)).reverse(),
      decode: (b) => JSON.parse(new TextDecoder().decode(b.slice().reverse())),
    };
    const before: unknown[] = [];
    {
      using store = EventStore.open(tmp.path, { codec, segmentSize: 1 << 16 });
      // Enough to roll the log over several 64 KiB segments.
      for (let i = 0; i < 300; i++) store.append([{ stream: `s${i % 7}`, expected: "any", events: [ev("e", { i, pad: "p".repeat(500) })] }]);
      for (let s = 0; s < 7; s++) before.push(store.readStream(`s${s}`));
    }
    using again = EventStore.open(tmp.path, { codec });
    expect(again.stats.batches).toBe(300);
    for (let s = 0; s < 7; s++) expect(again.readStream(`s${s}`)).toEqual(before[s] as never);
  });

  test("a store sees appends made through another store of the same root", () => {
    using tmp = new TempDir();
    using a = EventStore.open(tmp.path);
    using b = EventStore.open(tmp.path);
    a.append([{ stream: "s", expected: "no_stream", events: [ev("e", 1)] }]);
    expect(b.readStream("s").version).toBe(1);
    expect(thrown(() => b.append([{ stream: "s", expected: "no_stream", events: [ev("e", 2)] }]))).toBeInstanceOf(VersionConflict);
    b.append([{ stream: "s", expected: 1, events: [ev("e", 2)] }]);
    expect(a.readStream("s").events.map((e) => e.data)).toEqual([1, 2]);
  });

  test("an index entry that no longer matches the log is never trusted: the index is rebuilt from the log", () => {
    using tmp = new TempDir();
    using store = EventStore.open(tmp.path, { segmentSize: 1 << 16 });
    for (let i = 0; i < 200; i++) store.append([{ stream: `s${i % 2}`, expected: "any", events: [ev("e", { i, pad: "p".repeat(400) })] }]);
    const expected = store.readStream("s0");
    const seg0 = join(tmp.path, "log", segmentFileName(0));
    const at = SEGMENT_HEADER_SIZE + SEQ_OFF;
    const fd = openSync(seg0, "r+");
    try {
      // The first record's seq changes under the built index (as if the log were restored from
      // another copy): the entry naming it no longer matches, so the store derives it again.
      const seq = Buffer.alloc(4);
      readSync(fd, seq, 0, 4, at);
      writeSync(fd, Buffer.from(new Uint32Array([seq.readUInt32LE(0) + 1000]).buffer), 0, 4, at);
      expect(store.readStream("s0")).toEqual(expected);
      expect(store.stats.rebuilds).toBe(1);
      writeSync(fd, seq, 0, 4, at);
      expect(store.readStream("s0")).toEqual(expected);
      expect(store.stats.rebuilds).toBe(2);
      expect(store.readStream("s1").version).toBe(100);
      expect(store.stats.rebuilds).toBe(2);
    } finally {
      closeSync(fd);
    }
  });
});

describe("event store: a log record that is not a batch", () => {
  test("is a CorruptRecord at every read and every poll, never skipped; a store opened on it refuses to open", () => {
    using tmp = new TempDir();
    {
      using first = EventStore.open(tmp.path);
      first.append([{ stream: "a", expected: "any", events: [ev("e", 1)] }]);
    }
    // The log exists: this store does not take the writer until it appends.
    using store = EventStore.open(tmp.path);
    expect(store.readStream("a").version).toBe(1);
    using sub = store.subscribe("p");
    expect(sub.poll()!.data).toBe(1);
    {
      using writer = Queue.openPublisher(join(tmp.path, "log"));
      writer.append(1, new TextEncoder().encode("not a batch"));
    }
    for (let i = 0; i < 2; i++) {
      expect(() => store.readStream("a")).toThrow(CorruptRecord);
      expect(() => sub.poll()).toThrow(CorruptRecord);
    }
    expect(() => EventStore.open(tmp.path)).toThrow(CorruptRecord);
  });
});

describe("event store: projections", () => {
  test("subscribe delivers every event in globalSeq order; a reopened subscription resumes after the last committed batch", () => {
    using tmp = new TempDir();
    using store = EventStore.open(tmp.path);
    store.append([{ stream: "a", expected: "any", events: [ev("e", 1)] }, { stream: "b", expected: "any", events: [ev("e", 2)] }]);
    store.append([{ stream: "a", expected: "any", events: [ev("e", 3)] }]);
    {
      using sub = store.subscribe("positions");
      const seen: number[] = [];
      expect(sub.drain((e) => seen.push(e.globalSeq))).toBe(3);
      expect(seen).toEqual([1, 2, 3]);
      sub.commit();
    }
    store.append([{ stream: "b", expected: "any", events: [ev("e", 4), ev("e", 5)] }]);
    using again = store.subscribe("positions");
    const later: unknown[] = [];
    again.drain((e) => later.push([e.stream, e.version, e.data]));
    expect(later).toEqual([["b", 2, 4], ["b", 3, 5]]);
  });

  test("a commit part-way through a batch persists the batch's start: after a restart the whole batch comes again", () => {
    using tmp = new TempDir();
    using store = EventStore.open(tmp.path);
    store.append([{ stream: "a", expected: "any", events: [ev("e", 1)] }]);
    store.append([{ stream: "a", expected: "any", events: [ev("e", 2), ev("e", 3)] }, { stream: "b", expected: "any", events: [ev("e", 4)] }]);
    {
      using sub = store.subscribe("p");
      expect(sub.poll()!.globalSeq).toBe(1);
      expect(sub.poll()!.globalSeq).toBe(2);
      sub.commit();
    }
    using again = store.subscribe("p");
    const seen: number[] = [];
    again.drain((e) => seen.push(e.globalSeq));
    expect(seen).toEqual([2, 3, 4]);
  });

  test("for await on a subscription receives a batch appended while it waits", async () => {
    using tmp = new TempDir();
    using store = EventStore.open(tmp.path);
    using sub = store.subscribe("live", { start: "latest" });
    setTimeout(() => store.append([{ stream: "a", expected: "any", events: [ev("late", 1)] }, { stream: "b", expected: "any", events: [ev("late", 2)] }]), 20);
    const got: string[] = [];
    for await (const e of sub) {
      got.push(`${e.stream}:${e.type}`);
      if (got.length === 2) break;
    }
    expect(got).toEqual(["a:late", "b:late"]);
  });

  test("chronicle tail shows the store's log: one record per append, of the batch type", async () => {
    using tmp = new TempDir();
    {
      using store = EventStore.open(tmp.path);
      store.append([{ stream: "a", expected: "any", events: [ev("e", 1)] }, { stream: "b", expected: "any", events: [ev("e", 2)] }]);
      store.append([{ stream: "a", expected: "any", events: [ev("e", 3)] }]);
    }
    const r = await runToEnd(["bun", join(import.meta.dir, "..", "cli", "main.ts"), "tail", join(tmp.path, "log"), "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as { seq: number; typeId: number });
    expect(lines.map((l) => [l.seq, l.typeId])).toEqual([[0, BATCH_TYPE_ID], [1, BATCH_TYPE_ID]]);
  });
});
